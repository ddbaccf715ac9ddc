"""Webhook hot path: the signed Twilio SMS webhook under concurrent participants.

Why this exists: every answer a carer texts goes through one path (signature check,
dedupe claim, pseudonym, vault, conversation state, engine, answers, outbox) inside
`withus web`. This measures that path end to end, through real gunicorn workers and a real
database, and puts the figure next to the cheapest webhook imaginable (a bare Flask
endpoint doing one INSERT, `bare_insert_app.py`) run the same way on the same database,
so the ratio says how much our own code costs, whatever the machine.

What it does, for SQLite and (when WITHUS_BENCH_POSTGRES_URL is set) PostgreSQL:

1. work out what a participant texts to finish `fft` (`script_for`);
2. make a fresh database, `withus db upgrade`, `withus surveys load surveys/library`;
3. start a FakeTwilioAPI on 127.0.0.1 (nothing is sent by the web workers, which only
   queue replies in the outbox, but nothing could reach Twilio even if it were);
4. start `withus web --workers N` and the bare INSERT app the same way, and wait for
   their /healthz;
5. drive each in turn, in alternating rounds, with C client threads, each with its own
   HTTP connection (reopened when gunicorn's sync workers close it), each taking one
   participant at a time through the whole survey, every request signed exactly as
   Twilio signs it; a few warm-up participants go first, untimed;
6. sample the RSS and CPU time of each gunicorn worker meanwhile;
7. count at the database that every message and every answer was stored exactly once,
   and print a table and the ratio.

Run it with `make benchmark` (which provides PostgreSQL through pg_virtualenv), or
`python benchmarks/webhook_load.py [--quick] [--databases sqlite]`. `--quick` (50
participants) is what tests/test_benchmark_smoke.py runs. Everything listens on and
connects to 127.0.0.1 only; every loop is bounded by a count and by --max-seconds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import queue
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import psutil
from cryptography.fernet import Fernet
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from surveys.conversation import AnswerGiven, Completed, Event
from surveys.engine import Catalog, converse
from surveys.loader import load_folder
from surveys.model import Survey

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
for _path in (ROOT, BENCHMARKS):  # tests.fakes and bare_insert_app are not installed
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from bare_insert_app import URL_VARIABLE, count_rows, ensure_table  # noqa: E402

from storage.db import make_engine, normalise_url  # noqa: E402
from storage.models import Answer, InboundMessage, Response  # noqa: E402
from tests.fakes import FakeTwilioAPI  # noqa: E402

POSTGRES_URL_VARIABLE = "WITHUS_BENCH_POSTGRES_URL"
HOST = "127.0.0.1"
PUBLIC_URL = "https://withus.example.org"
PATH = "/webhooks/twilio/sms"
ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "benchmark-auth-token"
OUR_NUMBER = "+447700900001"
SURVEY = "fft"
#: What a participant writes where a survey asks for their own words (it is redacted on
#: the way in, like every real answer).
FREE_TEXT = "The carers were kind but always rushed, never the same person twice."
TARGET_RATIO = 0.6
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 150.0
READY_SECONDS = 60.0
RSS_SAMPLE_SECONDS = 0.2


@dataclass
class Run:
    """What one endpoint did on one database."""

    database: str
    endpoint: str  # "withus" or "bare"
    participants: int
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    cpu_ms: float = 0.0  # worker CPU per request (user + system): steadier than rates
    #: PostgreSQL server CPU per request (every `postgres` process on this machine); 0 on
    #: SQLite, whose work is inside the worker's own figure.
    db_cpu_ms: float = 0.0
    peak_rss_mb: float = 0.0
    idle_rss_mb: float = 0.0
    stored: int = 0
    expected: int = 0
    lost: int = 0
    duplicates: int = 0
    log_errors: int = 0
    incomplete: bool = False
    detail: dict[str, int] = field(default_factory=dict)


@dataclass
class Load:
    """Latencies in seconds, failures and wall time of one timed drive."""

    latencies: list[float]
    errors: int
    seconds: float
    incomplete: bool


# -- driving -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """What one participant texts to finish a survey, and the answers that leaves."""

    messages: tuple[str, ...]
    answers: int


def script_for(survey_id: str, library: Path) -> Script:
    """Play the survey through the (pure) engine to learn what a participant must send.

    Replies are never seen by the load generator (the web workers only queue them), so
    it cannot react to the survey; and surveys change (a language question, one more
    step). So the script is worked out here, before the run, the way a person would
    answer: "1" (the first choice) to every numbered question, a sentence where we ask
    for words, until the survey has completed and nothing more is asked.
    """
    surveys = [s for s in load_folder(library) if isinstance(s, Survey) and s.id == survey_id]
    if not surveys:
        raise SystemExit(f"no survey {survey_id!r} in {library}")
    catalog = Catalog({survey_id: surveys[0]})
    state: dict[str, object] | None = None
    messages, answers, completed = [survey_id.upper()], 0, False
    for _ in range(100):  # a survey of a hundred steps is not a benchmark
        result = converse(catalog, state, Event("text", text=messages[-1]),
                          datetime.now(UTC))
        state = json.loads(json.dumps(result.state))
        answers += sum(isinstance(r, AnswerGiven) and r.kind == "value"
                       for r in result.records)
        completed |= any(isinstance(r, Completed) for r in result.records)
        asking = bool(result.replies and result.replies[-1].choices)
        if completed and not asking:
            return Script(tuple(messages), answers)
        messages.append("1" if asking else FREE_TEXT)
    raise SystemExit(f"survey {survey_id!r} did not finish within 100 messages")


def address(participant: int) -> str:
    """A distinct UK mobile number per participant, in the 07700 9xxxxx drama range."""
    return f"+4477009{participant:05d}"


def message_sid(participant: int, step: int) -> str:
    """A Twilio-shaped message sid (SM + 32 hex), unique per participant and step."""
    return f"SM{participant:024x}{step:08x}"


def form_for(participant: int, step: int, body: str) -> dict[str, str]:
    """An inbound SMS webhook form, field for field as Twilio posts it."""
    sid = message_sid(participant, step)
    return {
        "ToCountry": "GB", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid,
        "SmsStatus": "received", "Body": body, "To": OUR_NUMBER, "NumSegments": "1",
        "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": address(participant),
        "FromCountry": "GB", "ApiVersion": "2010-04-01",
    }  # fmt: skip


def drive(port: int, participants: Sequence[int], script: Sequence[str], concurrency: int,
          deadline: float) -> Load:
    """Take each participant through `script`, `concurrency` participants at a time.

    One thread per connection; a participant's messages go in order on one connection,
    each after the reply to the one before, as a person's would. Stops early (and says
    so) at `deadline` (a time.monotonic value).
    """
    work: queue.Queue[int] = queue.Queue()
    for participant in participants:
        work.put(participant)
    latencies: list[list[float]] = []
    errors = [0]
    lock = threading.Lock()
    stopped = threading.Event()

    def client() -> None:
        validator = RequestValidator(AUTH_TOKEN)
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        mine: list[float] = []
        failed = 0
        try:
            while not stopped.is_set():
                try:
                    participant = work.get_nowait()
                except queue.Empty:
                    return
                for step, text in enumerate(script):
                    if time.monotonic() > deadline:
                        stopped.set()
                        return
                    form = form_for(participant, step, text)
                    headers = {
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Twilio-Signature": validator.compute_signature(
                            PUBLIC_URL + PATH, form
                        ),
                    }
                    body = urlencode(form)
                    started = time.perf_counter()
                    try:
                        connection.request("POST", PATH, body, headers)
                        response = connection.getresponse()
                        response.read()
                        status = response.status
                    except (OSError, http.client.HTTPException):
                        connection.close()  # reconnects on the next request
                        status = 0
                    mine.append(time.perf_counter() - started)
                    if status != 200:
                        failed += 1
        finally:
            connection.close()
            with lock:
                latencies.append(mine)
                errors[0] += failed

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 35)  # + one request's timeout
    seconds = time.perf_counter() - started
    merged = sorted(x for chunk in latencies for x in chunk)
    return Load(merged, errors[0], seconds, stopped.is_set() or not work.empty())


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..1) of already sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


# -- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def base_env() -> dict[str, str]:
    """This environment without any WithUs, Twilio, Telegram or proxy settings."""
    dropped = ("WITHUS_", "TWILIO_", "TELEGRAM_")
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(dropped) and "proxy" not in key.lower()
    }  # fmt: skip
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def withus_env(database_url: str, instance: Path, twilio_base_url: str) -> dict[str, str]:
    """Production settings for `withus`, pointed at `database_url` and the fake Twilio."""
    return {
        **base_env(),
        "WITHUS_ENV": "production",
        "WITHUS_DATABASE_URL": database_url,
        "WITHUS_INSTANCE_PATH": str(instance),
        "WITHUS_SECRET_KEY": secrets.token_urlsafe(32),
        "WITHUS_PSEUDONYM_KEY": secrets.token_urlsafe(32),
        "WITHUS_VAULT_KEYS": Fernet.generate_key().decode(),
        "WITHUS_PUBLIC_URL": PUBLIC_URL,
        "WITHUS_DEFAULT_SURVEY": "fft",
        "WITHUS_LOG_FORMAT": "json",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SMS_FROM": OUR_NUMBER,
        "TWILIO_API_BASE_URL": twilio_base_url,
    }


def withus(env: Mapping[str, str], *args: str) -> None:
    """Run one `withus` command to completion, failing loudly."""
    completed = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], env=dict(env), cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"withus {' '.join(args)} failed:\n{completed.stderr[-2000:]}")


@contextmanager
def serving(command: Sequence[str], env: Mapping[str, str], log_path: Path,
            port: int) -> Iterator[psutil.Process]:
    """Start a gunicorn master, wait until it answers /healthz, stop it afterwards."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command), env=dict(env), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_ready(port, process)
            yield psutil.Process(process.pid)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} before it was up")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return
            connection.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"no answer on /healthz within {READY_SECONDS:.0f} s")


class RssSampler:
    """Peak resident memory of each gunicorn worker (the master's children), sampled."""

    def __init__(self, master: psutil.Process) -> None:
        self._master = master
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict[int, int]:
        found: dict[int, int] = {}
        try:
            for child in self._master.children():
                try:
                    found[child.pid] = child.memory_info().rss
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
        for pid, rss in found.items():
            self.peak[pid] = max(self.peak.get(pid, 0), rss)
        return found

    def _run(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_SECONDS):
            self.sample()

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()

    def peak_mb(self) -> float:
        return max(self.peak.values(), default=0) / 2**20


# -- both endpoints on one database --------------------------------------------------------


@dataclass(frozen=True)
class Options:
    participants: int
    concurrency: int
    workers: int
    warmup: int
    rounds: int
    max_seconds: float
    script: Script


@dataclass
class Endpoint:
    """A running server under test and what has been measured on it so far."""

    run: Run
    port: int
    master: psutil.Process
    log_path: Path
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    db_cpu_seconds: float = 0.0

    def drive(self, participants: Sequence[int], script: Sequence[str], concurrency: int,
              deadline: float) -> None:
        """One timed round; the figures add up over rounds."""
        cpu, db_cpu = worker_cpu(self.master), database_cpu(self.run.database)
        load = drive(self.port, participants, script, concurrency, deadline)
        self.cpu_seconds += worker_cpu(self.master) - cpu
        self.db_cpu_seconds += database_cpu_since(self.run.database, db_cpu)
        self.latencies += load.latencies
        self.run.errors += load.errors
        self.run.seconds += load.seconds
        self.run.incomplete |= load.incomplete

    def finish(self, rss: RssSampler) -> None:
        run, latencies = self.run, sorted(self.latencies)
        run.requests = len(latencies)
        run.per_second = run.requests / run.seconds if run.seconds else 0.0
        run.p50_ms = percentile(latencies, 0.50) * 1000
        run.p99_ms = percentile(latencies, 0.99) * 1000
        run.max_ms = (latencies[-1] if latencies else 0.0) * 1000
        run.cpu_ms = self.cpu_seconds / run.requests * 1000 if run.requests else 0.0
        run.db_cpu_ms = self.db_cpu_seconds / run.requests * 1000 if run.requests else 0.0
        run.peak_rss_mb = rss.peak_mb()


def database_cpu(database: str) -> dict[int, float]:
    """PostgreSQL's CPU so far: CPU seconds of each `postgres` process on this machine
    (the benchmark's own server; nothing else runs one). SQLite: nothing to measure."""
    found: dict[int, float] = {}
    if database == "postgres":
        for process in psutil.process_iter(["name", "cpu_times"]):
            times = process.info.get("cpu_times")
            if process.info.get("name") == "postgres" and times is not None:
                found[process.pid] = times.user + times.system
    return found


def database_cpu_since(database: str, earlier: dict[int, float]) -> float:
    """CPU seconds PostgreSQL used after `earlier` (a `database_cpu` reading). Processes
    started meanwhile count from zero; one that ended meanwhile is lost, which the
    benchmark's pooled connections make rare."""
    now = database_cpu(database)
    return sum(seconds - earlier.get(pid, 0.0) for pid, seconds in now.items())


def worker_cpu(master: psutil.Process) -> float:
    """CPU seconds (user + system) the master's workers have used so far."""
    total = 0.0
    try:
        for child in master.children():
            try:
                times = child.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                continue
    except psutil.Error:
        pass
    return total


def rounds_of(participants: Sequence[int], rounds: int) -> list[list[int]]:
    """Split participants into `rounds` nearly equal chunks, none empty."""
    rounds = max(1, min(rounds, len(participants)))
    size, extra = divmod(len(participants), rounds)
    chunks, start = [], 0
    for index in range(rounds):
        end = start + size + (1 if index < extra else 0)
        chunks.append(list(participants[start:end]))
        start = end
    return chunks


def measure_both(database: str, url: str, workdir: Path, twilio: FakeTwilioAPI,
                 options: Options) -> list[Run]:
    """Run WithUs and the bare endpoint side by side on one database, taking turns.

    Both servers stay up for the whole measurement and are driven in alternating rounds,
    so a change in the machine's load (other processes, CPU frequency) falls on both
    alike and the ratio stays meaningful even when the absolute figures wander.
    """
    env = withus_env(url, workdir / "instance", twilio.base_url)
    withus(env, "db", "upgrade")
    withus(env, "surveys", "load", str(ROOT / "surveys" / "library"))
    ensure_table(url)
    withus_port, bare_port = free_port(), free_port()
    withus_command = [sys.executable, "-m", "bot.cli", "web", "--workers",
                      str(options.workers), "--bind", f"{HOST}:{withus_port}"]
    bare_command = [sys.executable, "-m", "gunicorn", "--workers", str(options.workers),
                    "--bind", f"{HOST}:{bare_port}", "--chdir", str(BENCHMARKS),
                    "bare_insert_app:create_app()"]
    bare_env = {**base_env(), URL_VARIABLE: url}
    timed = list(range(options.participants))
    warm = list(range(options.participants, options.participants + options.warmup))
    messages = options.script.messages
    mine_log, bare_log = workdir / f"withus-{database}.log", workdir / f"bare-{database}.log"
    with serving(withus_command, env, mine_log, withus_port) as mine_master, \
            serving(bare_command, bare_env, bare_log, bare_port) as bare_master, \
            RssSampler(mine_master) as mine_rss, RssSampler(bare_master) as bare_rss:
        endpoints = [
            Endpoint(Run(database, "withus", options.participants, options.concurrency),
                     withus_port, mine_master, mine_log),
            Endpoint(Run(database, "bare", options.participants, options.concurrency),
                     bare_port, bare_master, bare_log),
        ]
        for endpoint, rss in zip(endpoints, (mine_rss, bare_rss), strict=True):
            endpoint.run.idle_rss_mb = max(rss.sample().values(), default=0) / 2**20
        deadline = time.monotonic() + options.max_seconds
        for endpoint in endpoints:  # untimed: first requests import and compile things
            drive(endpoint.port, warm, messages,
                  min(options.concurrency, max(1, options.warmup)), deadline)
        for chunk in rounds_of(timed, options.rounds):
            for endpoint in endpoints:
                endpoint.drive(chunk, messages, options.concurrency, deadline)
    for endpoint, rss in zip(endpoints, (mine_rss, bare_rss), strict=True):
        endpoint.finish(rss)
        endpoint.run.log_errors = count_log_errors(endpoint.log_path)
    everyone = options.participants + options.warmup
    mine, bare = (endpoint.run for endpoint in endpoints)
    count_withus(mine, url, everyone, options.script)
    bare.expected, bare.stored = everyone * len(messages), count_rows(url)
    bare.lost = max(0, bare.expected - bare.stored)
    bare.duplicates = max(0, bare.stored - bare.expected)
    return [mine, bare]


def count_log_errors(log_path: Path) -> int:
    """Log lines at error level or carrying a traceback: there should be none."""
    count = 0
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            count += "Traceback" in line or "[ERROR]" in line
            continue
        if isinstance(entry, dict) and (entry.get("level") in ("error", "critical")
                                        or "error" in entry):
            count += 1
    return count


def count_withus(run: Run, url: str, participants: int, script: Script) -> None:
    """Every message claimed once, every answer stored once, every response completed."""
    sent = participants * len(script.messages)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            def scalar(statement: object) -> int:
                return int(connection.scalar(statement) or 0)  # type: ignore[call-overload]

            inbound = scalar(select(func.count()).select_from(InboundMessage))
            answers = scalar(select(func.count()).select_from(Answer)
                             .where(Answer.kind == "value"))
            distinct = scalar(
                select(func.count()).select_from(
                    select(Answer.participant_id, Answer.question_id)
                    .where(Answer.kind == "value").distinct().subquery()
                )
            )
            completed = scalar(select(func.count()).select_from(Response)
                               .where(Response.status == "completed"))
    finally:
        engine.dispose()
    run.expected = participants * script.answers
    run.stored = distinct
    run.duplicates = answers - distinct
    run.lost = (run.expected - distinct) + max(0, sent - inbound)
    run.detail = {"inbound_sent": sent, "inbound_stored": inbound,
                  "responses_completed": completed, "participants": participants}


# -- databases ----------------------------------------------------------------------------


@contextmanager
def sqlite_database(workdir: Path) -> Iterator[str]:
    yield f"sqlite:///{workdir / 'withus.db'}"


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database on the server, dropped afterwards whatever happens."""
    server = normalise_url(server_url)
    name = f"withus_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def bench_database(database: str, options: Options) -> list[Run]:
    with tempfile.TemporaryDirectory(prefix="withus-bench-") as tmp, \
            FakeTwilioAPI(ACCOUNT_SID, AUTH_TOKEN) as twilio:
        workdir = Path(tmp)
        if database == "sqlite":
            opened = sqlite_database(workdir)
        else:
            opened = postgres_database(os.environ[POSTGRES_URL_VARIABLE])
        with opened as url:
            runs = measure_both(database, url, workdir, twilio, options)
        if twilio.messages:  # web workers only queue replies; the scheduler sends them
            raise RuntimeError("the web workers sent messages: they must only queue them")
        return runs


# -- report -------------------------------------------------------------------------------


def ratio(runs: Sequence[Run], database: str) -> float:
    by = {r.endpoint: r for r in runs if r.database == database}
    bare = by.get("bare")
    mine = by.get("withus")
    return mine.per_second / bare.per_second if mine and bare and bare.per_second else 0.0


def report(runs: Sequence[Run], options: Options) -> str:
    """The table, then one verdict line per database."""
    lines = [
        f"Webhook hot path: {options.participants} participants x "
        f"{len(options.script.messages)} messages of {SURVEY!r} "
        f"(+{options.warmup} warm-up), {options.concurrency} connections, "
        f"{options.workers} workers, {options.rounds} alternating rounds",
        "",
        f"{'database':9} {'endpoint':12} {'requests':>8} {'answers/s':>9} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'CPU ms/req':>10} {'RSS/worker':>10} {'lost':>4} "
        f"{'dup':>3} {'errors':>6} {'log err':>7}",
    ]
    for run in runs:
        name = "withus web" if run.endpoint == "withus" else "bare INSERT"
        lines.append(
            f"{run.database:9} {name:12} {run.requests:8d} {run.per_second:9.1f} "
            f"{run.p50_ms:7.1f} {run.p99_ms:7.1f} {run.max_ms:7.1f} {run.cpu_ms:10.2f} "
            f"{run.peak_rss_mb:7.1f} MB {run.lost:4d} {run.duplicates:3d} {run.errors:6d} "
            f"{run.log_errors:7d}" + ("  INCOMPLETE (--max-seconds)" if run.incomplete else "")
        )
    lines.append("")
    for database in dict.fromkeys(r.database for r in runs):
        mine = next(r for r in runs if r.database == database and r.endpoint == "withus")
        bare = next(r for r in runs if r.database == database and r.endpoint == "bare")
        value = ratio(runs, database)
        cpu = bare.cpu_ms / mine.cpu_ms if mine.cpu_ms else 0.0

        def verdict(met: bool) -> str:
            return "met" if met else "MISSED"

        server = (f"; PostgreSQL server CPU per request {mine.db_cpu_ms:.2f} ms, bare "
                  f"{bare.db_cpu_ms:.2f} ms" if mine.db_cpu_ms or bare.db_cpu_ms else "")
        lines.append(
            f"{database}: ratio {value:.2f} (target >= {TARGET_RATIO}: "
            f"{verdict(value >= TARGET_RATIO)}; worker CPU per request ratio {cpu:.2f}), "
            f"p99 {mine.p99_ms:.1f} ms (target <= {TARGET_P99_MS:.0f}: "
            f"{verdict(mine.p99_ms <= TARGET_P99_MS)}), peak RSS {mine.peak_rss_mb:.0f} MB "
            f"per worker (target <= {TARGET_RSS_MB:.0f}: "
            f"{verdict(mine.peak_rss_mb <= TARGET_RSS_MB)}){server}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=4,
                        help="untimed participants first, so first-request costs don't count")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternate the two endpoints this many times")
    parser.add_argument("--quick", action="store_true", help="50 participants (the smoke test)")
    parser.add_argument("--databases", default="",
                        help="comma-separated: sqlite,postgres (default: sqlite, plus "
                             f"postgres when {POSTGRES_URL_VARIABLE} is set)")
    parser.add_argument("--max-seconds", type=float, default=300.0,
                        help="stop driving one endpoint after this long (reported)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    participants = 50 if args.quick else args.participants
    if not 0 < participants < 100_000 or not 0 < args.concurrency <= 256:
        parser.error("participants must be 1..99999 and concurrency 1..256")
    databases = [d.strip() for d in args.databases.split(",") if d.strip()] or (
        ["sqlite", "postgres"] if os.environ.get(POSTGRES_URL_VARIABLE) else ["sqlite"]
    )
    for database in databases:
        if database not in ("sqlite", "postgres"):
            parser.error(f"unknown database {database!r}")
        if database == "postgres" and not os.environ.get(POSTGRES_URL_VARIABLE):
            parser.error(f"postgres needs {POSTGRES_URL_VARIABLE} (make benchmark sets it)")
    options = Options(participants, args.concurrency, args.workers, args.warmup,
                      2 if args.quick else args.rounds, args.max_seconds,
                      script_for(SURVEY, ROOT / "surveys" / "library"))
    runs: list[Run] = []
    for database in databases:
        runs += bench_database(database, options)
    print(report(runs, options), flush=True)
    if args.json:
        figures = {
            "options": asdict(options),
            "runs": [asdict(run) for run in runs],
            "ratios": {database: ratio(runs, database) for database in databases},
        }
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    # Missing a target is a finding, not a failure; losing or duplicating data is.
    broken = any(r.lost or r.duplicates or r.errors or r.log_errors or r.incomplete
                 for r in runs)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
