"""Deliver the outbox: paced per channel, retried with backoff, never lost.

Replies are written to the outbox in the same transaction as the answer they follow, so
the sender only ever delivers what was committed. Each row is claimed (SKIP LOCKED on
PostgreSQL) before sending, so two senders never deliver the same message.

A sender can die at any moment, kill -9 included, so each claim names its sender
(`Sender.identity`), and the start of each send is committed just before the request
(`begin_send`). The next leader (`Sender.recover`) can then put back at once every claim
the dead sender never began, and ask the provider about the one send it had in flight.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.services.privacy import erase_after, finish_erasure
from channels.base import Channel, Choice, OutboundMessage, SendError
from channels.local import SandboxChannel
from storage.repositories.outreach import NO_PROVIDER
from storage.repositories.sandbox import SandboxRepository
from storage.uow import UnitOfWork
from storage.vault import ContactVault

log = logging.getLogger(__name__)

BASE_BACKOFF = 2.0  # seconds; doubled per attempt, with jitter
MAX_BACKOFF = 15 * 60.0


class Pacer:
    """A token bucket per key: at most `rate` sends per second, no bursts beyond `burst`.

    The clock and sleep are injected so tests can run hours of sending in simulated time.
    """

    def __init__(self, rate: float, clock: Callable[[], float],
                 sleep: Callable[[float], None], burst: float = 1.0) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self._tokens: dict[str, float] = {}
        self._stamp: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, key: str = "") -> None:
        while (delay := self.reserve(key)) > 0:
            self.sleep(delay)

    def reserve(self, key: str = "") -> float:
        """Take a token if one is free and return 0; otherwise take nothing and return
        how many seconds until one will be, so the caller can do other work meanwhile."""
        with self._lock:
            now = self.clock()
            tokens = self._tokens.get(key, self.burst)
            tokens = min(self.burst, tokens + (now - self._stamp.get(key, now)) * self.rate)
            self._stamp[key] = now
            if tokens >= 1.0 - 1e-9:  # float error must not stall a simulated clock
                self._tokens[key] = tokens - 1.0
                return 0.0
            self._tokens[key] = tokens
            return (1.0 - tokens) / self.rate


def backoff(attempt: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter, so a provider outage doesn't cause a stampede."""
    ceiling = min(MAX_BACKOFF, BASE_BACKOFF * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + rng.random() * ceiling / 2


def to_outbound(payload: Mapping[str, object]) -> OutboundMessage:
    choices = payload.get("choices") or []
    assert isinstance(choices, list)
    return OutboundMessage(
        text=str(payload.get("text", "")),
        choices=tuple(Choice(str(p), str(label)) for p, label in choices),
        multiple=bool(payload.get("multiple")),
        business_initiated=bool(payload.get("business_initiated")),
        language=str(payload["language"]) if payload.get("language") else None,
    )


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    held: int = 0
    deferred: int = 0  # set aside until later in the pass by per-chat pacing


@dataclass
class Recovery:
    """What `Sender.recover` did with other senders' unfinished claims."""

    released: int = 0  # claimed, never begun: put back
    confirmed: int = 0  # begun; the provider has it: recorded as sent
    resent: int = 0  # begun; the provider hasn't it, or can't say: put back to send again
    unsettled: int = 0  # begun; the provider could not be asked just now: next time
    #: Of `resent`, those whose provider cannot be asked (Telegram): they may arrive twice.
    unasked: list[int] = field(default_factory=list)


def new_identity() -> str:
    """Names this sender on the rows it claims: host, process and a random part (a pid
    can be reused by the next process on the same host)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class Sender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        vault: ContactVault,
        channels: Mapping[str, Channel],
        clock: Callable[[], datetime],
        pacers: Mapping[str, Pacer] | None = None,
        max_attempts: int = 8,
        rng: random.Random | None = None,
        concurrency: int = 1,
    ) -> None:
        self.sessions = sessions
        self.vault = vault
        self.channels = dict(channels)
        self.clock = clock
        self.pacers = dict(pacers or {})
        self.max_attempts = max_attempts
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.identity = new_identity()
        #: Sends in flight at once, never two for one person (see _deliver_concurrently).
        self.concurrency = max(1, concurrency)
        self._pool: ThreadPoolExecutor | None = None
        # Rows this sender claimed whose outcome is not committed yet: None = not sent,
        # a list = the provider accepted it with these ids. If a pass dies (database down,
        # bug), the next pass settles them, so nothing waits in 'sending' and nothing the
        # provider already has goes twice.
        self._inflight: dict[int, list[str] | None] = {}
        # ...of which these belong to a pass still running (in another thread: `withus
        # serve` delivers simulator replies while its scheduler thread sends): not settled.
        self._running: set[int] = set()
        self._inflight_lock = threading.Lock()

    def run_once(self, limit: int = 100, channel: str | None = None) -> SendReport:
        """Claim up to `limit` due messages and try to deliver each once."""
        report = SendReport()
        self.settle()
        claimed: list[tuple[int, str, str, dict[str, object], int]] = []
        try:
            with UnitOfWork(self.sessions, self.vault) as uow:
                claimed = [
                    (m.id, m.participant_id, m.channel, dict(m.payload), m.attempts)
                    for m in uow.outbox.claim_due(self.clock(), limit, channel, self.identity)
                ]
                self._track(row[0] for row in claimed)
                uow.commit()  # if this fails, the claims may still have been committed
            self._deliver_all(claimed, report)
        finally:
            self._end_pass(claimed)
        return report

    def _end_pass(self, claimed: list[tuple[int, str, str, dict[str, object], int]]) -> None:
        """Whatever of this pass is still in flight was interrupted: settle() takes it."""
        with self._inflight_lock:
            self._running.difference_update(row[0] for row in claimed)

    def _deliver_all(self, claimed: list[tuple[int, str, str, dict[str, object], int]],
                     report: SendReport) -> None:
        """Send a pass, in order within each chat. A chat that must wait (Telegram allows
        about one message a second in a chat) is set aside rather than slept on, so one
        person's second message never holds up everyone else's first; the set-aside
        messages then go round-robin, a chat's next each time its turn comes."""
        if self.concurrency > 1 and len({row[1] for row in claimed}) > 1:
            self._deliver_concurrently(claimed, report)
            return
        waiting: list[tuple[int, int, tuple[int, str, str, dict[str, object], int]]] = []
        in_chat: Counter[str] = Counter()
        for order, row in enumerate(claimed):
            pid, channel_name = row[1], row[2]
            chat_pacer = self.pacers.get(f"{channel_name}-chat")
            if chat_pacer and (in_chat[pid] or chat_pacer.reserve(pid) > 0):
                in_chat[pid] += 1
                waiting.append((in_chat[pid], order, row))
                report.deferred += 1
                continue
            self._deliver(*row, report=report)
        for _turn, _order, row in sorted(waiting):
            self.pacers[f"{row[2]}-chat"].wait(row[1])
            self._deliver(*row, report=report)

    def _deliver_concurrently(self, claimed: list[tuple[int, str, str, dict[str, object], int]],
                              report: SendReport) -> None:
        """Several people's messages at once, each person's in order, one at a time.

        A provider takes 100-300 ms to answer a send, so one send at a time stays far
        below its rate limit (pacers still hold each channel to it). One in flight per
        person keeps their messages in order, and lets `recover` tell which message a
        provider's record of a send to that person belongs to.
        """
        people: dict[str, list[tuple[int, str, str, dict[str, object], int]]] = {}
        for row in claimed:
            people.setdefault(row[1], []).append(row)

        def one_person(rows: list[tuple[int, str, str, dict[str, object], int]]) -> SendReport:
            mine = SendReport()
            for row in rows:
                chat_pacer = self.pacers.get(f"{row[2]}-chat")
                if chat_pacer:
                    chat_pacer.wait(row[1])
                self._deliver(*row, report=mine)
            return mine

        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="withus-send")
        futures = [self._pool.submit(one_person, rows) for rows in people.values()]
        failure: Exception | None = None
        for future in futures:  # wait for all, so no send is in flight when this returns
            try:
                done = future.result()
            except Exception as exc:  # e.g. the database went away: settle() on the next pass
                failure = failure or exc
                continue
            for name in ("sent", "retried", "dead", "held"):
                setattr(report, name, getattr(report, name) + getattr(done, name))
        if failure is not None:
            raise failure

    def _track(self, ids: Iterable[int]) -> None:
        with self._inflight_lock:
            for outbox_id in ids:
                self._inflight[outbox_id] = None
                self._running.add(outbox_id)

    def settle(self) -> None:
        """Finish what an interrupted pass left: record sends the provider accepted, and
        put back claims that were never sent."""
        with self._inflight_lock:
            left = {i: p for i, p in self._inflight.items() if i not in self._running}
        if not left:
            return
        now = self.clock()
        with UnitOfWork(self.sessions, self.vault) as uow:
            for outbox_id, provider_ids in left.items():
                if provider_ids is not None:
                    uow.outbox.mark_sent(outbox_id, provider_ids, now)
            uow.outbox.release_claims([i for i, p in left.items() if p is None], self.identity)
            uow.commit()
        with self._inflight_lock:
            for outbox_id in left:
                self._inflight.pop(outbox_id, None)
        log.warning("settled an interrupted send pass", extra={"rows": len(left)})

    def deliver(self, ids: list[int]) -> SendReport:
        """Deliver specific rows now (console and web simulator replies)."""
        report = SendReport()
        self.settle()
        claimed: list[tuple[int, str, str, dict[str, object], int]] = []
        try:
            with UnitOfWork(self.sessions, self.vault) as uow:
                claimed = [
                    (m.id, m.participant_id, m.channel, dict(m.payload), m.attempts)
                    for m in uow.outbox.claim_ids(ids, self.clock(), self.identity)
                ]
                self._track(row[0] for row in claimed)
                uow.commit()
            self._deliver_all(claimed, report)
        finally:
            self._end_pass(claimed)
        return report

    def recover(self, grace: timedelta = timedelta(0)) -> Recovery:
        """Settle claims other senders left in 'sending' (they died, or lost leadership).

        Claims never begun go back: the provider never saw them. For a send that began,
        the provider is asked whether it has
        it (`Channel.accepted_since`): if so it is recorded as sent; if not, or if the
        provider cannot be asked, it goes back to be sent (at least once, never lost).
        A new leader calls it with no `grace`: whoever held the lock before is gone. Run
        periodically, a grace spares claims and sends younger than that, which a live
        sender (a console, a deposed leader finishing its pass) may still complete.
        Call it from the sending thread, before it sends, so that no send of this
        sender's own is in flight while the provider's list is read.
        """
        recovery = Recovery()
        now = self.clock()
        with UnitOfWork(self.sessions, self.vault) as uow:
            recovery.released = uow.outbox.release_abandoned(self.identity, now - grace)
            uow.commit()
            for message in uow.outbox.interrupted_sends(self.identity, now - grace):
                pid, channel = message.participant_id, self.channels.get(message.channel)
                address = uow.vault.address(pid)
                try:
                    accepted = (channel.accepted_since(address, message.send_started_at or now,
                                                       uow.outbox.provider_ids_for(pid))
                                if channel is not None and address is not None else None)
                except SendError as exc:
                    log.warning("could not ask the provider about an interrupted send",
                                extra={"outbox_id": message.id, "reason": exc.reason[:200]})
                    recovery.unsettled += 1
                    continue
                if accepted:
                    uow.outbox.mark_sent(message.id, accepted, now)
                    if erase_after(message.payload):
                        finish_erasure(uow, pid, now)
                    recovery.confirmed += 1
                else:
                    uow.outbox.release_claims([message.id])
                    recovery.resent += 1
                    if accepted is None:
                        recovery.unasked.append(message.id)
            uow.commit()
        if recovery != Recovery():
            log.warning("recovered another sender's unfinished claims",
                        extra={"released": recovery.released, "confirmed": recovery.confirmed,
                               "resent": recovery.resent, "unsettled": recovery.unsettled,
                               # outbox ids: which messages may now arrive twice
                               "resent_unasked": recovery.unasked})
        return recovery

    def _deliver(self, outbox_id: int, pid: str, channel_name: str,
                 payload: dict[str, object], attempts: int, report: SendReport) -> None:
        channel = self.channels.get(channel_name)
        outcome = "held"
        pacer = self.pacers.get(channel_name) if channel is not None else None
        if pacer:
            pacer.wait()  # before the transaction, which stays short
        with UnitOfWork(self.sessions, self.vault) as uow:
            address = uow.vault.address(pid)
            participant = uow.participants.get(pid)
            if channel is None:
                uow.outbox.mark_held(outbox_id, NO_PROVIDER)
                report.held += 1
            elif address is None:
                uow.outbox.mark_dead(outbox_id, "no contact address (erased or expired)")
                report.dead += 1
                outcome = "dead"
            elif participant is not None and participant.opted_out_at is not None and not (
                payload.get("allow_opted_out")
            ):
                uow.outbox.mark_dead(outbox_id, "participant opted out")
                report.dead += 1
                outcome = "dead"
            else:
                if not uow.outbox.begin_send(outbox_id, self.identity, self.clock()):
                    # A new leader took the claim back (this sender was deposed): it sends.
                    uow.commit()
                    with self._inflight_lock:
                        self._inflight.pop(outbox_id, None)
                    return
                uow.commit()  # recorded before the request: see recover()
                outcome = self._attempt(uow, channel, outbox_id, pid, address, payload,
                                        attempts, report)
            if outcome in ("sent", "dead") and erase_after(payload):
                # The DELETE confirmation is out (or never will be): now erase, in the
                # same transaction, so the address is used for nothing else.
                finish_erasure(uow, pid, self.clock())
            uow.commit()
        with self._inflight_lock:
            self._inflight.pop(outbox_id, None)

    def _attempt(self, uow: UnitOfWork, channel: Channel, outbox_id: int, pid: str,
                 address: str, payload: dict[str, object], attempts: int,
                 report: SendReport) -> str:
        """Send once; what became of the row: "sent", "retry", "held" or "dead"."""
        now = self.clock()
        try:
            results = channel.send(address, to_outbound(payload))
        except SendError as exc:
            return self._failed(uow, exc, outbox_id, pid, attempts, now, report)
        except Exception as exc:  # a bug or library surprise: retry, never lose the message
            log.exception("send crashed", extra={"outbox_id": outbox_id})
            return self._failed(uow, SendError(type(exc).__name__), outbox_id, pid, attempts,
                                now, report)
        provider_ids = [r.provider_message_id for r in results]
        with self._inflight_lock:  # the provider has it now: never send it again
            if outbox_id in self._inflight:
                self._inflight[outbox_id] = provider_ids
        uow.outbox.mark_sent(outbox_id, provider_ids, now)
        if isinstance(channel, SandboxChannel):  # kept for the sandbox inbox, not sent
            shown = channel.shown(to_outbound(payload))
            SandboxRepository(uow.session).delivered(
                outbox_id, pid, channel.name,
                {**payload, "text": shown.text,
                 "choices": [[c.payload, c.label] for c in shown.choices]}, now)
        report.sent += 1
        log.info("outbound sent", extra={"outbox_id": outbox_id, "channel": channel.name,
                                         "participant": pid, "parts": len(results)})
        return "sent"

    def _failed(self, uow: UnitOfWork, exc: SendError, outbox_id: int, pid: str,
                attempts: int, now: datetime, report: SendReport) -> str:
        reason = exc.reason[:200]
        if exc.opted_out:
            uow.participants.set_opted_out(pid, now)
            uow.outbox.mark_dead(outbox_id, reason)
            report.dead += 1
            outcome = "dead"
        elif exc.window_closed:
            uow.outbox.mark_held(outbox_id, reason)  # released when they next write
            report.held += 1
            outcome = "held"
        elif exc.permanent or attempts + 1 >= self.max_attempts:
            uow.outbox.mark_dead(outbox_id, reason)
            report.dead += 1
            outcome = "dead"
        else:
            delay = exc.retry_after if exc.retry_after else backoff(attempts + 1, self.rng)
            uow.outbox.mark_retry(outbox_id, reason, now + timedelta(seconds=delay))
            report.retried += 1
            outcome = "retry"
        log.warning("outbound failed", extra={"outbox_id": outbox_id, "reason": reason,
                                              "participant": pid})
        return outcome
