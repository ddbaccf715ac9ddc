"""The dashboard through Flask's test client: sign-in, permissions, CSRF, suppression.

Real app, real database (SQLite and PostgreSQL), real CSRF tokens scraped from the pages
as a browser would send them. Nothing under test is mocked.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.services.runtime import Runtime
from bot.web.app import create_app
from storage.models import AnswerTheme, AuditEvent, Note, Theme
from tests.browser.seed import FFT_PEOPLE, PASSWORD, PHOTO, SKIP, Person, seed
from tests.helpers import (
    ORGANISER,
    REVIEWER,
    STAFF,
    TOKEN,
    FakeClock,
    dashboard_runtime,
    settings_for,
    sign_in,
    token,
)
from tests.privacy import scan_text


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path, STAFF, clock=clock) as rt:
        yield rt


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime=runtime)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def addresses(runtime: Runtime) -> list[str]:
    return seed(runtime, "fft", FFT_PEOPLE)


def page(client: FlaskClient, path: str) -> str:
    reply = client.get(path)
    assert reply.status_code == 200, (path, reply.status_code)
    return reply.get_data(as_text=True)


def count(runtime: Runtime, model: type) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- signing in --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/surveys/fft",
                                  "/dashboard/surveys/fft/prompts", "/dashboard/audit"])
def test_an_unauthenticated_user_is_redirected_to_sign_in(client: FlaskClient,
                                                          path: str) -> None:
    reply = client.get(path)
    assert reply.status_code == 302
    assert reply.location.startswith("/dashboard/login?next=")


def test_every_dashboard_page_needs_an_account(app: Flask) -> None:
    # Signing in: the password, the two-factor code, choosing a password through a link.
    public = {"dashboard.login", "dashboard.login_code", "dashboard.accept_invite"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("dashboard.") and rule.endpoint not in public:
            view = app.view_functions[rule.endpoint]
            assert getattr(view, "required_role", None) in ("reviewer", "organiser", "lead"), rule


def test_signing_in_and_out(client: FlaskClient) -> None:
    wrong = sign_in(client, ORGANISER, "not the password at all")
    assert wrong.status_code == 401
    assert "do not match an account" in wrong.get_data(as_text=True)
    unknown = sign_in(client, "nobody@example.org")

    def without_token(html: str) -> str:
        return TOKEN.sub("", html)

    # No hint of which accounts exist: the same page, but for the email typed in.
    assert without_token(unknown.get_data(as_text=True)) == without_token(
        wrong.get_data(as_text=True)).replace(ORGANISER, "nobody@example.org")
    reply = sign_in(client, ORGANISER.upper())
    assert reply.status_code == 302 and reply.location == "/dashboard/"
    assert "Signed in as org@example.org (organiser)" in page(client, "/dashboard/")
    out = client.post("/dashboard/logout", data={"csrf_token": token(client, "/dashboard/")})
    assert out.status_code == 302
    assert client.get("/dashboard/").status_code == 302


def test_sign_in_goes_back_to_the_page_asked_for_but_never_off_site(
        client: FlaskClient) -> None:
    for target, expected in [("/dashboard/surveys/fft", "/dashboard/surveys/fft"),
                             ("https://evil.example/dashboard", "/dashboard/"),
                             ("//evil.example/dashboard", "/dashboard/")]:
        client.get("/dashboard/login")
        reply = client.post(f"/dashboard/login?next={target}", data={
            "email": REVIEWER, "password": PASSWORD, "csrf_token": token(client)})
        assert reply.location == expected
        client.post("/dashboard/logout", data={"csrf_token": token(client, "/dashboard/")})


def test_login_attempts_are_rate_limited(client: FlaskClient, clock: FakeClock) -> None:
    for _ in range(5):
        assert sign_in(client, REVIEWER, "wrong password, again").status_code == 401
    limited = sign_in(client, REVIEWER)  # even the right password, for now
    assert limited.status_code == 429
    assert "Too many attempts" in limited.get_data(as_text=True)
    clock.advance(minutes=16)
    assert sign_in(client, REVIEWER).status_code == 302


@pytest.mark.parametrize("trusted_proxies", [(), ("127.0.0.1",), ("127.0.0.0/8", "::1")])
def test_behind_a_trusted_proxy_each_client_has_its_own_sign_in_limit(
        runtime: Runtime, trusted_proxies: tuple[str, ...]) -> None:
    """Every request comes from the load balancer's address. Trusted, X-Forwarded-For
    tells clients apart; untrusted (the default), the header is ignored, since anyone can
    send it, and one client cannot escape its limit by inventing addresses."""
    from dataclasses import replace

    from bot.dashboard.auth import MAX_CLIENT_FAILURES

    runtime.settings = replace(runtime.settings, trusted_proxies=trusted_proxies)
    client = create_app(runtime=runtime).test_client()

    def attempt(email: str, forwarded_for: str) -> int:
        csrf = token(client)
        return client.post("/dashboard/login", headers={"X-Forwarded-For": forwarded_for},
                           data={"email": email, "password": "wrong password",
                                 "csrf_token": csrf}).status_code

    for n in range(MAX_CLIENT_FAILURES):  # many accounts, so no account limit is reached
        assert attempt(f"guess{n}@example.org", "203.0.113.7") == 401
    assert attempt("one-more@example.org", "203.0.113.7") == 429
    other_client = attempt("someone@example.org", "198.51.100.9")
    assert other_client == (401 if trusted_proxies else 429)


def test_session_cookies_are_httponly_samesite_and_secure_in_production(
        runtime: Runtime, tmp_path: Path) -> None:
    production = settings_for(runtime.settings.database_url, tmp_path, env="production")
    runtime.settings = production
    client = create_app(runtime=runtime).test_client()
    reply = sign_in(client, ORGANISER)
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_a_disabled_account_is_signed_out(client: FlaskClient, runtime: Runtime) -> None:
    sign_in(client, REVIEWER)
    from storage.models import User

    with runtime.sessions() as session:
        user = session.scalars(select(User).where(User.email == REVIEWER)).one()
        user.disabled_at = runtime.clock()
        session.commit()
    assert client.get("/dashboard/").status_code == 302


# --- CSRF ----------------------------------------------------------------------------------


def test_csrf_is_enforced_on_every_form(client: FlaskClient, runtime: Runtime,
                                        addresses: list[str]) -> None:
    assert client.post("/dashboard/login", data={
        "email": ORGANISER, "password": PASSWORD}).status_code == 400
    sign_in(client, ORGANISER)
    refused = client.post("/dashboard/surveys/fft/themes", data={"name": "Staffing"})
    assert refused.status_code == 400
    assert "did not come from this site" in refused.get_data(as_text=True)
    forged = client.post("/dashboard/surveys/fft/themes",
                         data={"name": "Staffing", "csrf_token": "forged"})
    assert forged.status_code == 400 and count(runtime, Theme) == 0
    export = client.post("/dashboard/surveys/fft/export", data={"format": "csv",
                                                                "ids": "pseudonym"})
    assert export.status_code == 400 and count(runtime, AuditEvent) == 0
    assert client.post("/dashboard/logout").status_code == 400
    good = client.post("/dashboard/surveys/fft/themes", data={
        "name": "Staffing", "csrf_token": token(client, "/dashboard/surveys/fft")})
    assert good.status_code == 302 and count(runtime, Theme) == 1


def test_webhooks_and_the_simulator_api_need_no_csrf_token(client: FlaskClient) -> None:
    reply = client.post("/simulator/api/message", json={"start": "fft"})
    assert reply.status_code == 200
    # Telegram's webhook is off in tests (404), but not refused for a missing token (400).
    assert client.post("/webhooks/telegram", json={}).status_code != 400


# --- roles -----------------------------------------------------------------------------------


def test_a_reviewer_cannot_export_raw_rows(client: FlaskClient, runtime: Runtime,
                                           addresses: list[str]) -> None:
    sign_in(client, REVIEWER)
    survey = page(client, "/dashboard/surveys/fft")
    assert "Download responses" not in survey and "/export" not in survey
    reply = client.post("/dashboard/surveys/fft/export", data={
        "format": "csv", "ids": "pseudonym", "responses": "1",
        "csrf_token": token(client, "/dashboard/surveys/fft")})
    assert reply.status_code == 403
    assert "Your account cannot do that" in reply.get_data(as_text=True)
    assert count(runtime, AuditEvent) == 0


def test_a_reviewer_is_refused_every_organiser_page(app: Flask, client: FlaskClient,
                                                    addresses: list[str]) -> None:
    sign_in(client, REVIEWER)
    csrf = token(client, "/dashboard/")
    organiser_rules = [rule for rule in app.url_map.iter_rules()
                       if getattr(app.view_functions[rule.endpoint], "required_role", "")
                       == "organiser"]
    assert {r.endpoint for r in organiser_rules} >= {"dashboard.export", "dashboard.audit"}
    for rule in organiser_rules:
        path = rule.build({arg: "fft" if arg == "survey_id" else 1
                           for arg in rule.arguments})[1]
        method = "POST" if "POST" in (rule.methods or ()) else "GET"
        reply = client.open(path, method=method, data={"csrf_token": csrf})
        assert reply.status_code == 403, (rule, reply.status_code)


def test_a_reviewer_never_sees_the_vault(client: FlaskClient, runtime: Runtime,
                                         addresses: list[str]) -> None:
    sign_in(client, REVIEWER)
    seen = [page(client, path) for path in (
        "/dashboard/", "/dashboard/surveys/fft", "/dashboard/surveys/fft?question=why",
        "/dashboard/surveys/fft?q=carers", "/dashboard/surveys/fft/prompts")]
    for html in seen:
        assert scan_text(html, addresses) == []
        assert "vault" not in html.lower()
    with runtime.sessions() as session:
        from storage.models import Participant

        pseudonyms = session.scalars(select(Participant.id)).all()
    assert not any(pid in html for pid in pseudonyms for html in seen)


# --- what the pages show --------------------------------------------------------------------


def test_the_surveys_list_shows_status_responses_completion_and_channels(
        client: FlaskClient, runtime: Runtime, addresses: list[str]) -> None:
    seed(runtime, "fft", [Person(status="declined") for _ in range(3)])
    sign_in(client, REVIEWER)
    html = page(client, "/dashboard/")
    row = html[html.index("Your experience of care"):html.index("</tr>", html.index(
        "Your experience of care"))]
    assert "Open" in row
    # 15 started, 12 agreed and completed, 3 declined: 15 is k or more, so every figure is
    # shown, small ones included (docs/privacy.md: a group of k, not a cell of k).
    assert ">15<" in row and ">12<" in row and "80%" in row
    # By channel, those who agreed: how many started per channel would, beside the
    # WhatsApp view, tell which channel the people who said no used.
    assert "SMS: 10 (83%)" in row and "WhatsApp: 2 (17%)" in row


def test_a_question_answered_by_k_is_shown_in_full(client: FlaskClient,
                                                   addresses: list[str]) -> None:
    sign_in(client, REVIEWER)
    html = page(client, "/dashboard/surveys/fft")
    overall = html[html.index('id="q-overall"'):html.index('id="q-why"')]
    # Very good 10, poor 2, answered by 12: a group of 12 is k or more, so 2 is shown.
    assert "Answered by 12" in overall
    assert re.search(r"Very good</th>\s*<td class=\"num\">10</td>\s*<td class=\"num\">83%<",
                     overall)
    assert re.search(r"Poor</th>\s*<td class=\"num\">2</td>\s*<td class=\"num\">17%<", overall)
    # Nothing from elsewhere: the one script is this server's own, and there is no inline one.
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/static/answers.js" defer>']
    assert "https://" not in html


def test_a_question_answered_by_fewer_than_k_shows_nothing_else(
        client: FlaskClient, runtime: Runtime) -> None:
    seed(runtime, "fft", [Person({"overall": "very_good"})] * 7 + [Person({"overall": "poor"})] * 2)
    sign_in(client, REVIEWER)
    html = page(client, "/dashboard/surveys/fft")
    overall = html[html.index('id="q-overall"'):html.index('id="q-why"')]
    assert "Fewer than 10 answered, so nothing more is shown." in overall
    assert "Very good" not in overall and "<svg" not in overall and "%" not in overall
    assert "<dt>Started</dt><dd>fewer than 10</dd>" in html


def test_bars_are_drawn_by_the_server_with_their_numbers(client: FlaskClient,
                                                        runtime: Runtime) -> None:
    seed(runtime, "fft", [Person({"overall": "very_good"})] * 30
         + [Person({"overall": "good"})] * 10)
    sign_in(client, REVIEWER)
    html = page(client, "/dashboard/surveys/fft")
    overall = html[html.index('id="q-overall"'):html.index('id="q-why"')]
    assert re.search(r"Very good</th>\s*<td class=\"num\">30</td>\s*<td class=\"num\">75%</td>"
                     r"\s*<td class=\"bar-col\"><svg class=\"bar\"[^>]*aria-hidden=\"true\"",
                     overall)
    assert 'width="75.0"' in overall and 'width="25.0"' in overall
    assert "Answered by 40" in overall


def test_free_text_is_shown_from_k_respondents_and_hidden_below(
        client: FlaskClient, runtime: Runtime, addresses: list[str],
        clock: FakeClock) -> None:
    seed(runtime, "fft", [Person({"overall": "good", "why": PHOTO})] * 2)  # photos aren't words
    sign_in(client, REVIEWER)
    html = page(client, "/dashboard/surveys/fft")
    assert "Staff listened to my mum." in html
    assert "Written answers from 11." in html  # 11 wrote, one skipped, two sent photos
    assert html.count("Quote approved") == 1
    # Later arrivals, viewed on their own: three people, so nothing of theirs is shown.
    clock.advance(days=3)
    seed(runtime, "fft", [Person({"overall": "good", "why": "Later words."})] * 3)
    day = clock.now.date().isoformat()
    sign_in(client, REVIEWER)  # three days on, the session has ended
    later = page(client, f"/dashboard/surveys/fft?from={day}")
    assert "Later words." not in later and "fewer than 10 people in it wrote" in later
    # The 3 and the 14 before them add up to the whole survey's 17: both stay hidden.
    assert "Written answers: hidden in this view" in later
    assert "Later words." in page(client, "/dashboard/surveys/fft")


def test_filters_by_channel_and_language(client: FlaskClient, runtime: Runtime,
                                         addresses: list[str]) -> None:
    seed(runtime, "fft", [Person({"overall": "good", "why": "Da iawn."}, language="cy")] * 10)
    # Ten more English speakers skip "why": with one lone skipper, the Welsh view would
    # tell that person's language, so the words would stay hidden (tests below).
    seed(runtime, "fft", [Person({"overall": "good", "why": SKIP})] * 10)
    sign_in(client, REVIEWER)
    welsh = page(client, "/dashboard/surveys/fft?language=cy")
    assert "Da iawn." in welsh and "Staff listened" not in welsh
    # The languages are offered by name, as the channels are, not as codes.
    assert '<option value="cy" selected>Welsh</option>' in welsh
    assert '<option value="en" >English</option>' in welsh
    whatsapp = page(client, "/dashboard/surveys/fft?channel=whatsapp")
    assert "Nobody came on Sunday." not in whatsapp
    assert 'value="whatsapp" selected' in whatsapp
    bad = page(client, "/dashboard/surveys/fft?from=yesterday")
    assert "is not a date" in bad


def test_themes_can_be_created_applied_counted_and_filtered(
        client: FlaskClient, runtime: Runtime, addresses: list[str]) -> None:
    sign_in(client, REVIEWER)
    survey = "/dashboard/surveys/fft"
    client.post(f"{survey}/themes", data={"name": "  Weekend   cover ",
                                          "csrf_token": token(client, survey)})
    html = page(client, survey)
    theme_id = int(re.search(r'<option value="(\d+)">Weekend cover</option>', html)[1])  # type: ignore[index]
    answer_id = answer_with(html, "Nobody came on Sunday")
    reply = client.post(f"{survey}/answers/{answer_id}/themes", data={
        "theme": theme_id, "csrf_token": token(client, survey), "back": f"{survey}?q=sunday"})
    # Back to the same view, at the answer (without JavaScript the page reloads there).
    assert reply.location == f"{survey}?q=sunday#answer-{answer_id}"
    filtered = page(client, f"{survey}?theme={theme_id}")
    answers = filtered[filtered.index('id="answers-heading"'):]
    assert "Nobody came on Sunday." in answers and "Staff listened" not in answers
    assert "Answers matching:\n    fewer than 10" in answers
    assert re.search(r"Weekend cover</a></th>\s*<td class=\"num[^\"]*\">fewer than 10<", filtered)
    # A theme from another survey, or an answer that is not free text: not found.
    overall_answer = answer_id - 1  # the "poor" answer recorded just before it
    assert client.post(f"{survey}/answers/{overall_answer}/themes", data={
        "theme": theme_id, "csrf_token": token(client, survey)}).status_code == 404
    client.post(f"{survey}/answers/{answer_id}/themes/{theme_id}/remove",
                data={"csrf_token": token(client, survey)})
    assert "Nobody came on Sunday." not in page(client, f"{survey}?theme={theme_id}").split(
        'id="answers-heading"')[1]


def answer_with(html: str, words: str) -> int:
    """The id of the answer on the page whose text starts with `words`."""
    found = re.search(r'<li class="answer" id="answer-(\d+)">(?:(?!</li>).)*?<blockquote><p>'
                      + re.escape(words), html, re.S)
    assert found, words
    return int(found[1])


def test_no_theme_is_chosen_until_the_reviewer_chooses_one(
        client: FlaskClient, addresses: list[str]) -> None:
    sign_in(client, REVIEWER)
    survey = "/dashboard/surveys/fft"
    client.post(f"{survey}/themes", data={"name": "Kindness", "csrf_token": token(client, survey)})
    html = page(client, survey)
    answer_id = answer_with(html, "Nobody came on Sunday")
    tag_form = html[html.index(f'id="tag-{answer_id}"'):]
    tag_form = tag_form[:tag_form.index("</select>")]
    assert re.search(r'<option value="" selected>Choose a theme</option>', tag_form)
    assert re.search(r'<option value="\d+">Kindness</option>', tag_form)  # not selected
    # Sending the form as it stands tags nothing and says why.
    reply = client.post(f"{survey}/answers/{answer_id}/themes", data={
        "theme": "", "csrf_token": token(client, survey)}, follow_redirects=True)
    assert "Choose a theme first." in reply.get_data(as_text=True)
    with_tags = page(client, survey)
    assert 'aria-label="Themes of this answer"' not in with_tags


def test_bulk_tagging_tags_every_selected_answer_and_nothing_else(
        client: FlaskClient, runtime: Runtime, addresses: list[str]) -> None:
    sign_in(client, REVIEWER)
    survey = "/dashboard/surveys/fft"
    client.post(f"{survey}/themes", data={"name": "Kindness", "csrf_token": token(client, survey)})
    html = page(client, survey)
    theme_id = int(re.search(r'<option value="(\d+)">Kindness</option>', html)[1])  # type: ignore[index]
    kind = [answer_with(html, f"The carers were kind, visit {n}.") for n in range(3)]
    sunday = answer_with(html, "Nobody came on Sunday")
    reply = client.post(f"{survey}/answers/themes", data={
        "theme": theme_id, "answer": [str(n) for n in kind], "back": survey,
        "csrf_token": token(client, survey)})
    assert reply.status_code == 302 and reply.location == f"{survey}#answers-heading"
    with runtime.sessions() as session:
        tagged = set(session.scalars(select(AnswerTheme.answer_id)))
    assert tagged == set(kind)
    assert "Tagged 3 answers \u201cKindness\u201d." in page(client, survey)
    # An answer of another question, or an unknown one, spoils the whole request.
    for bad in (str(sunday - 1), "999999"):
        assert client.post(f"{survey}/answers/themes", data={
            "theme": theme_id, "answer": [str(sunday), bad],
            "csrf_token": token(client, survey)}).status_code == 404
    too_many = client.post(f"{survey}/answers/themes", data={
        "theme": theme_id, "answer": [str(sunday)] * 201, "csrf_token": token(client, survey)})
    assert too_many.status_code == 413
    nothing = client.post(f"{survey}/answers/themes", data={
        "theme": theme_id, "csrf_token": token(client, survey)}, follow_redirects=True)
    assert "Select one or more answers first" in nothing.get_data(as_text=True)
    assert client.post(f"{survey}/answers/themes", data={
        "theme": theme_id, "answer": [str(sunday)]}).status_code == 400  # no CSRF token
    with runtime.sessions() as session:
        assert set(session.scalars(select(AnswerTheme.answer_id))) == set(kind)


def test_theme_counts_are_shown_for_every_written_question(
        client: FlaskClient, runtime: Runtime) -> None:
    seed(runtime, "carers", [Person({"missing": f"Respite {n}", "time_for_me": 1,
                                     "time_wish": f"A walk {n}"}) for n in range(12)])
    sign_in(client, REVIEWER)
    survey = "/dashboard/surveys/carers"
    client.post(f"{survey}/themes", data={"name": "Breaks", "csrf_token": token(client, survey)})
    html = page(client, survey)
    theme_id = int(re.search(r'<option value="(\d+)">Breaks</option>', html)[1])  # type: ignore[index]
    ids = [answer_with(html, f"Respite {n}") for n in range(11)]
    client.post(f"{survey}/answers/themes", data={
        "theme": theme_id, "answer": [str(n) for n in ids], "csrf_token": token(client, survey)})
    panel = page(client, survey)
    panel = panel[panel.index('id="themes-panel"'):panel.index('id="answers-heading"')]
    headings = re.findall(r'<th scope="col" class="num">([^<]+)', panel)
    assert headings == ["What support is missing for you right now? ",
                        "What would help you get some time for yourself?"]
    # 11 of 12 answers tagged: showing 11 would give away the one untagged.
    row = re.search(r"Breaks</a></th>(.*?)</tr>", panel, re.S)[1]  # type: ignore[index]
    assert re.findall(r'<td class="num[^"]*">([^<]+)</td>', row) == ["hidden", "0"]


def test_reviewers_write_notes(client: FlaskClient, runtime: Runtime,
                               addresses: list[str]) -> None:
    sign_in(client, REVIEWER)
    survey = "/dashboard/surveys/fft"
    html = page(client, survey)
    answer_id = re.search(r'id="answer-(\d+)"', html)[1]  # type: ignore[index]
    client.post(f"{survey}/answers/{answer_id}/notes", data={
        "text": "Ask the group about <weekend> rotas", "csrf_token": token(client, survey)})
    assert count(runtime, Note) == 1
    after = page(client, survey)
    assert "Ask the group about &lt;weekend&gt; rotas" in after  # escaped, not markup
    assert REVIEWER in after


def test_the_prompts_page_shows_sms_parts_and_telegram_buttons(
        client: FlaskClient) -> None:
    sign_in(client, REVIEWER)
    html = page(client, "/dashboard/surveys/fft/prompts")
    assert "1 Very good\n2 Good" in html
    assert re.search(r"\d+ characters, GSM-7,\s*<strong>\d SMS parts?</strong>", html)
    assert "<li>Very good</li>" in html  # as a Telegram button
    assert 'href="/simulator?survey=fft"' in html


# --- exports -------------------------------------------------------------------------------


def test_an_organiser_exports_csv_and_it_is_audited(client: FlaskClient, runtime: Runtime,
                                                   addresses: list[str]) -> None:
    sign_in(client, ORGANISER)
    survey = "/dashboard/surveys/fft"
    assert "Download responses" in page(client, survey)
    reply = client.post(f"{survey}/export", data={
        "format": "csv", "ids": "random", "reason": "Group meeting in March",
        "responses": "1", "csrf_token": token(client, survey)})
    assert reply.status_code == 200
    assert reply.headers["Content-Disposition"].startswith('attachment; filename="fft-responses-')
    body = reply.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][0] == "Respondent (random id for this export)"
    assert "Overall, how was your experience of our service? [overall]" in rows[0]
    assert len(rows) == 1 + len(FFT_PEOPLE)
    why = rows[0].index("What was good, and what could be better? [why]")
    assert "'=HYPERLINK(\"http://example.invalid\",\"x\")" in [r[why] for r in rows]
    assert scan_text(body.decode("utf-8-sig"), addresses) == []
    with runtime.sessions() as session:
        event = session.scalars(select(AuditEvent)).one()
    assert (event.action, event.subject, event.reason) == ("export", "fft",
                                                           "Group meeting in March")
    assert event.detail == {"format": "csv", "ids": "random", "via": "dashboard"}
    audit = page(client, "/dashboard/audit")
    assert "Group meeting in March" in audit and ORGANISER in audit


@pytest.mark.parametrize("fmt", ["xlsx", "jsonl"])
def test_other_export_formats_download(client: FlaskClient, addresses: list[str],
                                       fmt: str) -> None:
    sign_in(client, ORGANISER)
    survey = "/dashboard/surveys/fft"
    reply = client.post(f"{survey}/export", data={
        "format": fmt, "ids": "pseudonym", "responses": "1",
        "csrf_token": token(client, survey)})
    assert reply.status_code == 200
    body = reply.get_data()
    if fmt == "xlsx":
        assert body[:2] == b"PK"
    else:
        assert len(body.decode().splitlines()) == len(FFT_PEOPLE)


def test_the_data_dictionary_downloads_without_an_audit_entry(
        client: FlaskClient, runtime: Runtime) -> None:
    sign_in(client, ORGANISER)
    survey = "/dashboard/surveys/fft"
    reply = client.post(f"{survey}/export", data={
        "format": "csv", "ids": "pseudonym", "dictionary": "1",
        "csrf_token": token(client, survey)})
    text = reply.get_data().decode("utf-8-sig")
    assert "overall.code" in text and "very_good = Very good" in text
    assert count(runtime, AuditEvent) == 0


def test_pages_carry_strict_security_headers(client: FlaskClient) -> None:
    reply = client.get("/dashboard/login")
    assert "default-src 'self'" in reply.headers["Content-Security-Policy"]
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["X-Frame-Options"] == "DENY"


def test_number_questions_get_a_summary_without_anyone_s_exact_answer(
        client: FlaskClient, runtime: Runtime) -> None:
    pays = [10.5, 11, 11, 11.5, 12, 12, 12.6, 13, 14, 25.9]
    seed(runtime, "workforce", [Person({"role": "care_home", "pay": p}) for p in pays])
    seed(runtime, "workforce", [Person({"role": "care_home", "pay": SKIP})] * 10)
    sign_in(client, REVIEWER)
    html = page(client, "/dashboard/surveys/workforce")
    pay = html[html.index('id="q-pay"'):html.index("</article>", html.index('id="q-pay"'))]
    assert "Answered by 10." in pay and "Skipped by 10." in pay
    assert re.search(r"Median</th><td class=\"num\">12.00<", pay)
    assert re.search(r"Average \(mean\)</th><td class=\"num\">13.35<", pay)
    assert "25.90" not in pay and "10.50" not in pay  # no maximum or minimum
    seed(runtime, "workforce", [Person({"role": "care_home", "pay": 11}, channel="whatsapp")] * 3)
    few = page(client, "/dashboard/surveys/workforce?channel=whatsapp")
    assert 'value="whatsapp" selected' in few and "Median" not in few


def test_number_summary_quartiles() -> None:
    from bot.dashboard.results import number_summary

    summary = dict(number_summary({1.0: 1, 2.0: 1, 3.0: 1, 4.0: 1, 5.0: 1}))
    assert summary == {"Average (mean)": "3", "Lower quartile": "2", "Median": "3",
                       "Upper quartile": "4"}
    assert dict(number_summary({1.0: 2, 2.0: 2}))["Median"] == "1.50"
