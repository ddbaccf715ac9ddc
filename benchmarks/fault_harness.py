"""Faults: the whole system under load while its processes and its database fail.

Why this exists: webhook_load.py shows the hot path is correct when nothing goes wrong.
Providers retry, duplicate and time out, and in production a worker gets OOM-killed,
PostgreSQL fails over and a scheduler machine dies. This drives the `fft` survey through
every channel at once while those things happen, and then checks the end result against
the driver's own ledger: every answer stored exactly once, every reply delivered to the
(fake) provider exactly once.

What it does:

1. work out, by playing the engine, what each participant texts and how many replies
   each message gets (`plan_for`);
2. start its own PostgreSQL cluster (Debian's initdb/pg_ctl, as the `postgres` user when
   run as root) so it can stop and start it; `withus db upgrade`, `withus surveys load`;
3. start FakeTwilioAPI and FakeTelegramAPI, `withus web --workers 4` and
   `withus scheduler`, all on 127.0.0.1, with SMS, WhatsApp and Telegram configured;
4. drive N participants (round-robin over sms, whatsapp, telegram) through the survey
   all at once: every participant is in flight from the start, C client threads take the
   next due message of any participant. Like the providers, a request with no 2xx within
   15 s, or a dropped connection, is resent with the same MessageSid / update_id (after
   a short backoff); 5 % of deliveries are duplicated on purpose, half of those sent
   concurrently with the original;
5. meanwhile (unless --no-faults), at fixed fractions of the run: SIGKILL one gunicorn
   web worker (gunicorn starts another); restart PostgreSQL (`pg_ctl stop -m fast`, a
   pause, start); SIGKILL the scheduler and start a new one;
6. wait for the outbox to drain, then compare: answers per participant at the database,
   inbound messages claimed, outbound messages per address at the fakes, 5xx outside
   the database-restart window, and print the figures. A reply that arrives twice because
   it was in flight when the scheduler was killed, on Telegram (which cannot be asked
   whether it arrived, so the new scheduler sends it again), is counted on its own line,
   "sent again", from the new scheduler's log; any other double counts as duplicated.

    python benchmarks/fault_harness.py                      # 1,000 participants
    python benchmarks/fault_harness.py --participants 20 --no-faults

Exit status 1 when anything was lost, doubled, or answered 5xx outside the window.
Everything listens on and connects to 127.0.0.1 only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import psutil
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from surveys.conversation import AnswerGiven, Completed, Event
from surveys.engine import Catalog, converse
from surveys.loader import load_folder
from surveys.model import Survey

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
for _path in (ROOT, BENCHMARKS):  # tests.fakes and webhook_load are not installed
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from webhook_load import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    FREE_TEXT,
    HOST,
    OUR_NUMBER,
    PUBLIC_URL,
    count_log_errors,
    free_port,
    percentile,
    wait_ready,
    withus,
    withus_env,
)

from storage.db import make_engine  # noqa: E402
from storage.models import Answer, InboundMessage, OutboxMessage  # noqa: E402
from storage.pseudonyms import Pseudonymiser  # noqa: E402
from tests.fakes import FakeTelegramAPI, FakeTwilioAPI  # noqa: E402

SURVEY = "fft"
CHANNELS = ("sms", "whatsapp", "telegram")
PATHS = {"sms": "/webhooks/twilio/sms", "whatsapp": "/webhooks/twilio/whatsapp",
         "telegram": "/webhooks/telegram"}
TELEGRAM_TOKEN = "7000000001:" + "A" * 35
TELEGRAM_SECRET = "fault-harness-secret"
PROVIDER_TIMEOUT = 15.0  # seconds: what Twilio and Telegram wait for an answer
DUPLICATE_SHARE = 0.05
MAX_ATTEMPTS = 60  # per delivery; a provider gives up eventually too
#: 5xx this soon after PostgreSQL is back still count as inside the restart window.
WINDOW_GRACE = 5.0
DRAIN_IDLE_SECONDS = 30.0  # stop waiting for the outbox after this long without progress
#: When each fault happens, as the fraction of all participant messages acknowledged.
FAULTS_AT = {"kill-web-worker": 0.15, "restart-postgres": 0.35, "kill-scheduler": 0.6}


# -- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What each participant sends, how many replies each message gets, answers left."""

    messages: tuple[str, ...]
    replies: tuple[int, ...]
    answers: int

    @property
    def outbound(self) -> int:
        return sum(self.replies)


def plan_for(survey_id: str, library: Path) -> Plan:
    """Play the survey through the (pure) engine as webhook_load.script_for does, also
    counting the replies to each message: "1" to every numbered question (which makes
    the bilingual `fft` English), a sentence where words are asked for."""
    surveys = [s for s in load_folder(library) if isinstance(s, Survey) and s.id == survey_id]
    if not surveys:
        raise SystemExit(f"no survey {survey_id!r} in {library}")
    catalog = Catalog({survey_id: surveys[0]})
    state: dict[str, object] | None = None
    messages, replies, answers, completed = [survey_id.upper()], [], 0, False
    for _ in range(100):
        result = converse(catalog, state, Event("text", text=messages[-1]), datetime.now(UTC))
        state = json.loads(json.dumps(result.state))
        replies.append(len(result.replies))
        answers += sum(isinstance(r, AnswerGiven) and r.kind == "value"
                       for r in result.records)
        completed |= any(isinstance(r, Completed) for r in result.records)
        asking = bool(result.replies and result.replies[-1].choices)
        if completed and not asking:
            return Plan(tuple(messages), tuple(replies), answers)
        messages.append("1" if asking else FREE_TEXT)
    raise SystemExit(f"survey {survey_id!r} did not finish within 100 messages")


def channel_of(participant: int) -> str:
    return CHANNELS[participant % len(CHANNELS)]


def phone(participant: int) -> str:
    return f"+4477009{participant:05d}"


def chat_id(participant: int) -> int:
    return 500_000_000 + participant


def outbound_key(participant: int) -> tuple[str, str]:
    """How the fakes record messages to this participant: (channel, To / chat_id)."""
    channel = channel_of(participant)
    if channel == "telegram":
        return channel, str(chat_id(participant))
    return channel, ("whatsapp:" if channel == "whatsapp" else "") + phone(participant)


def pseudonym_of(participant: int, pseudonymiser: Pseudonymiser) -> str:
    """The participant id WithUs derives (channel + normalised address, keyed HMAC)."""
    channel, to = outbound_key(participant)
    return pseudonymiser(channel, to.removeprefix("whatsapp:"))


def request_for(participant: int, step: int, text: str,
                validator: RequestValidator) -> tuple[str, str, dict[str, str]]:
    """(path, body, headers) of one inbound message, as the provider sends it; the same
    (participant, step) always gives the same MessageSid / update_id."""
    channel = channel_of(participant)
    path = PATHS[channel]
    if channel == "telegram":
        update_id = participant * 100 + step + 1
        who = {"id": chat_id(participant), "is_bot": False, "first_name": "P"}
        update = {"update_id": update_id, "message": {
            "message_id": step + 1, "date": int(time.time()), "text": text, "from": who,
            "chat": {**who, "type": "private"}}}
        return path, json.dumps(update), {
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    prefix = "whatsapp:" if channel == "whatsapp" else ""
    sid = f"SM{participant:024x}{step:08x}"
    form = {
        "ToCountry": "GB", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid,
        "SmsStatus": "received", "Body": text, "To": prefix + OUR_NUMBER, "NumSegments": "1",
        "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": prefix + phone(participant),
        "FromCountry": "GB", "ApiVersion": "2010-04-01",
    }  # fmt: skip
    return path, urlencode(form), {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": validator.compute_signature(PUBLIC_URL + path, form)}


# -- the ledger ---------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the driver sent and saw, shared by the client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)  # per request with an answer
    requests: int = 0
    retries: int = 0
    duplicates_sent: int = 0
    concurrent_duplicates: int = 0
    dropped: int = 0  # connection dropped or no answer within 15 s
    statuses: Counter[int] = field(default_factory=Counter)
    #: (sent, answered) in time.monotonic, per 5xx
    server_errors: list[tuple[float, float]] = field(default_factory=list)
    acknowledged: int = 0  # messages that got their 2xx
    failed: list[tuple[int, int]] = field(default_factory=list)  # gave up: (participant, step)

    def record(self, started: float, seconds: float, status: int) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[status] += 1
            if status == 0:
                self.dropped += 1
            else:
                self.latencies.append(seconds)
            if status >= 500:
                self.server_errors.append((started, started + seconds))


def post(port: int, path: str, body: str, headers: dict[str, str], ledger: Ledger) -> int:
    """One request; its status, or 0 when the connection dropped or timed out."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(HOST, port, timeout=PROVIDER_TIMEOUT)
    try:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        status = 0
    finally:
        connection.close()
    ledger.record(started, time.monotonic() - started, status)
    return status


def deliver(port: int, path: str, body: str, headers: dict[str, str], ledger: Ledger,
            rng: random.Random, deadline: float) -> bool:
    """Send until a 2xx, resending the very same request, as a provider does."""
    for attempt in range(MAX_ATTEMPTS):
        if time.monotonic() > deadline:
            return False
        if attempt:
            with ledger.lock:
                ledger.retries += 1
            time.sleep(min(5.0, 0.25 * 2 ** min(attempt, 5)) * (0.5 + rng.random()))
        if 200 <= post(port, path, body, headers, ledger) < 300:
            return True
    return False


def drive(port: int, participants: int, plan: Plan, concurrency: int, seed: int,
          deadline: float, ledger: Ledger) -> float:
    """Every participant through the whole survey, all in flight at once; seconds taken."""
    work: queue.Queue[tuple[int, int]] = queue.Queue()
    order = list(range(participants))
    random.Random(seed).shuffle(order)
    for participant in order:
        work.put((participant, 0))
    remaining = [participants]
    done = threading.Event()

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        validator = RequestValidator(AUTH_TOKEN)
        while not done.is_set() and time.monotonic() < deadline:
            try:
                participant, step = work.get(timeout=0.2)
            except queue.Empty:
                continue
            path, body, headers = request_for(participant, step, plan.messages[step],
                                              validator)
            duplicate = rng.random() < DUPLICATE_SHARE
            twin: threading.Thread | None = None
            if duplicate and rng.random() < 0.5:  # the copy goes at the same moment
                twin = threading.Thread(target=deliver, daemon=True, args=(
                    port, path, body, headers, ledger, random.Random(rng.random()),
                    deadline))
                twin.start()
            ok = deliver(port, path, body, headers, ledger, rng, deadline)
            if twin is not None:
                twin.join(max(0.0, deadline - time.monotonic()))
            elif duplicate and ok:  # the copy comes after the original was answered
                deliver(port, path, body, headers, ledger, rng, deadline)
            with ledger.lock:
                ledger.duplicates_sent += duplicate
                ledger.concurrent_duplicates += twin is not None
                if ok:
                    ledger.acknowledged += 1
                else:
                    ledger.failed.append((participant, step))
            if ok and step + 1 < len(plan.messages):
                work.put((participant, step + 1))
                continue
            with ledger.lock:  # this participant is finished (or given up on)
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

    threads = [threading.Thread(target=client, args=(i,), daemon=True)
               for i in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    done.wait(max(0.0, deadline - time.monotonic()))
    for thread in threads:
        thread.join(PROVIDER_TIMEOUT * 2)
    return time.monotonic() - started


# -- processes ----------------------------------------------------------------------------


def postgres_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise SystemExit("needs PostgreSQL server binaries (apt-get install postgresql)")
    return versions[-1].parent


class Postgres:
    """A throwaway cluster this harness can stop and start (initdb refuses root, so as
    root everything runs as the `postgres` user)."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir / "pg"
        self.port = free_port()
        self.bin = postgres_bin()
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_owner, *args], check=True, capture_output=True,
                       timeout=120, cwd=self.dir.parent)

    def init(self) -> None:
        self.dir.mkdir()
        if self.as_owner:
            shutil.chown(self.dir.parent, "postgres")
            shutil.chown(self.dir, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.dir), "-U", "postgres",
                  "--auth=trust", "--no-sync", "-E", "UTF8")
        self.start()

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-w", "-t", "60",
                  "-l", str(self.dir / "server.log"), "-o",
                  f"-p {self.port} -k {self.dir} -h {HOST} -c fsync=off "
                  "-c max_connections=200", "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-w", "-t", "60",
                  "-m", "fast", "stop")


@contextmanager
def process(command: Sequence[str], env: dict[str, str], log_path: Path) -> Iterator[
        subprocess.Popen[bytes]]:
    with log_path.open("ab") as log:
        started = subprocess.Popen(list(command), env=env, cwd=ROOT, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        yield started
    finally:
        if started.poll() is None:
            started.send_signal(signal.SIGTERM)
            try:
                started.wait(timeout=20)
            except subprocess.TimeoutExpired:
                started.kill()
                started.wait(timeout=10)


class Scheduler:
    """`withus scheduler`, which the faults kill and start again."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.current: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.current = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "scheduler"], env=self.env, cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.current is not None and self.current.poll() is None:
            self.current.send_signal(signal.SIGKILL)
            self.current.wait(timeout=10)

    def stop(self) -> None:
        if self.current is not None and self.current.poll() is None:
            self.current.send_signal(signal.SIGTERM)
            try:
                self.current.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Faults:
    """What the fault thread did, and when (time.monotonic)."""

    events: list[str] = field(default_factory=list)
    db_windows: list[tuple[float, float]] = field(default_factory=list)


def inject(web: subprocess.Popen[bytes], postgres: Postgres, scheduler: Scheduler,
           ledger: Ledger, total: int, faults: Faults, stop: threading.Event,
           started: float, chosen: Sequence[str]) -> None:
    """Each fault once, when that fraction of the participant messages is acknowledged."""
    pending = sorted(((name, at) for name, at in FAULTS_AT.items() if name in chosen),
                     key=lambda item: item[1])
    while pending and not stop.wait(0.1):
        name, fraction = pending[0]
        with ledger.lock:
            progress = ledger.acknowledged / total
        if progress < fraction:
            continue
        pending.pop(0)
        at = time.monotonic()
        if name == "kill-web-worker":
            workers = psutil.Process(web.pid).children()
            if not workers:
                faults.events.append("no web worker to kill")
                continue
            os.kill(workers[0].pid, signal.SIGKILL)
            faults.events.append(f"{at - started:6.1f} s  SIGKILL web worker {workers[0].pid}")
        elif name == "restart-postgres":
            postgres.stop()
            stopped = time.monotonic()
            time.sleep(2.0)  # a failover is rarely instant
            postgres.start()
            back = time.monotonic()
            faults.db_windows.append((at, back + WINDOW_GRACE))
            faults.events.append(f"{at - started:6.1f} s  PostgreSQL stopped "
                                 f"({stopped - at:.1f} s), down, back at {back - started:.1f} s")
        elif name == "kill-scheduler":
            scheduler.kill()
            time.sleep(1.0)
            scheduler.start()
            faults.events.append(f"{at - started:6.1f} s  SIGKILL scheduler, new one started")


# -- counting -----------------------------------------------------------------------------


def outbound_counts(twilio: FakeTwilioAPI, telegram: FakeTelegramAPI) -> Counter[
        tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for message in list(twilio.messages):
        to = str(message.get("To", ""))
        counts["whatsapp" if to.startswith("whatsapp:") else "sms", to] += 1
    for params in telegram.messages:
        counts["telegram", str(params.get("chat_id", ""))] += 1
    return counts


def wait_for_outbox(twilio: FakeTwilioAPI, telegram: FakeTelegramAPI, expected: int,
                    limit: float) -> float:
    """Wait until the fakes hold `expected` messages, or nothing arrives for a while."""
    started = time.monotonic()
    seen, last_change = -1, time.monotonic()
    while time.monotonic() - started < limit:
        now_seen = len(twilio.messages) + len(telegram.messages)
        if now_seen != seen:
            seen, last_change = now_seen, time.monotonic()
        if now_seen >= expected:
            time.sleep(3.0)  # anything sent twice would show up now
            break
        if time.monotonic() - last_change > DRAIN_IDLE_SECONDS:
            break
        time.sleep(0.5)
    return time.monotonic() - started


@dataclass
class Result:
    participants: int
    messages: int
    seconds: float
    answers_stored: int = 0
    answers_expected: int = 0
    answers_lost: int = 0
    answers_doubled: int = 0
    inbound_stored: int = 0
    outbound_expected: int = 0
    outbound_delivered: int = 0
    outbound_missing: int = 0
    outbound_doubled: int = 0  # ...not counting those below
    #: Sent again by a new scheduler because they were in flight when the old one was
    #: killed, on a provider that cannot be asked whether it got them (Telegram).
    outbound_resent_unasked: int = 0
    outbox: dict[str, int] = field(default_factory=dict)
    stuck_sending: int = 0  # outbox rows left 'sending'
    stuck_delivered: int = 0  # ... of which the fake provider already has
    server_errors: int = 0
    server_errors_outside: int = 0
    failed_deliveries: int = 0
    log_errors: int = 0


def resent_unasked(log_path: Path) -> list[int]:
    """Outbox ids a new scheduler sent again after a kill without being able to ask the
    provider whether the first attempt arrived ("recovered ..." in the scheduler log)."""
    ids: list[int] = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("resent_unasked"), list):
            ids += [int(i) for i in entry["resent_unasked"]]
    return ids


def check(url: str, pseudonymiser: Pseudonymiser, participants: int, plan: Plan,
          ledger: Ledger, faults: Faults, counts: Counter[tuple[str, str]], seconds: float,
          log_errors: int, unasked_ids: Sequence[int] = ()) -> Result:
    """Compare the database and the fakes with the ledger, participant by participant."""
    result = Result(participants, participants * len(plan.messages), seconds)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            answers: Counter[tuple[str, str]] = Counter()  # (participant, question) -> rows
            for pid, question, n in connection.execute(
                    select(Answer.participant_id, Answer.question_id, func.count())
                    .where(Answer.kind == "value")
                    .group_by(Answer.participant_id, Answer.question_id)):
                answers[pid, question] = int(n)
            rows: Counter[tuple[str, str]] = Counter()  # (participant, status) -> rows
            for pid, status, n in connection.execute(
                    select(OutboxMessage.participant_id, OutboxMessage.status, func.count())
                    .group_by(OutboxMessage.participant_id, OutboxMessage.status)):
                rows[pid, status] = int(n)
            result.inbound_stored = int(connection.scalar(
                select(func.count()).select_from(InboundMessage)) or 0)
            result.outbox = {str(status): int(n) for status, n in connection.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))}
            unasked: Counter[str] = Counter(connection.scalars(
                select(OutboxMessage.participant_id)
                .where(OutboxMessage.id.in_(list(unasked_ids))))) if unasked_ids else Counter()
    finally:
        engine.dispose()
    result.answers_expected = participants * plan.answers
    result.answers_stored = sum(answers.values())
    result.answers_doubled = sum(n - 1 for n in answers.values())
    by_participant = Counter(p for p, _question in answers)
    ids = {pseudonym_of(p, pseudonymiser): p for p in range(participants)}
    result.answers_lost = sum(max(0, plan.answers - by_participant.get(pid, 0))
                              for pid in ids)
    for pid, participant in ids.items():
        sending = rows.get((pid, "sending"), 0)
        delivered = counts.get(outbound_key(participant), 0)
        result.stuck_sending += sending
        result.stuck_delivered += min(sending, max(0, delivered - rows.get((pid, "sent"), 0)))
    expected = {outbound_key(p): plan.outbound for p in range(participants)}
    result.outbound_expected = sum(expected.values())
    result.outbound_delivered = sum(counts.values())
    key_to_pid = {outbound_key(p): pid for pid, p in ids.items()}
    for key in set(expected) | set(counts):
        got, want = counts.get(key, 0), expected.get(key, 0)
        result.outbound_missing += max(0, want - got)
        extra = max(0, got - want)
        explained = min(extra, unasked.get(key_to_pid.get(key, ""), 0))
        result.outbound_resent_unasked += explained
        result.outbound_doubled += extra - explained
    result.server_errors = len(ledger.server_errors)
    # A request counts as inside the window when it was being handled during it: one sent
    # just before PostgreSQL stopped may wait in gunicorn's queue and meet the outage.
    result.server_errors_outside = sum(
        not any(sent <= end and answered >= start for start, end in faults.db_windows)
        for sent, answered in ledger.server_errors)
    result.failed_deliveries = len(ledger.failed)
    result.log_errors = log_errors
    return result


def report(result: Result, ledger: Ledger, faults: Faults, plan: Plan, workers: int,
           concurrency: int, no_faults: bool) -> str:
    latencies = sorted(ledger.latencies)
    rate = result.messages / result.seconds if result.seconds else 0.0
    outbox = ", ".join(f"{k} {v}" for k, v in sorted(result.outbox.items()))
    statuses = ", ".join(f"{k or 'dropped'}: {v}" for k, v in sorted(ledger.statuses.items()))
    lost = result.answers_lost + result.outbound_missing + result.failed_deliveries
    duplicated = result.answers_doubled + result.outbound_doubled
    lines = [
        f"Faults: {result.participants} participants x {len(plan.messages)} messages of "
        f"{SURVEY!r} over {'/'.join(CHANNELS)}, {concurrency} client threads, "
        f"{workers} web workers" + (", no faults" if no_faults else ""),
        *(f"  fault {event}" for event in faults.events),
        f"participants        {result.participants}",
        f"messages            {result.messages} (requests {ledger.requests}: retries "
        f"{ledger.retries}, duplicates {ledger.duplicates_sent} of which concurrent "
        f"{ledger.concurrent_duplicates}, dropped/timed out {ledger.dropped})",
        f"answers/s           {rate:.1f} (participant messages acknowledged per second, "
        f"{result.seconds:.1f} s)",
        f"p50 latency         {percentile(latencies, 0.5) * 1000:.1f} ms",
        f"p99 latency         {percentile(latencies, 0.99) * 1000:.1f} ms",
        f"answers             stored {result.answers_stored} of {result.answers_expected}: "
        f"lost {result.answers_lost}, doubled {result.answers_doubled}; inbound claimed "
        f"{result.inbound_stored} of {result.messages}",
        f"outbound            delivered {result.outbound_delivered} of "
        f"{result.outbound_expected}: missing {result.outbound_missing}, doubled "
        f"{result.outbound_doubled}; outbox rows: {outbox}",
        f"sent again          {result.outbound_resent_unasked} (in flight when the scheduler "
        "was killed, on Telegram, which cannot be asked whether it arrived)",
        f"left 'sending'      {result.stuck_sending} outbox rows, of which the provider "
        f"already has {result.stuck_delivered}",
        f"statuses            {statuses}",
        f"lost                {lost}",
        f"duplicated          {duplicated}",
        f"5xx count           {result.server_errors} ({result.server_errors_outside} outside "
        f"the database-restart window; gave up on {result.failed_deliveries} messages)",
        f"log errors          {result.log_errors} (error-level lines in the web and "
        "scheduler logs)",
    ]
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    plan = plan_for(SURVEY, ROOT / "surveys" / "library")
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="withus-fault-")))
        postgres = Postgres(workdir)
        postgres.init()
        stack.callback(postgres.stop)
        twilio = stack.enter_context(FakeTwilioAPI(ACCOUNT_SID, AUTH_TOKEN))
        telegram = stack.enter_context(FakeTelegramAPI(TELEGRAM_TOKEN))
        env = {
            **withus_env(postgres.url, workdir / "instance", twilio.base_url),
            "TWILIO_WHATSAPP_FROM": "whatsapp:" + OUR_NUMBER,
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
            "TELEGRAM_API_BASE_URL": telegram.base_url,
            # Pacing is not under test: the fakes take whatever they get.
            "WITHUS_RATE_TWILIO": "1000", "WITHUS_RATE_TELEGRAM": "1000",
        }
        withus(env, "db", "upgrade")
        withus(env, "surveys", "load", str(ROOT / "surveys" / "library"))
        port = free_port()
        web = stack.enter_context(process(
            [sys.executable, "-m", "bot.cli", "web", "--workers", str(args.workers),
             "--bind", f"{HOST}:{port}"], env, workdir / "web.log"))
        wait_ready(port, web)
        scheduler = Scheduler(env, workdir / "scheduler.log")
        scheduler.start()
        stack.callback(scheduler.stop)
        ledger, faults = Ledger(), Faults()
        total = args.participants * len(plan.messages)
        stop = threading.Event()
        started = time.monotonic()
        injector = threading.Thread(target=inject, daemon=True, args=(
            web, postgres, scheduler, ledger, total, faults, stop, started, args.faults))
        if not args.no_faults:
            injector.start()
        seconds = drive(port, args.participants, plan, args.concurrency, args.seed,
                        started + args.max_seconds, ledger)
        stop.set()
        if injector.is_alive():
            injector.join(120)
        wait_for_outbox(twilio, telegram, args.participants * plan.outbound,
                        args.drain_seconds)
        counts = outbound_counts(twilio, telegram)
        log_errors = sum(count_log_errors(workdir / name)
                         for name in ("web.log", "scheduler.log"))
        unasked_ids = resent_unasked(workdir / "scheduler.log")
        pseudonymiser = Pseudonymiser(env["WITHUS_PSEUDONYM_KEY"].encode())
        result = check(postgres.url, pseudonymiser, args.participants, plan, ledger, faults, counts,
                       seconds, log_errors, unasked_ids)
        if args.keep_logs:
            for name in ("web.log", "scheduler.log"):
                shutil.copy(workdir / name, args.keep_logs / name)
            shutil.copy(postgres.dir / "server.log", args.keep_logs / "postgres.log")
    print(report(result, ledger, faults, plan, args.workers, args.concurrency,
                 args.no_faults), flush=True)
    broken = (result.answers_lost or result.answers_doubled or result.outbound_missing
              or result.outbound_doubled or result.server_errors_outside
              or result.failed_deliveries)
    return 1 if broken else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=48,
                        help="client threads (each sends one message at a time)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-faults", action="store_true",
                        help="no kills and no restart: duplicates and retries only")
    parser.add_argument("--only", action="append", choices=sorted(FAULTS_AT),
                        help="inject only this fault (repeatable); default all three")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=900.0,
                        help="stop driving after this long (whatever is left is lost)")
    parser.add_argument("--drain-seconds", type=float, default=1200.0,
                        help="longest wait for the outbox to reach the fakes")
    parser.add_argument("--keep-logs", type=Path, help="copy the process logs here")
    args = parser.parse_args(argv)
    if not 0 < args.participants < 100_000 or not 0 < args.concurrency <= 256:
        parser.error("participants must be 1..99999 and concurrency 1..256")
    args.faults = args.only or list(FAULTS_AT)
    if args.keep_logs:
        args.keep_logs.mkdir(parents=True, exist_ok=True)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
