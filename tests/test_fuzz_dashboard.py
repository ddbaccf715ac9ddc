"""Fuzzing the dashboard: whatever a browser (or anyone) sends, no page answers 500.

Every route of the web app except the webhooks (fuzzed in tests/test_fuzz.py) and static
files, found by walking `app.url_map`, gets random path values, query strings and form
bodies: random bytes and Unicode, numbers far past any integer column, oversized values
and bodies past the 64 KB limit; once without a session, once signed in as an organiser
and once as a reviewer, with a valid CSRF token most of the time so the requests reach
the views. The status must be below 500 and nothing may be logged at error level or with
a traceback.

Each route first gets the same few extreme forms and queries (every field the largest
number, a negative one, a NUL, 5,000 characters, an impossible date) from each client,
then 12 random examples of its own; `HYPOTHESIS_PROFILE=benchmark` runs 300 per route.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.routing import Rule

from bot.services.runtime import Runtime
from bot.web.app import MAX_BODY_BYTES, create_app
from storage.models import Answer, Statement
from storage.repositories.dashboard import DashboardRepository
from tests.browser.seed import FFT_PEOPLE, PASSWORD, add_user, seed
from tests.consultation_sim import load_consultations
from tests.helpers import FakeClock, make_runtime

#: Examples per route: each route gets its own share, so none is left to chance.
EXAMPLES = 300 if os.environ.get("HYPOTHESIS_PROFILE", "") == "benchmark" else 12
fuzz = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ORGANISER, REVIEWER = "fuzz-org@example.org", "fuzz-rev@example.org"

#: Everything the dashboard's forms and query strings read.
FIELDS = ["csrf_token", "email", "password", "name", "back", "theme", "text", "format", "ids",
          "reason", "responses", "dictionary", "decision", "chosen", "statements", "survey",
          "cohort", "at", "page", "q", "question", "from", "to", "channel", "language",
          "next", "submit", "x", "action", "role", "how", "code", "current", "new",
          "confirm", "required"]
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)
NUMBERS = st.one_of(st.integers(-5, 50), st.integers(-(2**70), 2**70)).map(str)
HUGE_NUMBERS = st.sampled_from([str(2**31), str(2**63), str(2**64 + 1), "9" * 400,
                                str(-(2**63) - 1), "1e309", "0x10", "١٢٣"])
ODD = st.sampled_from(["", " ", "0", "-1", "1", "2", "approve", "edit", "reject", "all",
                       "invite", "disable", "enable", "password", "link", "two-factor",
                       "two-factor-off", "reviewer", "lead", "123456",
                       "csv", "xlsx", "jsonl", "random", "pseudonym", "fft", "fairpay",
                       "2026-13-45", "2026-11-23", "2026-11-23T25:61", "\x00", "\r\n",
                       "/dashboard/\r\nX: 1", "//evil.example", "%00", "<script>",
                       "=HYPERLINK(\"http://evil.example\")", "\ud7ff", "😀" * 30])
BIG = st.builds(lambda unit, n: unit * n, st.sampled_from(["x", "é", "😀", "\x00"]),
                st.integers(1_000, MAX_BODY_BYTES + 2_000))
#: Forms and queries carry numbers more than anything (ids, pages), so more of those.
VALUES = st.one_of(ODD, ANY_TEXT, NUMBERS, NUMBERS, HUGE_NUMBERS)


class Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def fuzzed_rules(app: Flask) -> list[Rule]:
    """Every route but the webhooks (tests/test_fuzz.py) and static files."""
    return sorted((rule for rule in app.url_map.iter_rules()
                   if not rule.endpoint.startswith(("webhooks.", "static"))),
                  key=lambda rule: (rule.rule, rule.endpoint))


class Site:
    def __init__(self, app: Flask, ids: dict[str, list[int]]) -> None:
        self.app = app
        self.ids = ids  # real ids per URL argument, so the views get past their lookups
        self.rules = fuzzed_rules(app)
        self.clients = {"anonymous": app.test_client(),
                        "organiser": self.sign_in(ORGANISER),
                        "reviewer": self.sign_in(REVIEWER)}
        self.tokens = {who: self.token(client) for who, client in self.clients.items()}

    def sign_in(self, email: str) -> FlaskClient:
        client = self.app.test_client()
        reply = client.post("/dashboard/login", data={
            "email": email, "password": PASSWORD, "csrf_token": self.token(client)})
        assert reply.status_code == 302
        return client

    @staticmethod
    def token(client: FlaskClient) -> str:
        """The CSRF token of the client's session (signed in: from the sign-out form)."""
        page = client.get("/dashboard/login", follow_redirects=True)
        found = TOKEN.search(page.get_data(as_text=True))
        assert found
        return found.group(1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder: Path = tmp_path_factory.mktemp("fuzz-dashboard")
    runtime: Runtime = make_runtime(f"sqlite:///{folder / 'withus.db'}", folder,
                                    clock=FakeClock())
    try:
        load_consultations(runtime)
        seed(runtime, "fft", FFT_PEOPLE)
        add_user(runtime, ORGANISER, "organiser")
        add_user(runtime, REVIEWER, "reviewer")
        with runtime.sessions() as session:
            answers = list(session.scalars(select(Answer.id).where(
                Answer.question_id == "why")))
            theme = DashboardRepository(session).create_theme("fft", "Kindness", None,
                                                              runtime.clock())
            statements = list(session.scalars(select(Statement.id)))
            session.commit()
        ids = {"answer_id": answers, "theme_id": [theme], "statement_id": statements}
        yield Site(create_app(runtime=runtime), ids)
    finally:
        runtime.close()


#: Real values for the URL arguments that name something by text.
NAMES = {"survey_id": ["fft"], "consultation_id": ["fairpay"], "fmt": ["md", "docx"],
         "name": ["statements.csv", "votes.csv", "participants-votes.csv"]}


@st.composite
def paths(draw: st.DrawFn, site: Site, rule: Rule) -> str:
    """The rule's path, its arguments mostly real (so the view runs), sometimes not."""
    path = rule.rule
    for argument in rule.arguments:
        kind = type(rule._converters[argument]).__name__  # noqa: SLF001
        real = site.ids.get(argument) or [1, 2]
        if "Integer" in kind:
            value = str(draw(st.one_of(st.sampled_from(real), st.sampled_from(real),
                                       st.integers(0, 2**70))))
        else:
            value = quote(draw(st.one_of(st.sampled_from(NAMES.get(argument, ["x"])),
                                         st.sampled_from(NAMES.get(argument, ["x"])),
                                         ANY_TEXT.filter(bool))), safe="")
        path = re.sub(rf"<(?:[^:<>]+:)?{argument}>", value, path)
    return path


def check(site: Site, who: str, method: str, url: str, **kwargs: Any) -> None:
    errors = Errors()
    root = logging.getLogger()
    root.addHandler(errors)
    try:
        status = site.clients[who].open(url, method=method, **kwargs).status_code
    finally:
        root.removeHandler(errors)
    assert status < 500, f"{who} {method} {url} answered {status}"
    assert not errors.records, [r.getMessage() for r in errors.records]


#: Fields that hold numbers (ids, pages), which get numbers more often than not.
NUMERIC = {"theme", "page", "chosen", "responses", "dictionary"}
#: Any field may be there or not, each with any value.
FORMS = st.fixed_dictionaries({}, optional={
    field: st.one_of(NUMBERS, HUGE_NUMBERS, VALUES) if field in NUMERIC else VALUES
    for field in FIELDS})
#: The same extreme values in every field, for every route.
EXTREMES = [str(2**63), str(-(2**63) - 1), "\x00", "x" * 5000, "2026-02-30"]


def test_no_form_or_query_makes_a_page_answer_500(site: Site) -> None:
    for rule in site.rules:
        probe_route(site, rule)
        fuzz_route(site, rule)


def probe_route(site: Site, rule: Rule) -> None:
    """Every field at once set to each extreme value, on real paths, with a real token."""
    path = rule.rule
    for argument in rule.arguments:
        value = (NAMES.get(argument) or [str((site.ids.get(argument) or [1])[0])])[0]
        path = re.sub(rf"<(?:[^:<>]+:)?{argument}>", value, path)
    for who in site.clients:
        if who != "anonymous" and rule.endpoint == "dashboard.logout":
            continue
        for value in EXTREMES:
            fields = dict.fromkeys(FIELDS, value) | {"csrf_token": site.tokens[who]}
            for method in sorted((rule.methods or {"GET"}) - {"OPTIONS", "HEAD"}):
                if method == "POST":
                    check(site, who, method, path, data=fields)
                else:
                    check(site, who, method, path + "?" + urlencode(fields))


def fuzz_route(site: Site, rule: Rule) -> None:
    @fuzz
    @given(data=st.data(),
           who=st.sampled_from(["anonymous", "organiser", "organiser", "reviewer"]))
    def one(data: st.DataObject, who: str) -> None:
        method = data.draw(st.sampled_from(sorted((rule.methods or {"GET"}) - {"OPTIONS"})))
        if who != "anonymous" and rule.endpoint == "dashboard.logout":
            return  # signing out would end the session the other examples need
        query = data.draw(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=4))
        url = data.draw(paths(site, rule), label="path") + (
            "?" + urlencode(query) if query else "")
        form = data.draw(FORMS, label="form")
        if not data.draw(st.integers(0, 9)):  # now and then one value near or over 64 KB
            form[data.draw(st.sampled_from(FIELDS))] = data.draw(BIG)
        if data.draw(st.integers(0, 9)):  # mostly a real token, so the views themselves run
            form["csrf_token"] = site.tokens[who]
        check(site, who, method, url, data=form if method == "POST" else None)

    one()


@settings(fuzz, max_examples=EXAMPLES * 10)
@given(data=st.data(), who=st.sampled_from(["anonymous", "organiser", "reviewer"]),
       body=st.one_of(st.binary(max_size=3000), st.binary(min_size=MAX_BODY_BYTES,
                                                          max_size=MAX_BODY_BYTES + 10)),
       content_type=st.sampled_from([
           "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
           "application/json", "text/plain", "application/x-www-form-urlencoded; charset=x",
       ]))
def test_no_raw_body_makes_a_page_answer_500(site: Site, data: st.DataObject, who: str,
                                             body: bytes, content_type: str) -> None:
    posts = [r for r in site.rules if "POST" in (r.methods or ())
             and r.endpoint != "dashboard.logout"]
    rule = data.draw(st.sampled_from(posts), label="rule")
    check(site, who, "POST", data.draw(paths(site, rule), label="path"), data=body,
          headers={"Content-Type": content_type, "X-CSRFToken": site.tokens[who]})


def test_the_fuzzing_reaches_every_room(site: Site) -> None:
    """The walk covers the dashboard, its consultation pages and the simulator."""
    endpoints = {rule.endpoint for rule in site.rules}
    assert {"dashboard.login", "dashboard.export", "dashboard.tag",
            "dashboard.consultations.moderate", "simulator.message"} <= endpoints
