"""Messy personas through every example survey: nothing anyone sends is dropped.

Each persona (tests/personas.py) answers the way real people do: typos, two texts in a
row, a long answer in two parts, emoji, Welsh, STOP half-way, chit-chat after finishing,
a "1" by mistake before the real answer. For every message, this checks that it became an
answer, a keyword, or words kept (a free-text answer, words added to one, or an "other
reply"), and prints what a completed survey costs per channel (`pytest -s` shows it).
"""

from __future__ import annotations

import pytest

from surveys.consultation import StatementProposed
from surveys.conversation import AnswerAdded, AnswerGiven, OtherReply
from tests.personas import (
    CHANNELS,
    PERSONAS,
    Run,
    drive,
    free_text_kept,
    is_keyword,
    library,
    table,
)

ITEMS = library()
WORDS_KEPT = (AnswerAdded, OtherReply, StatementProposed)


def _coded(records: list[object]) -> bool:
    """A record that means the message was understood as an answer or a choice."""
    for record in records:
        if isinstance(record, WORDS_KEPT):
            continue
        if isinstance(record, AnswerGiven) and (record.free_text or record.kind == "media"):
            continue
        return True
    return False


def dropped(run: Run) -> list[str]:
    """Every message whose words went nowhere."""
    lost = []
    for turn in run.turns:
        text = turn.sent.text.strip()
        if not text or is_keyword(text) or _coded(turn.records):
            continue
        if turn.state.get("q") != turn.before.get("q"):
            continue  # it moved them on ("NO" to adding a point of their own)
        kept = free_text_kept(turn.records)
        told = any("longer than we can keep" in r.text or "as long as we can keep" in r.text
                   for r in turn.replies)
        if text in kept or (told and any(k and text.startswith(k[:-1]) for k in kept)):
            continue
        if told and not kept:
            continue  # nothing more fits, and they were told so
        lost.append(text)
    return lost


@pytest.mark.parametrize("item", ITEMS, ids=lambda i: i.id)
@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.name)
def test_nothing_any_persona_sends_is_dropped(item, persona) -> None:
    run = drive(persona, item)
    assert run.completed, f"{persona.name} never finished {item.id}"
    assert dropped(run) == []
    for turn in run.turns:
        quiet = (turn.state.get("stopped") or any(isinstance(r, AnswerAdded) for r in turn.records)
                 or turn.sent.text.strip().upper() in ("STOP", "STOPIO"))
        assert turn.replies or quiet, f"no reply to {turn.sent.text!r}"


def test_two_texts_in_a_row_make_one_answer() -> None:
    fft = next(i for i in ITEMS if i.id == "carers")
    run = drive(next(p for p in PERSONAS if p.name == "long-answer"), fft)
    added = [r for t in run.turns for r in t.records if isinstance(r, AnswerAdded)]
    assert added and all(r.text.startswith("and that is the end") for r in added)


def test_a_mistaken_one_does_not_lose_the_real_answer_in_a_consultation() -> None:
    fairpay = next(i for i in ITEMS if i.id == "fairpay")
    run = drive(next(p for p in PERSONAS if p.name == "mistaken-one"), fairpay)
    added = [r for t in run.turns for r in t.records if isinstance(r, AnswerAdded)]
    assert len(added) == len(fairpay.questions)
    assert all(r.text.startswith("Pay should be the same") for r in added)
    votes = [r for t in run.turns for r in t.records if type(r).__name__ == "VoteCast"]
    assert votes, "the votes still happen after the real answer was kept"


def test_segments_per_completed_survey_per_channel(capsys: pytest.CaptureFixture[str]) -> None:
    report = table()
    with capsys.disabled():
        print("\n" + report)
    rows = [line.split() for line in report.splitlines() if line.split()[:1]
            and line.split()[0] in {i.id for i in ITEMS}]
    assert len(rows) == len(ITEMS) * len(CHANNELS)
    for survey, _channel, first, done, _messy, completed in rows:
        assert 0 < int(first) <= int(done), survey
        assert completed.split("/")[0] == completed.split("/")[1], survey
