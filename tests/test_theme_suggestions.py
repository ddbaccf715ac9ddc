"""Suggested themes: similar answers are grouped, a reviewer accepts or rejects, and nothing
is ever tagged without a click.

The grouping is tested on its own (pure: texts in, suggestions out) with realistic carers'
answers (tests/carers_answers.py), and through the dashboard with the real app, real
database (SQLite and PostgreSQL) and real CSRF tokens.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.services import theme_suggestions
from bot.services.runtime import Runtime
from bot.services.theme_suggestions import MIN_ANSWERS, fold, suggest_themes
from storage.models import AnswerTheme, Theme, ThemeRejection
from tests.browser.seed import Person, seed
from tests.carers_answers import CARERS_ANSWERS, all_answers, ids_of
from tests.helpers import REVIEWER, dashboard_client, dashboard_runtime, sign_in, token
from tests.test_dashboard import page

SURVEY = "/dashboard/surveys/carers"


def group_of(answer_id: int) -> str:
    return next((name for name in CARERS_ANSWERS if answer_id in ids_of(name)), "odd")


# --- the grouping, on its own ---------------------------------------------------------------


def test_obviously_similar_answers_are_suggested_together() -> None:
    found = suggest_themes(all_answers(), {}, {}, {})
    assert found.reason == ""
    groups = [{group_of(a) for a in s.answer_ids} for s in found.suggestions]
    # Every suggestion holds answers of one kind only: no respite answer among the money ones.
    assert all(len(g) == 1 for g in groups), [
        (s.name, sorted(group_of(a) for a in s.answer_ids)) for s in found.suggestions]
    assert "odd" not in set().union(*groups)  # "A ramp for the front door" stands alone
    # And each kind of answer is found, most of its answers with it.
    for name in CARERS_ANSWERS:
        offered = max((set(s.answer_ids) & ids_of(name) for s in found.suggestions), key=len)
        assert len(offered) >= 0.6 * len(ids_of(name)), (name, found.suggestions)
    # Every suggestion is a new theme named from its top words, in the case people wrote.
    assert all(s.theme_id is None and s.name for s in found.suggestions)
    names = {group_of(s.answer_ids[0]): s.name.casefold() for s in found.suggestions}
    assert "respite" in names["respite"] or "break" in names["respite"]
    assert "money" in names["money"] or "allowance" in names["money"]
    gp = next(s for s in found.suggestions if group_of(s.answer_ids[0]) == "gp")
    assert "GP" in gp.terms
    assert "lonely" in names["lonely"]


def test_the_same_answers_give_the_same_suggestions() -> None:
    first = suggest_themes(all_answers(), {}, {}, {})
    theme_suggestions._cache.clear()
    assert suggest_themes(all_answers(), {}, {}, {}) == first


def test_redaction_labels_are_not_words_in_common() -> None:
    answers = [(n, f"[NAME] said [PLACE] {word}") for n, word in enumerate(
        ["parking", "ramp", "garden", "bus", "dog", "radio", "chair", "train", "stairs",
         "phone", "kitchen", "weather"], start=1)]
    found = suggest_themes(answers, {}, {}, {})
    assert found.suggestions == ()
    assert found.reason == "These answers have too few words in common to group."


def test_too_few_answers_give_no_suggestions_and_say_why() -> None:
    found = suggest_themes(all_answers()[:MIN_ANSWERS - 1], {}, {}, {})
    assert found.suggestions == ()
    assert found.reason == (f"Suggestions need at least {MIN_ANSWERS} written answers to this "
                            f"question; there are {MIN_ANSWERS - 1}.")


def test_an_existing_theme_is_proposed_for_answers_like_those_tagged_with_it() -> None:
    respite = sorted(ids_of("respite"))
    tagged = {respite[0]: [7], respite[1]: [7]}
    found = suggest_themes(all_answers(), {7: "Time off", 8: "Transport"}, tagged, {})
    time_off = [s for s in found.suggestions if s.theme_id == 7]
    assert len(time_off) == 1 and time_off[0].name == "Time off"
    offered = set(time_off[0].answer_ids)
    assert offered <= ids_of("respite") and len(offered) >= 3
    # Already tagged with it: not offered again.
    assert not offered & {respite[0], respite[1]}
    assert not any(s.theme_id == 8 for s in found.suggestions)


def test_a_theme_named_like_a_top_word_is_proposed() -> None:
    found = suggest_themes(all_answers(), {3: "Money"}, {}, {})
    money = [s for s in found.suggestions if s.theme_id == 3]
    assert len(money) == 1 and set(money[0].answer_ids) <= ids_of("money")


def test_a_new_theme_accepted_as_suggested_is_then_an_existing_theme() -> None:
    first = suggest_themes(all_answers(), {}, {}, {})
    money = next(s for s in first.suggestions if group_of(s.answer_ids[0]) == "money")
    tagged = {a: [5] for a in money.answer_ids[:-2]}
    again = suggest_themes(all_answers(), {5: money.name}, tagged, {})
    same = [s for s in again.suggestions if s.key == money.key]
    assert len(same) == 1 and same[0].theme_id == 5
    assert same[0].answer_ids == money.answer_ids[-2:]


def test_a_rejected_suggestion_is_not_made_again_for_those_answers() -> None:
    first = suggest_themes(all_answers(), {}, {}, {})
    lonely = next(s for s in first.suggestions if group_of(s.answer_ids[0]) == "lonely")
    rejected = {a: {lonely.key} for a in lonely.answer_ids}
    again = suggest_themes(all_answers(), {}, {}, rejected)
    assert lonely.key not in {s.key for s in again.suggestions}
    assert len(again.suggestions) == len(first.suggestions) - 1
    # Rejected for some of its answers only: offered for the rest.
    some = {a: {lonely.key} for a in lonely.answer_ids[:1]}
    rest = next(s for s in suggest_themes(all_answers(), {}, {}, some).suggestions
                if s.key == lonely.key)
    assert rest.answer_ids == lonely.answer_ids[1:]


# --- on the dashboard -----------------------------------------------------------------------


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path) as rt:
        yield rt


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return dashboard_client(runtime)


def seed_carers(runtime: Runtime, texts: list[str]) -> None:
    seed(runtime, "carers", [Person({"missing": text, "time_for_me": 3}) for text in texts])


def fixture_texts() -> list[str]:
    return [text for _id, text in all_answers()]


def answer_ids(runtime: Runtime) -> dict[str, int]:
    from storage.models import Answer
    with runtime.sessions() as session:
        return {str(value): answer_id for answer_id, value in session.execute(
            select(Answer.id, Answer.value).where(Answer.question_id == "missing"))}


def suggestions_of(html: str) -> list[dict[str, object]]:
    """Each suggestion on the page: its heading, theme or name, and the answers listed."""
    panel = html[html.index('id="suggestions-panel"'):html.index('id="answers-heading"')]
    found = []
    for article in re.findall(r'<article class="suggestion".*?</article>', panel, re.S):
        accept = article[:article.index("/suggestions/reject")]
        found.append({
            "heading": htmllib.unescape(re.search(r"<h4[^>]*>(.*?)</h4>", article)[1]),  # type: ignore[index]
            "theme": (re.search(r'name="theme" value="(\d+)"', accept) or [None, None])[1],
            "name": htmllib.unescape(re.search(r'name="name"[^>]*value="([^"]*)"', article)[1]),  # type: ignore[index]
            "answers": [int(n) for n in re.findall(
                r'type="checkbox" name="answer" value="(\d+)"[^>]*checked', accept)],
        })
    return found


def tagged(runtime: Runtime) -> dict[str, set[int]]:
    with runtime.sessions() as session:
        rows = session.execute(select(Theme.name, AnswerTheme.answer_id)
                               .join(Theme, Theme.id == AnswerTheme.theme_id))
        found: dict[str, set[int]] = {}
        for name, answer_id in rows:
            found.setdefault(name, set()).add(answer_id)
        return found


def test_suggestions_are_made_only_when_asked_and_tag_nothing(
        client: FlaskClient, runtime: Runtime) -> None:
    seed_carers(runtime, fixture_texts())
    sign_in(client, REVIEWER)
    plain = page(client, SURVEY)
    assert "Suggest themes</button>" in plain
    assert '<article class="suggestion"' not in plain  # no grouping on an ordinary load
    asked = page(client, f"{SURVEY}?question=missing&suggest=1")
    shown = suggestions_of(asked)
    assert len(shown) >= 4
    by_text = {v: k for k, v in answer_ids(runtime).items()}
    for suggestion in shown:
        kinds = {group_of(fixture_texts().index(by_text[a]) + 1)
                 for a in suggestion["answers"]}  # type: ignore[attr-defined]
        assert len(kinds) == 1 and "odd" not in kinds, suggestion
    # The texts listed are the answers' own (redacted) words.
    assert "Respite care so I can have a break now and then." in asked
    assert tagged(runtime) == {}
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Theme)) == 0


def test_accept_tags_only_the_ticked_answers_with_a_new_theme(
        client: FlaskClient, runtime: Runtime) -> None:
    seed_carers(runtime, fixture_texts())
    sign_in(client, REVIEWER)
    view = f"{SURVEY}?question=missing&suggest=1"
    first = suggestions_of(page(client, view))[0]
    listed: list[int] = first["answers"]  # type: ignore[assignment]
    assert len(listed) >= 4
    ticked = listed[:-2]  # the reviewer unticks the last two
    reply = client.post(f"{SURVEY}/suggestions/accept", data={
        "question": "missing", "name": "Breaks for carers", "answer": [str(a) for a in ticked],
        "back": view, "csrf_token": token(client, SURVEY)})
    assert reply.status_code == 302
    assert reply.location == f"{view}#suggestions-heading"
    assert tagged(runtime) == {"Breaks for carers": set(ticked)}
    after = page(client, view)
    assert "Theme \u201cBreaks for carers\u201d created. Tagged " in after
    # Now an existing theme: proposed for the two left out, not for those tagged.
    again = [s for s in suggestions_of(after) if "Breaks for carers" in str(s["heading"])]
    assert again and set(again[0]["answers"]) == set(listed[-2:])  # type: ignore[arg-type]
    assert again[0]["heading"] == "Existing theme “Breaks for carers”"
    theme_id = again[0]["theme"]
    assert theme_id is not None
    client.post(f"{SURVEY}/suggestions/accept", data={
        "question": "missing", "theme": theme_id, "answer": [str(a) for a in listed[-2:]],
        "back": view, "csrf_token": token(client, SURVEY)})
    assert tagged(runtime) == {"Breaks for carers": set(listed)}
    assert not [s for s in suggestions_of(page(client, view))
                if "Breaks for carers" in str(s["heading"])]


def test_reject_is_remembered(client: FlaskClient, runtime: Runtime) -> None:
    seed_carers(runtime, fixture_texts())
    sign_in(client, REVIEWER)
    view = f"{SURVEY}?question=missing&suggest=1"
    before = suggestions_of(page(client, view))
    gone = before[1]
    reply = client.post(f"{SURVEY}/suggestions/reject", data={
        "question": "missing", "name": gone["name"],
        "answer": [str(a) for a in gone["answers"]],  # type: ignore[attr-defined]
        "back": view, "csrf_token": token(client, SURVEY)}, follow_redirects=True)
    assert "will not be suggested for these" in reply.get_data(as_text=True)
    with runtime.sessions() as session:
        rows = set(session.execute(select(ThemeRejection.answer_id, ThemeRejection.name)))
    assert rows == {(a, fold(str(gone["name"]))) for a in gone["answers"]}  # type: ignore[attr-defined]
    theme_suggestions._cache.clear()  # as after a restart: the rejection is in the database
    after = suggestions_of(page(client, view))
    assert gone["name"] not in [s["name"] for s in after]
    assert len(after) == len(before) - 1
    assert tagged(runtime) == {}


def test_the_forms_refuse_what_they_should(client: FlaskClient, runtime: Runtime) -> None:
    seed_carers(runtime, fixture_texts())
    sign_in(client, REVIEWER)
    ids = sorted(answer_ids(runtime).values())
    accept, reject = f"{SURVEY}/suggestions/accept", f"{SURVEY}/suggestions/reject"
    good = {"question": "missing", "name": "Money", "answer": [str(ids[0])]}
    # No CSRF token: refused, nothing stored.
    assert client.post(accept, data=good).status_code == 400
    assert client.post(reject, data=good).status_code == 400
    csrf = token(client, SURVEY)
    # An answer of another question, an unknown one, another question or survey: not found.
    with runtime.sessions() as session:
        from storage.models import Answer
        scale = session.scalar(select(Answer.id).where(Answer.question_id == "time_for_me"))
    for bad in ({"answer": [str(ids[0]), str(scale)]}, {"answer": ["999999"]},
                {"question": "time_for_me"}, {"question": "nope"}):
        assert client.post(accept, data={**good, **bad, "csrf_token": csrf}).status_code == 404
        assert client.post(reject, data={**good, **bad, "csrf_token": csrf}).status_code == 404
    assert client.post("/dashboard/surveys/nope/suggestions/accept",
                       data={**good, "csrf_token": csrf}).status_code == 404
    too_many = {**good, "answer": [str(ids[0])] * 101, "csrf_token": csrf}
    assert client.post(accept, data=too_many).status_code == 413
    assert client.post(accept, data={**good, "answer": ["9" * 40],
                                     "csrf_token": csrf}).status_code == 400
    # Nothing ticked: nothing tagged, and it says why.
    nothing = client.post(accept, data={"question": "missing", "name": "Money",
                                        "csrf_token": csrf}, follow_redirects=True)
    assert "Tick one or more answers first" in nothing.get_data(as_text=True)
    assert tagged(runtime) == {}
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ThemeRejection)) == 0
    # Not signed in (with a good token for the session): to the sign-in page.
    anonymous = client.application.test_client()
    reply = anonymous.post(accept, data={**good, "csrf_token": token(anonymous)})
    assert reply.status_code == 302 and reply.location.startswith("/dashboard/login")
    assert tagged(runtime) == {}


def test_too_few_answers_say_why(database_url: str, tmp_path: Path) -> None:
    # With k = 5 the nine answers are shown, but they are too few to group.
    with dashboard_runtime(database_url, tmp_path, min_cell=5) as runtime:
        seed_carers(runtime, fixture_texts()[:MIN_ANSWERS - 1])
        html = page(dashboard_client(runtime, REVIEWER), f"{SURVEY}?question=missing&suggest=1")
        assert "A proper break." in html  # the answers are shown
        assert ("No suggestions. Suggestions need at least 10 written answers to this "
                "question in this view; there are 9.") in html
        assert '<article class="suggestion"' not in html


def test_no_suggestions_where_the_answers_are_hidden(
        client: FlaskClient, runtime: Runtime) -> None:
    seed_carers(runtime, fixture_texts()[:5])
    sign_in(client, REVIEWER)
    html = page(client, f"{SURVEY}?question=missing&suggest=1")
    assert "are hidden in this view" in html
    assert 'id="suggestions-panel"' not in html and "Respite" not in html


def test_a_rejection_goes_when_its_answer_is_erased(
        client: FlaskClient, runtime: Runtime) -> None:
    from bot.services.privacy import erase_participant
    from storage.models import Answer
    from storage.uow import UnitOfWork

    seed_carers(runtime, fixture_texts())
    sign_in(client, REVIEWER)
    ids = sorted(answer_ids(runtime).values())[:2]
    client.post(f"{SURVEY}/suggestions/reject", data={
        "question": "missing", "name": "Money", "answer": [str(a) for a in ids],
        "csrf_token": token(client, SURVEY)})
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ThemeRejection)) == 2
        pid = session.scalar(select(Answer.participant_id).where(Answer.id == ids[0]))
    assert pid is not None
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        erase_participant(uow, pid, runtime.clock(), "participant")
        uow.commit()
    with runtime.sessions() as session:
        assert set(session.scalars(select(ThemeRejection.answer_id))) == {ids[1]}


def test_a_big_group_shows_two_examples_and_scrolls(
        client: FlaskClient, runtime: Runtime) -> None:
    seed_carers(runtime, fixture_texts() * 3)
    sign_in(client, REVIEWER)
    html = page(client, f"{SURVEY}?question=missing&suggest=1")
    biggest = max(suggestions_of(html), key=lambda s: len(s["answers"]))  # type: ignore[arg-type]
    assert len(biggest["answers"]) > 12  # type: ignore[arg-type]
    assert '<ul class="suggested-answers long">' in html
    assert html.count("<p>For example: \u201c") >= 1


def test_welsh_answers_are_grouped_by_what_they_say() -> None:
    from tests.carers_answers import WELSH_ANSWERS

    answers = list(enumerate((t for group in WELSH_ANSWERS.values() for t in group), start=1))
    kind = {n: name for n, name in enumerate(
        (name for name, group in WELSH_ANSWERS.items() for _t in group), start=1)}
    found = suggest_themes(answers, {}, {}, {})
    assert all(len({kind[a] for a in s.answer_ids}) == 1 for s in found.suggestions)
    named = {kind[s.answer_ids[0]]: s for s in found.suggestions}
    assert set(named) == {"respite", "money", "gp"}
    assert "seibiant" in named["respite"].terms and "arian" in named["money"].terms
    common = {"yn", "mae", "ddim", "cael", "gyda", "mwy"}
    assert not common & {w for s in found.suggestions for t in s.terms for w in t.split()}
