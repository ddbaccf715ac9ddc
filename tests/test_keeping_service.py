"""Nothing said is lost, through the real service on both databases: words joined into
one answer, other replies kept redacted, long answers kept whole up to the limit, and
all of it in the exports (CSV, JSON Lines, XLSX)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.services.runtime import Runtime
from channels.base import InboundMessage
from storage.exports import ExportPlan, export, load_versions
from storage.models import Answer, OtherReply
from tests.helpers import FakeClock
from tests.test_service import RecordingChannel, make_runtime

PHONE = "07700 900321"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> RecordingChannel:
    return RecordingChannel()


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FakeClock,
            fake: RecordingChannel) -> Iterator[Runtime]:
    rt = make_runtime(database_url, tmp_path, clock=clock, channels={"fake": fake},
                      join_seconds=8.0, follow_on_seconds=120.0)
    yield rt
    rt.close()


class Person:
    def __init__(self, runtime: Runtime, clock: FakeClock, fake: RecordingChannel) -> None:
        self.runtime, self.clock, self.fake, self.n = runtime, clock, fake, 0

    def say(self, text: str, after: float = 30, media_type: str = "") -> list[str]:
        self.clock.advance(seconds=after)
        self.n += 1
        kind = "media" if media_type and not text else "text"
        self.runtime.service.handle(InboundMessage("fake", PHONE, f"k{self.n}", kind,  # type: ignore[arg-type]
                                                   text=text, media_type=media_type))
        before = len(self.fake.sent)
        self.runtime.sender.run_once()
        return [m.text for _a, m in self.fake.sent[before:]]


@pytest.fixture
def person(runtime: Runtime, clock: FakeClock, fake: RecordingChannel) -> Person:
    return Person(runtime, clock, fake)


def _to_why(person: Person) -> None:
    person.say("FFT")
    person.say("English")
    person.say("yes")
    assert person.say("Poor")[0].startswith("What was good, and what could be better?")


def answers(runtime: Runtime) -> dict[str, object]:
    with runtime.sessions() as session:
        return {a.question_id: a.value for a in session.scalars(
            select(Answer).where(Answer.kind == "value"))}


def others(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.sessions() as session:
        return [(o.question_id, o.text) for o in session.scalars(
            select(OtherReply).order_by(OtherReply.id))]


def test_two_texts_seconds_apart_are_one_answer(runtime: Runtime, person: Person) -> None:
    _to_why(person)
    assert person.say("The carer came late every day and")[0].startswith("May we quote")
    assert person.say("my mum missed her lunch because of it", after=3) == []  # joined
    assert answers(runtime)["why"] == ("The carer came late every day and\n"
                                       "my mum missed her lunch because of it")


def test_a_later_message_that_is_no_answer_is_added_and_the_question_asked_again(
        runtime: Runtime, person: Person) -> None:
    _to_why(person)
    person.say("The carer came late.")
    replies = person.say("Also nobody rang to say why, ring me on 07700 900456", after=50)
    assert replies[0] == "Thank you, we've added that to your last answer."
    assert replies[1].startswith("May we quote your words")
    why = answers(runtime)["why"]
    assert isinstance(why, str) and why.startswith("The carer came late.\nAlso nobody rang")
    assert "900456" not in why  # redacted like any free text


def test_a_reply_that_is_no_answer_is_kept_redacted_with_its_question(
        runtime: Runtime, person: Person) -> None:
    person.say("FFT")
    person.say("English")
    person.say("yes")
    person.say("it depends who comes, email me at jo@example.org")
    assert others(runtime)[-1][0] == "overall"
    assert "jo@example.org" not in others(runtime)[-1][1]
    assert others(runtime)[-1][1].startswith("it depends who comes")


def test_a_long_answer_is_kept_whole_up_to_the_limit_and_the_person_told(
        runtime: Runtime, person: Person) -> None:
    _to_why(person)
    long = "The visits were rushed and nobody listened. " * 150  # 6,600 characters
    replies = person.say(long)
    assert "longer than we can keep in one answer (5000 characters)" in replies[0]
    kept = answers(runtime)["why"]
    assert isinstance(kept, str) and 4000 < len(kept) <= 5000
    assert long.startswith(kept) and long[len(kept)] == " "  # cut at a word, not mid-word
    more = person.say("and that is all", after=3)  # a join never passes the limit unsaid
    assert more[0].startswith("Your answer is already as long as we can keep")
    assert answers(runtime)["why"] == kept


def test_a_caption_is_read_as_the_answer_with_the_media_marker_beside_it(
        runtime: Runtime, person: Person, fake: RecordingChannel) -> None:
    person.say("FFT")
    person.say("English")
    person.say("yes")
    person.runtime.service.handle(InboundMessage("fake", PHONE, "cap1", "media",
                                                 text="2", media_type="photo"))
    with runtime.sessions() as session:
        kinds = {(a.question_id, a.kind): a.value for a in session.scalars(select(Answer))}
    assert kinds[("overall", "value")] == "good"
    assert kinds[("overall", "media")] == {"media": "photo"}


def test_other_replies_are_in_every_export(runtime: Runtime, person: Person,
                                           tmp_path: Path) -> None:
    person.say("FFT")
    person.say("English")
    person.say("yes")
    person.say("not sure what you mean by service")
    person.say("1")
    person.say("SKIP")
    person.say("yes")
    person.say("thanks, bye x")
    with runtime.sessions() as session:
        plan = ExportPlan(load_versions(session, "fft"))
    out = io.BytesIO()
    export(runtime.sessions, plan, "csv", out)
    header, row = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    cell = dict(zip(header, row, strict=True))["Other replies"]
    assert cell == "[overall] not sure what you mean by service\n[done] thanks, bye x"
    out = io.BytesIO()
    export(runtime.sessions, plan, "jsonl", out)
    record = json.loads(out.getvalue())
    assert [(o["question"], o["text"]) for o in record["other_replies"]] == [
        ("overall", "not sure what you mean by service"), ("done", "thanks, bye x")]
    path = tmp_path / "fft.xlsx"
    export(runtime.sessions, plan, "xlsx", io.BytesIO(), xlsx_path=path)
    sheet = load_workbook(path)["Responses"]
    headers = [c.value for c in sheet[1]]
    assert sheet.cell(row=2, column=headers.index("Other replies") + 1).value == cell


def test_reviewers_read_other_replies_on_the_survey_page_once_enough_people_sent_one(
        runtime: Runtime, clock: FakeClock) -> None:
    from bot.web.app import create_app
    from tests.browser.seed import add_user
    from tests.test_dashboard import sign_in

    add_user(runtime, "reviewer@example.org", "reviewer")
    client = create_app(runtime=runtime).test_client()
    sign_in(client, "reviewer@example.org")
    k = runtime.settings.min_cell
    for n in range(k):
        address = f"07700 900{n:03d}"
        for text in ("FFT", "English", "yes", f"it depends on the day, number {n}"):
            clock.advance(seconds=30)
            runtime.service.handle(InboundMessage("fake", address, f"o{n}-{text}", "text",
                                                  text=text))
        if n == k - 2:
            shown = client.get("/dashboard/surveys/fft").get_data(as_text=True)
            assert "Hidden, because fewer than" in shown and "it depends" not in shown
    shown = client.get("/dashboard/surveys/fft").get_data(as_text=True)
    assert "Other replies" in shown
    assert "it depends on the day, number 0" in shown
    assert "At: Overall, how was your experience of our service?" in shown  # where it arrived
