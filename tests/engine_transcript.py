"""Run a scripted conversation through the pure engine and render it as reviewable text.

Used by the golden-file tests: each scenario in tests/golden/*.yaml lists what the person
sends; the rendered transcript (replies, and what would be stored) sits beside it, so
anyone in the coproduction group can read how the bot behaves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from surveys.consultation import Candidate, StatementProposed, VoteCast, build_context
from surveys.conversation import (
    AnswerAdded,
    AnswerGiven,
    Completed,
    ConsentDecision,
    DataRequested,
    ErasureRequested,
    Event,
    LanguageChosen,
    OptedIn,
    OptedOut,
    OtherReply,
    PreferredTime,
    QuotePermission,
    Record,
    Reply,
    ShareBackChoice,
    Started,
)
from surveys.engine import Catalog
from surveys.keeping import converse
from surveys.mydata import Held, summary

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
#: Between two messages, unless a `wait` says otherwise: long enough that each is read on
#: its own (surveys.keeping joins messages seconds apart); `wait: 3s` shows a quick one.
GAP = timedelta(minutes=10)
_WAIT = re.compile(r"^(\d+)([smhd])$")


def parse_event(raw: Any) -> Event | timedelta:
    if isinstance(raw, str | int | float):
        return Event("text", text=str(raw))
    assert isinstance(raw, dict) and len(raw) == 1, f"bad event {raw!r}"
    (kind, value), = raw.items()
    if kind == "wait":
        match = _WAIT.match(str(value))
        assert match, f"wait takes e.g. 5s, 30m, 2h or 3d, not {value!r}"
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
        return timedelta(**{unit: int(match.group(1))})
    if kind == "start":
        return Event("start", survey_id=str(value or ""))
    if kind == "button":
        return Event("button", payload=str(value))
    if kind == "media":
        if isinstance(value, dict):  # {media: {type: photo, caption: "2"}}
            return Event("media", media_type=str(value.get("type", "photo")),
                         text=str(value.get("caption", "")))
        return Event("media", media_type=str(value))
    if kind == "timeout":
        return Event("timeout")
    if kind == "text":
        return Event("text", text=str(value))
    raise AssertionError(f"unknown event kind {kind!r}")


def render_reply(reply: Reply) -> str:
    text = reply.text
    if reply.choices:
        marker = " (pick any)" if reply.multiple else ""
        text += "\n  [" + " | ".join(c.label for c in reply.choices) + "]" + marker
    return text


def render_record(record: Record) -> str:
    if isinstance(record, Started):
        return f"started {record.survey_id} v{record.version} ({record.language})"
    if isinstance(record, ConsentDecision):
        return f"consent {'given' if record.given else 'declined'} (v{record.consent_version})"
    if isinstance(record, AnswerGiven):
        if record.kind == "skipped":
            return f"skipped {record.question_id}"
        if record.kind == "media":
            return f"media for {record.question_id}: {record.value}"
        label = f" ({record.label})" if record.label else ""
        return f"answer {record.question_id} = {record.value!r}{label}"
    if isinstance(record, AnswerAdded):
        return f"added to {record.question_id}: {record.text!r}"
    if isinstance(record, OtherReply):
        return f"other reply at {record.question_id}: {record.text!r}"
    if isinstance(record, Completed):
        return f"completed {record.survey_id}"
    if isinstance(record, OptedOut):
        return "opted out"
    if isinstance(record, OptedIn):
        return "opted in"
    if isinstance(record, QuotePermission):
        return f"quotes {'allowed' if record.allowed else 'not allowed'}"
    if isinstance(record, ShareBackChoice):
        return f"share-back {'wanted' if record.wanted else 'not wanted'}"
    if isinstance(record, PreferredTime):
        return f"preferred time {record.value}"
    if isinstance(record, LanguageChosen):
        return f"language {record.language}"
    if isinstance(record, DataRequested):
        return "asked what we hold"
    if type(record).__name__ == "SurveyClosed":
        return "survey closed"
    if isinstance(record, ErasureRequested):
        return "asked to erase everything"
    if isinstance(record, VoteCast):
        return f"vote on statement {record.statement_id}: {record.vote}"
    if isinstance(record, StatementProposed):
        return f"statement for {record.question_id}, waits for a reviewer: {record.text!r}"
    raise AssertionError(record)


class StatementPool:
    """Plays the service's part in a consultation: the statements on offer, and the votes.

    Each is {id, question, text, author: "me" or anyone else, status, votes}. What the
    person proposes joins the pool as pending, so a transcript shows it is never offered.
    """

    ME = "me"

    def __init__(self, statements: list[dict[str, Any]] | None) -> None:
        self.rows = [dict(row) for row in statements or []]
        self.voted: set[int] = set()

    def context(self, catalog: Catalog, state: dict[str, Any] | None) -> dict[str, Any] | None:
        consultation = catalog.consultations.get((state or {}).get("survey") or "")
        if consultation is None:
            return None
        approved = [Candidate(int(r["id"]), str(r["question"]), str(r["text"]),
                              str(r.get("author", "organisers")))
                    for r in self.rows if r.get("status", "approved") == "approved"]
        votes = {int(r["id"]): int(r.get("votes", 0)) for r in self.rows}
        return build_context(consultation, state, approved, votes, self.ME, self.voted)

    def apply(self, records: list[Record]) -> None:
        for record in records:
            if isinstance(record, VoteCast):
                self.voted.add(record.statement_id)
                for row in self.rows:
                    if row["id"] == record.statement_id:
                        row["votes"] = int(row.get("votes", 0)) + 1
            elif isinstance(record, StatementProposed):
                self.rows.append({"id": max([0, *(r["id"] for r in self.rows)]) + 1,
                                  "question": record.question_id, "text": record.text,
                                  "author": self.ME, "status": "pending"})


class Holdings:
    """Plays the service's part for MYDATA: what the database would hold per survey (its
    responses' first and last moments, its answers), so a transcript shows the reply the
    service writes with surveys.mydata."""

    def __init__(self, channel: str | None) -> None:
        self.channel = channel
        self.held: dict[str, list[Any]] = {}  # survey id: [answers, first, last]

    def apply(self, records: list[Record], now: datetime) -> None:
        for record in records:
            if isinstance(record, Started):
                self.held.setdefault(record.survey_id, [0, now, now])
            if isinstance(record, AnswerGiven | Started | Completed | ConsentDecision):
                held = self.held.setdefault(record.survey_id, [0, now, now])
                held[2] = now
                if isinstance(record, AnswerGiven) and record.kind == "value":
                    held[0] += 1
            if isinstance(record, ErasureRequested):
                self.held.clear()

    def reply(self, catalog: Catalog, language: str) -> Reply:
        held = []
        for survey_id, (answers, first, last) in self.held.items():
            item = catalog.item(survey_id)
            title = item.title.get(language) if item else survey_id
            held.append(Held(title, answers, first, last))
        return Reply(summary(held, language, self.channel or "sms"))


def run(catalog: Catalog, events: list[Any],
        statements: list[dict[str, Any]] | None = None,
        render: Callable[[Reply, Event, dict[str, Any]], list[str]] | None = None,
        channel: str | None = None) -> list[dict[str, Any]]:
    """Play `events`; return one entry per event with the replies and records.

    `statements` stands in for the database in a consultation (see StatementPool), and
    a model of what is stored answers MYDATA as the service would (see Holdings), for
    someone reached on `channel` (SMS unless given).
    """
    now, state = START, None
    pool = StatementPool(statements)
    holdings = Holdings(channel)
    transcript: list[dict[str, Any]] = []
    waited = False
    for raw in events:
        event = parse_event(raw)
        if isinstance(event, timedelta):
            now += event
            waited = True
            continue
        if not waited:
            now += GAP
        waited = False
        result = converse(catalog, state, event, now, pool.context(catalog, state))
        pool.apply(result.records)
        state = result.state
        replies = list(result.replies)
        if any(isinstance(r, DataRequested) for r in result.records):
            replies.append(holdings.reply(catalog, str(state.get("lang") or "en")))
        holdings.apply(result.records, now)
        out = ([part for r in replies for part in render(r, event, state)]
               if render else [render_reply(r) for r in replies])
        entry: dict[str, Any] = {"in": raw, "out": out}
        if result.records:
            entry["stored"] = [render_record(r) for r in result.records]
        transcript.append(entry)
    return transcript
