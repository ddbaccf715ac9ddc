"""A sender that dies mid-pass: what it claimed goes back at once, and the one message it
had in flight is settled with the provider, so nothing is lost and (where the provider can
be asked) nothing is sent twice. Also: per-chat pacing never holds up other chats.

A dead sender is played by claiming rows under another identity with the repository, as
`Sender.run_once` does, and stopping where a kill -9 would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.services.clock import utcnow
from bot.services.runtime import Runtime
from bot.services.scheduler import Scheduler
from bot.services.sender import Pacer, Sender, to_outbound
from channels.base import InboundMessage
from channels.twilio import TwilioChannel
from storage.models import OutboxMessage, OutboxProviderId
from storage.uow import UnitOfWork
from tests.fakes import FakeTwilioAPI
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN
from tests.helpers import make_runtime
from tests.privacy import scan_database, scan_text
from tests.test_outreach import Recorder

PERSON = "+447700900123"  # Ofcom's drama range
OURS = "+447700900000"
DEAD = "dead-host:4242:0badf00d"  # the identity of a sender that was killed


@pytest.fixture
def twilio() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI() as api:
        yield api


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, twilio: FakeTwilioAPI) -> Iterator[Runtime]:
    # The real clock: the fake Twilio stamps messages with it, as Twilio would.
    sms = TwilioChannel("sms", ACCOUNT_SID, AUTH_TOKEN, "https://withus.example",
                        from_number=OURS, api_base_url=twilio.base_url)
    rt = make_runtime(database_url, tmp_path, clock=utcnow,
                      channels={"sms": sms, "telegram": Recorder("telegram")})
    yield rt
    rt.close()


def text_in(runtime: Runtime, text: str, address: str = PERSON, channel: str = "sms") -> None:
    runtime.service.handle(InboundMessage(channel, address, f"in-{utcnow().timestamp()}-{text}",
                                          "text", text=text))


def queue_replies(runtime: Runtime) -> int:
    """Start `fft` and choose English: three replies wait in the outbox, none sent."""
    text_in(runtime, "FFT")
    text_in(runtime, "1")
    return len(rows(runtime))


def rows(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def die_mid_pass(runtime: Runtime, *, begun: int, delivered: bool) -> list[int]:
    """What a killed sender leaves: every due row claimed; the first `begun` recorded as
    begun, and (if `delivered`) those handed to Twilio before the kill."""
    now = utcnow()
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        claimed = uow.outbox.claim_due(now, 100, None, DEAD)
        ids = [m.id for m in claimed]
        payloads = [dict(m.payload) for m in claimed]
        for outbox_id in ids[:begun]:
            assert uow.outbox.begin_send(outbox_id, DEAD, now)
        uow.commit()
    if delivered:
        for payload in payloads[:begun]:
            runtime.channels["sms"].send(PERSON, to_outbound(payload))
    return ids


def bodies(twilio: FakeTwilioAPI) -> Counter[str]:
    return Counter(str(m["Body"]) for m in twilio.messages)


def test_a_new_leader_puts_back_unbegun_claims_and_confirms_the_send_in_flight(
    runtime: Runtime, twilio: FakeTwilioAPI
) -> None:
    queued = queue_replies(runtime)
    assert queued == 3
    ids = die_mid_pass(runtime, begun=1, delivered=True)
    assert len(twilio.messages) == 1
    in_flight_sid = twilio.messages[0]["sid"]

    recovery = runtime.sender.recover()  # at takeover: no waiting for any cut-off
    assert (recovery.released, recovery.confirmed, recovery.resent) == (2, 1, 0)
    runtime.sender.run_once()

    assert len(twilio.messages) == queued
    assert set(bodies(twilio).values()) == {1}  # every reply exactly once
    by_id = {row.id: row for row in rows(runtime)}
    assert {row.status for row in by_id.values()} == {"sent"}
    assert by_id[ids[0]].provider_message_ids == [in_flight_sid]
    with runtime.sessions() as session:  # delivery reports will find it
        assert session.scalar(select(OutboxProviderId.outbox_id).where(
            OutboxProviderId.provider_message_id == in_flight_sid)) == ids[0]


def test_recovery_leaves_no_number_outside_the_vault(
    runtime: Runtime, twilio: FakeTwilioAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    """The new columns, the recovery's log lines (as production logs them) and its
    lookups' errors hold outbox ids and counts, never the person's number, though the
    lookup sends Twilio the number (the twilio library logs request URLs)."""
    import logging

    from bot.services.logs import configure

    root = logging.getLogger()
    saved = (root.handlers[:], root.level,
             {name: logging.getLogger(name).level for name in ("twilio", "urllib3")})
    configure("json")  # to stderr, captured here
    try:
        queue_replies(runtime)
        die_mid_pass(runtime, begun=1, delivered=True)
        twilio.fail_next("server_error")  # the lookup fails once: logged, tried again later
        assert runtime.sender.recover().unsettled == 1
        assert runtime.sender.recover().confirmed == 1
        runtime.sender.run_once()
    finally:
        root.handlers[:], level, levels = saved
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)
    logged = capsys.readouterr().err
    assert "recovered another sender's unfinished claims" in logged
    assert "could not ask the provider" in logged
    assert scan_text(logged, [PERSON]) == []
    assert scan_database(runtime.engine, [PERSON]) == []


def test_a_send_that_never_reached_the_provider_is_sent_again(
    runtime: Runtime, twilio: FakeTwilioAPI
) -> None:
    queued = queue_replies(runtime)
    die_mid_pass(runtime, begun=1, delivered=False)  # killed before the request left

    recovery = runtime.sender.recover()
    assert (recovery.released, recovery.confirmed, recovery.resent) == (2, 0, 1)
    runtime.sender.run_once()
    assert len(twilio.messages) == queued
    assert set(bodies(twilio).values()) == {1}


def test_messages_already_recorded_are_not_taken_for_the_one_in_flight(
    runtime: Runtime, twilio: FakeTwilioAPI
) -> None:
    """The dead sender had sent (and recorded) the first reply a moment before it began
    the second, which never left: the first must not be mistaken for the second."""
    queue_replies(runtime)
    runtime.sender.run_once(limit=1)  # the first reply, sent and recorded normally
    assert len(twilio.messages) == 1
    die_mid_pass(runtime, begun=1, delivered=False)

    recovery = runtime.sender.recover()
    assert (recovery.confirmed, recovery.resent) == (0, 1)
    runtime.sender.run_once()
    assert len(twilio.messages) == 3 and set(bodies(twilio).values()) == {1}


def test_where_the_provider_cannot_be_asked_the_message_goes_again(
    runtime: Runtime,
) -> None:
    """Telegram cannot list what a bot sent: at least once beats perhaps never."""
    telegram: Recorder = runtime.channels["telegram"]  # type: ignore[assignment]
    text_in(runtime, "FFT", address="5550001", channel="telegram")
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        [claimed] = uow.outbox.claim_due(utcnow(), 100, None, DEAD)
        assert uow.outbox.begin_send(claimed.id, DEAD, utcnow())
        uow.commit()
    assert runtime.sender.recover().resent == 1
    runtime.sender.run_once()
    assert len(telegram.sent) == 1 and {r.status for r in rows(runtime)} == {"sent"}


def test_recovery_spares_a_live_senders_young_claims(runtime: Runtime) -> None:
    """Run periodically with a grace, recovery leaves alone what another live sender (a
    console, say) claimed a moment ago; at takeover, with no grace, it takes them all."""
    queue_replies(runtime)
    die_mid_pass(runtime, begun=1, delivered=False)
    young = runtime.sender.recover(grace=timedelta(minutes=1))
    assert (young.released, young.confirmed, young.resent) == (0, 0, 0)
    assert {r.status for r in rows(runtime)} == {"sending"}
    assert runtime.sender.recover().released == 2


def test_a_deposed_sender_does_not_send_what_the_new_leader_took_back(
    runtime: Runtime, twilio: FakeTwilioAPI
) -> None:
    """The old leader is still alive (its lock's connection dropped) and mid-pass when the
    new one recovers its claims: every message still goes exactly once."""
    queued = queue_replies(runtime)
    new_leader = runtime.sender

    elapsed = [0.0]

    def takeover_during_pacing(seconds: float) -> None:
        if elapsed[0] == 0.0:
            new_leader.recover()  # while the old sender waits for its next token
        elapsed[0] += seconds

    pacer = Pacer(1.0, clock=lambda: elapsed[0], sleep=takeover_during_pacing)
    old_leader = Sender(runtime.sessions, runtime.vault, runtime.channels, utcnow,
                        pacers={"sms": pacer})
    report = old_leader.run_once()
    assert report.sent == 1  # its first; the others were no longer its own
    new_leader.run_once()
    assert len(twilio.messages) == queued and set(bodies(twilio).values()) == {1}
    assert {r.status for r in rows(runtime)} == {"sent"}


def test_takeover_sends_a_dead_leaders_claims_without_waiting(
    runtime: Runtime, twilio: FakeTwilioAPI
) -> None:
    queued = queue_replies(runtime)
    die_mid_pass(runtime, begun=0, delivered=False)
    scheduler = Scheduler(runtime, purge=None)
    scheduler._take_over()  # what a scheduler does when it becomes the leader
    scheduler._step_down()
    while scheduler.send_step():
        pass
    assert len(twilio.messages) == queued


@pytest.mark.parametrize("concurrency", [1, 4])
def test_one_chats_pacing_does_not_hold_up_the_others(runtime: Runtime, concurrency: int) -> None:
    """Telegram allows about a message a second in one chat, after a short burst. A chat
    past its burst waits for its turn; other chats' messages go meanwhile, in order. One
    send at a time, the chats take turns; several at once, each chat has its own."""
    runtime.sender.concurrency = concurrency
    telegram: Recorder = runtime.channels["telegram"]  # type: ignore[assignment]
    chat_pacer = runtime.sender.pacers["telegram-chat"]
    telegram.moment = chat_pacer.clock  # simulated seconds
    burst = int(chat_pacer.burst)
    chats = tuple(telegram.normalise_address(c) for c in ("5550001", "5550002"))
    for chat in chats:
        for text in ("FFT", "1", "yes", "2"):  # language, intro, consent, two questions
            text_in(runtime, text, address=chat, channel="telegram")
    queued: dict[str, list[str]] = {}
    for row in rows(runtime):  # the first chat's rows were written first
        queued.setdefault(row.participant_id, []).append(str(row.payload["text"]))
    expected = dict(zip(chats, queued.values(), strict=True))
    n = len(expected[chats[0]])
    assert n > burst and len(expected[chats[1]]) == n

    assert runtime.sender.run_once(limit=100).sent == 2 * n
    a, b = chats
    order = [address for address, _m in telegram.sent]
    assert sorted(order) == sorted([a, b] * n)
    if concurrency == 1:  # each chat's burst at once, then the chats take turns
        assert order == [a] * burst + [b] * burst + [a, b] * (n - burst)
    # Several at once, each chat waits in its own thread (the next test shows they overlap;
    # simulated time, which any thread's wait moves on, cannot show it).
    for chat in chats:
        assert telegram.texts_to(chat) == expected[chat]  # in order within each chat
        times = [t for (address, _m), t in zip(telegram.sent, telegram.times, strict=True)
                 if address == chat]
        if concurrency > 1:
            continue  # simulated time cannot time concurrent waits; see the test below
        # Never more than the burst plus one a second, over any stretch of the run (less
        # a moment: a chat's turn is taken before the channel's own pacing, 0.04 s here).
        assert all(j - i + 1 <= burst + (times[j] - times[i] + 0.05) * chat_pacer.rate
                   for i in range(n) for j in range(i, n))
        assert times[-1] - times[0] + 0.05 >= (n - burst) / chat_pacer.rate


def test_concurrent_sends_never_overlap_for_one_person_and_keep_each_persons_order(
    runtime: Runtime,
) -> None:
    """Several sends at once, from real threads: never two in flight for one person (so
    recovery can attribute a provider's record), each person's messages in order."""
    import threading
    import time as wall

    from channels.base import OutboundMessage, SendResult

    class Slow(Recorder):
        def __init__(self) -> None:
            super().__init__("sms")
            self.lock = threading.Lock()
            self.in_flight: Counter[str] = Counter()
            self.most_at_once = 0
            self.overlap_for_one_person = False

        def send(self, address: str, message: OutboundMessage) -> list[SendResult]:
            with self.lock:
                self.in_flight[address] += 1
                self.overlap_for_one_person |= self.in_flight[address] > 1
                self.most_at_once = max(self.most_at_once, sum(self.in_flight.values()))
            wall.sleep(0.02)  # a provider's answer takes a while
            try:
                return super().send(address, message)
            finally:
                with self.lock:
                    self.in_flight[address] -= 1

    slow = Slow()
    runtime.channels["sms"] = runtime.sender.channels["sms"] = slow
    runtime.sender.concurrency = 4
    people = [f"+4477009001{n:02d}" for n in range(8)]
    for person in people:
        text_in(runtime, "FFT", address=person)
        text_in(runtime, "1", address=person)
    queued: dict[str, list[str]] = {}
    for row in rows(runtime):
        queued.setdefault(row.participant_id, []).append(str(row.payload["text"]))
    runtime.sender.pacers.pop("sms", None)  # rate limits are not what this is about
    assert runtime.sender.run_once(limit=100).sent == sum(map(len, queued.values()))
    assert not slow.overlap_for_one_person
    assert 1 < slow.most_at_once <= 4
    for person, texts in zip(people, queued.values(), strict=True):
        assert slow.texts_to(slow.normalise_address(person)) == texts


def test_concurrent_senders_share_the_providers_rate_limit(runtime: Runtime) -> None:
    """Four sends at once still keep to the channel's rate, in real time (0.9 s here)."""
    import time as wall

    sms: Recorder = Recorder("sms", moment=wall.monotonic)
    runtime.channels["sms"] = runtime.sender.channels["sms"] = sms
    runtime.sender.concurrency = 4
    rate = 40.0
    granted: list[float] = []  # when the shared bucket let a send go, read under its lock

    class Watched(Pacer):
        def reserve(self, key: str = "") -> float:
            delay = super().reserve(key)
            if delay == 0:
                granted.append(self._stamp[key])
            return delay

    runtime.sender.pacers["sms"] = Watched(rate, wall.monotonic, wall.sleep)
    for n in range(12):
        text_in(runtime, "FFT", address=f"+4477009002{n:02d}")
        text_in(runtime, "1", address=f"+4477009002{n:02d}")
    total = len(rows(runtime))
    assert runtime.sender.run_once(limit=100).sent == total == 36
    assert len(granted) == total  # every send waited for its token
    times = sorted(sms.times)
    assert times[-1] - times[0] >= (total - 1) / rate * 0.95  # about 0.9 s: paced, not at once
    # Never more than the rate in any window (and burst 1), by the bucket's own clock: when
    # a send reaches the provider also depends on how busy the machine's cores are.
    granted.sort()
    for i, start in enumerate(granted):
        assert sum(1 for t in granted[i:] if t < start + 0.25) <= rate * 0.25 + 1


def test_a_pass_in_another_thread_does_not_settle_a_pass_still_running(
    runtime: Runtime, twilio: FakeTwilioAPI
) -> None:
    """`withus serve` delivers simulator replies from web threads while its scheduler
    thread sends. A pass that starts meanwhile settles only passes that were cut short,
    never one still sending: or a message in flight would be put back and sent twice."""
    queued = queue_replies(runtime)
    sms = runtime.channels["sms"]
    real_send = sms.send
    nested: list[int] = []

    def send_while_another_pass_runs(address: str, message: object) -> object:
        if not nested:  # once: as if another thread ran a pass during this request
            nested.append(1)
            runtime.sender.run_once()
        return real_send(address, message)  # type: ignore[arg-type]

    sms.send = send_while_another_pass_runs  # type: ignore[method-assign]
    runtime.sender.concurrency = 1
    runtime.sender.run_once()
    runtime.sender.run_once()
    assert nested and len(twilio.messages) == queued
    assert set(bodies(twilio).values()) == {1}
    assert {r.status for r in rows(runtime)} == {"sent"}
