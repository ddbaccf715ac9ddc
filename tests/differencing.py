"""A reader who combines every figure on the results pages, to see what they give away.

The suppression rules (docs/privacy.md) promise that nothing about a group of fewer than
k people can be worked out, whether from one figure or by putting figures together: the
funnel, "answered by", `show_if` questions, totals, the surveys list, the CLI and the
narrowed views. This module checks that promise the way an attacker would, not the way
the code means to: it reads the figures off the rendered page (not from the code that
made them), writes down everything a reader who knows the survey and the rules can say
about the unknown counts, and asks an integer programme (scipy's HiGHS) for the smallest
and largest value each hidden count could have.

The unknowns, per survey:

* the funnel: `D` (did not agree), `S0` (agreed, stopped before the first answer),
  `S:<q>` (stopped after question q), `C` (completed);
* per question: `A:<q>:<code>` (chose that answer), `N:<q>` (answered), `K:<q>` (skipped),
  `M:<q>` (sent a voice note or photo instead).

What the reader knows besides the figures, true of every response WithUs stores:

* everyone who started is in exactly one funnel cell;
* everyone who got past a question without `show_if` answered it, skipped it or sent
  media; people who stopped after question j got past every question before j;
* a `show_if` question was reached by at most those whose earlier answer triggers it, and
  by at least those of them who did not stop in between;
* the answers of a single-choice question add up to those who answered it; an option of
  a multiple-choice one is chosen by at most those who answered it;
* a percentage shown beside a count is that count over its total, rounded.

The promise checked: no figure the page suppresses can be worked out exactly, and exact
counts are only shown for groups that must hold k or more people (in every view, and in
the difference between a view and the whole). A hidden cell can still be bounded by what
is public (a WhatsApp "Not sure" is at most the whole survey's 3), which is the price of
showing whole-survey questions in full.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from surveys.model import QuestionType, Survey

BIG = 10_000_000


# --- reading the page -------------------------------------------------------------------


@dataclass
class Table:
    caption: str
    #: (row heading, the cells after it) per body row
    rows: list[tuple[str, list[str]]] = field(default_factory=list)
    #: the id of the question article the table sits in, if any
    question: str | None = None


@dataclass
class Page:
    """What a reader sees: the figures of the `dl`s, every table, and each question's text."""

    figures: dict[str, str] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    #: question id → the visible text of its article
    questions: dict[str, str] = field(default_factory=dict)
    #: question id → the figures of the `dl`s in its article (% positive, the mean)
    question_figures: dict[str, dict[str, str]] = field(default_factory=dict)


class _Scraper(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._stack: list[tuple[str, dict[str, str]]] = []
        self._text: list[str] | None = None
        self._dt = ""
        self._table: Table | None = None
        self._row: list[str] | None = None
        self._article: str | None = None
        self._article_depth = 0
        self._article_text: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in ("br", "input", "img", "rect", "line", "path", "circle", "meta", "link"):
            return
        self._stack.append((tag, values))
        classes = values.get("class", "").split()
        if self._hidden_depth or "visually-hidden" in classes or tag in ("script", "style"):
            self._hidden_depth += 1
        if tag == "article" and values.get("id", "").startswith("result-"):
            self._article = values["id"].removeprefix("result-")
            self._article_depth = len(self._stack)
            self._article_text = []
        elif tag == "article" and values.get("aria-labelledby", "").startswith("q-"):
            self._article = values["aria-labelledby"].removeprefix("q-")
            self._article_depth = len(self._stack)
            self._article_text = []
        if tag in ("dt", "dd", "caption", "th", "td"):
            self._text = []
        if tag == "table":
            self._table = Table("", question=self._article)
        if tag == "tr" and self._table is not None:
            self._row = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "input", "img", "rect", "line", "path", "circle", "meta", "link"):
            return
        while self._stack:
            open_tag, _values = self._stack.pop()
            if self._hidden_depth:
                self._hidden_depth -= 1
            if open_tag == tag:
                break
        words = " ".join("".join(self._text or []).split())
        if tag == "dt":
            self._dt = words
        elif tag == "dd" and self._dt:
            self.page.figures[self._dt] = words
            if self._article is not None:
                self.page.question_figures.setdefault(self._article, {})[self._dt] = words
            self._dt = ""
        elif tag == "caption" and self._table is not None:
            self._table.caption = words
        elif tag in ("th", "td") and self._row is not None:
            self._row.append(words)
        elif tag == "tr" and self._table is not None and self._row is not None:
            if self._row and not _is_header(self._row, self._table):
                self._table.rows.append((self._row[0], self._row[1:]))
            self._row = None
        elif tag == "table" and self._table is not None:
            self.page.tables.append(self._table)
            self._table = None
        if tag in ("dt", "dd", "caption", "th", "td"):
            self._text = None
        if tag == "article" and self._article and len(self._stack) < self._article_depth:
            self.page.questions[self._article] = " ".join("".join(self._article_text).split())
            self._article = None

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        if self._text is not None:
            self._text.append(data)
        if self._article is not None:
            self._article_text.append(data)


def _is_header(row: list[str], table: Table) -> bool:
    return not table.rows and len(row) > 1 and row[1] in ("People", "Responses", "Answers")


def scrape(html: str) -> Page:
    scraper = _Scraper()
    scraper.feed(html)
    return scraper.page


# --- what a figure says -----------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One printed count: exact, "fewer than k", or hidden (at least 0)."""

    text: str
    value: int | None
    small: bool

    @property
    def suppressed(self) -> bool:
        return self.value is None


def figure(text: str) -> Figure | None:
    text = " ".join(html_lib.unescape(text).split())
    if not text:
        return None
    number = re.fullmatch(r"([\d,]+)", text)
    if number:
        return Figure(text, int(number.group(1).replace(",", "")), False)
    if re.fullmatch(r"fewer than \d+", text):
        return Figure(text, None, True)
    if text in ("hidden", "not shown"):
        return Figure(text, None, False)
    return None


def percent(text: str) -> int | None:
    found = re.fullmatch(r"(\d+)%", text.strip())
    return int(found.group(1)) if found else None


# --- the reader -------------------------------------------------------------------------


Expr = Mapping[str, int]


@dataclass
class Secret:
    """A figure the page says is suppressed, and what the page promised about it."""

    where: str
    expr: dict[str, int]
    small: bool  # "fewer than k": 1..k-1; otherwise "hidden"


@dataclass
class Breakdown:
    """Counts shown exactly for a group: the group (as an expression) must be k or more."""

    where: str
    group: dict[str, int]


class Reader:
    """Linear facts about non-negative integer unknowns; min and max of any expression."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.names: dict[str, int] = {}
        self.rows: list[tuple[dict[str, int], float, float]] = []
        self.secrets: list[Secret] = []
        self.breakdowns: list[Breakdown] = []

    def _var(self, name: str) -> int:
        return self.names.setdefault(name, len(self.names))

    def fact(self, expr: Expr, lo: float = -np.inf, hi: float = np.inf) -> None:
        self.rows.append((dict(expr), lo, hi))
        for name in expr:
            self._var(name)

    def equal(self, expr: Expr, value: int) -> None:
        self.fact(expr, value, value)

    def read(self, where: str, expr: Expr, shown: Figure | None,
             total: Expr | None = None, pct: int | None = None, *, floor: int = 1) -> None:
        """What one printed figure tells: its value, or its range and that it is secret.

        "fewer than k" means 1..k-1 where a zero would read "0" (`floor` 1); for a whole
        group under k, and everything in it, 0 reads the same (`floor` 0).
        """
        if shown is None:
            return
        if shown.value is not None:
            self.equal(expr, shown.value)
        else:
            if shown.small:
                self.fact(expr, floor, self.k - 1)
            else:
                self.fact(expr, 0)
            self.secrets.append(Secret(where, dict(expr), shown.small))
        if pct is not None and total is not None:
            self.rounded(expr, total, pct / 100, 0.005)

    def rounded(self, expr: Expr, total: Expr, value: float, half: float) -> None:
        """A figure `value` printed as `expr / total` rounded to ± `half`:
        (value - half) total <= expr <= (value + half) total. A percentage is one (a
        half of 1%); so is an average, with `expr` the sum of the answers."""
        low: dict[str, float] = {name: float(c) for name, c in expr.items()}
        high = dict(low)
        for name, c in total.items():
            low[name] = low.get(name, 0) - (value - half) * c
            high[name] = high.get(name, 0) - (value + half) * c
        self.fact(low, 0)  # type: ignore[arg-type]
        self.fact(high, hi=0)  # type: ignore[arg-type]

    def bounds(self, expr: Expr) -> tuple[int, int]:
        """The smallest and largest value `expr` can take given every fact."""
        for name in expr:
            self._var(name)
        n = len(self.names)
        matrix = np.zeros((len(self.rows), n))
        lows, highs = [], []
        for i, (row, lo, hi) in enumerate(self.rows):
            for name, c in row.items():
                matrix[i, self.names[name]] = c
            lows.append(lo)
            highs.append(hi)
        constraints = [LinearConstraint(matrix, lows, highs)] if self.rows else []
        objective = np.zeros(n)
        for name, c in expr.items():
            objective[self.names[name]] += c
        found = []
        for sign in (1, -1):
            result = milp(sign * objective, constraints=constraints,
                          integrality=np.ones(n), bounds=Bounds(0, BIG))
            assert result.success, f"the facts contradict each other: {result.message}"
            found.append(round(sign * result.fun))
        return found[0], found[1]

    def copy(self) -> Reader:
        """What this reader knows so far, to compare with what more pages add."""
        other = Reader(self.k)
        other.names = dict(self.names)
        other.rows = list(self.rows)
        other.secrets = list(self.secrets)
        other.breakdowns = list(self.breakdowns)
        return other

    def leaks(self, baseline: Reader | None = None) -> list[str]:
        """Everything the page gives away, in words; empty when the promise holds.

        With a `baseline` (the reader before the narrowed pages), only what the narrowed
        pages add counts: a hidden figure the baseline already pins to the same value
        (the size of a group whose answer the whole survey shows, say) is public, and
        one pinned to 0 says that nobody in a group did something, which shown zeros
        say anyway; what follows from it about anyone else is checked on its own.
        """
        problems = []
        for secret in self.secrets:
            lo, hi = self.bounds(secret.expr)
            if lo == hi and baseline is not None and (
                    lo == 0 or baseline.bounds(secret.expr) == (lo, hi)):
                continue
            if lo == hi:
                word = f"fewer than {self.k}" if secret.small else "hidden"
                problems.append(f"{secret.where} reads '{word}', but a reader can work out "
                                f"that it is exactly {lo}")
        for shown in self.breakdowns:
            lo, _hi = self.bounds(shown.group)
            if lo < self.k:
                problems.append(f"{shown.where} shows exact counts for a group that could "
                                f"be as small as {lo}")
        return problems


# --- the survey's structure ---------------------------------------------------------------


def answerable(survey: Survey) -> list[str]:
    return [q.id for q in survey.questions if q.is_answerable]


def reached(qid: str) -> dict[str, int]:
    return {f"N:{qid}": 1, f"K:{qid}": 1, f"M:{qid}": 1}


def know_the_survey(reader: Reader, survey: Survey, prefix: str = "") -> None:
    """Facts true of every stored response, before any figure is read."""
    order = answerable(survey)
    p = prefix
    funnel = {f"{p}D": 1, f"{p}S0": 1, f"{p}C": 1, **{f"{p}S:{q}": 1 for q in order}}
    reader.fact({**funnel, f"{p}started": -1}, 0, 0)
    for i, qid in enumerate(order):
        question = survey.question(qid)
        assert question is not None
        got_past = {f"{p}C": 1, **{f"{p}S:{q}": 1 for q in order[i:]}}
        here = {f"{p}{name}": c for name, c in reached(qid).items()}
        if question.show_if is None:
            reader.fact({**here, **{n: -c for n, c in got_past.items()}}, 0, 0)
        else:
            # Reached by at most everyone who got past it, and at most those whose
            # earlier answer triggers it; at least those of them who did not stop between.
            reader.fact({**here, **{n: -c for n, c in got_past.items()}}, hi=0)
            trigger = question.show_if
            source = order.index(trigger.question)
            chose = {f"{p}A:{trigger.question}:{v}": 1 for v in trigger.values}
            reader.fact({**here, **{n: -c for n, c in chose.items()}}, hi=0)
            between = {f"{p}S:{q}": 1 for q in order[source:i]}
            reader.fact({**here, **{n: -c for n, c in chose.items()}, **between}, 0)
        codes = [o.code for o in question.options]
        if question.type is QuestionType.YES_NO:
            codes = ["yes", "no"]
        if question.type is QuestionType.MULTIPLE_CHOICE:
            for code in codes:
                reader.fact({f"{p}A:{qid}:{code}": 1, f"{p}N:{qid}": -1}, hi=0)
            if codes:
                reader.fact({**{f"{p}A:{qid}:{c}": 1 for c in codes}, f"{p}N:{qid}": -1}, 0)
        elif codes:
            reader.fact({**{f"{p}A:{qid}:{c}": 1 for c in codes}, f"{p}N:{qid}": -1}, 0, 0)


def _option_code(survey: Survey, qid: str, label: str) -> str | None:
    question = survey.question(qid)
    assert question is not None
    if label == "Skipped":
        return "__skipped__"
    if question.type is QuestionType.YES_NO:
        return {"Yes": "yes", "No": "no"}.get(label)
    best = None
    for option in question.options:
        text = option.label.get()
        if label == text or label.startswith(text + " ("):
            best = option.code
    return best


ANSWERED = re.compile(r"(?:Answered or skipped by|Answered by|Written answers from|Asked of)"
                      r" (fewer than \d+|[\d,]+|hidden)")
SKIPPED_BY = re.compile(r"Skipped by (fewer than \d+|[\d,]+|hidden)")


def read_survey_page(reader: Reader, survey: Survey, page: Page, prefix: str = "",
                     label: str = "the survey page") -> None:
    """Every figure of a rendered survey page, as facts and secrets."""
    p = prefix
    order = answerable(survey)
    started = {f"{p}started": 1}
    started_fig = figure(page.figures.get("Started", ""))
    # A narrowed view (no "Started") is one row of a table, where a hidden zero reads
    # "fewer than k" like any small cell.
    narrowed = "Started" not in page.figures
    floor = 0 if narrowed or (started_fig is not None and started_fig.small) else 1
    reader.read(f"{label}: Started", started, started_fig, floor=0)
    reader.read(f"{label}: Agreed to take part", {f"{p}started": 1, f"{p}D": -1},
                figure(page.figures.get("Agreed to take part", "")), floor=floor)
    completed_fig = figure(page.figures.get("Completed", ""))
    rate = percent(page.figures.get("Completion rate", ""))
    reader.read(f"{label}: Completed", {f"{p}C": 1}, completed_fig, started, rate, floor=floor)
    steps = next((t for t in page.tables if t.caption.startswith("Where each person")), None)
    if steps is not None:
        shown_exact = False
        for row_label, cells in steps.rows:
            expr = _funnel_cell(survey, row_label, p)
            if expr is None:
                continue
            shown = figure(cells[0]) if cells else None
            shown_exact = shown_exact or bool(shown and shown.value)
            reader.read(f"{label}: funnel row '{row_label}'", expr, shown, started,
                        percent(cells[1]) if len(cells) > 1 else None, floor=floor)
        if shown_exact:
            reader.breakdowns.append(Breakdown(f"{label}: the funnel", started))
    for qid in order:
        text = page.questions.get(qid)
        if text is None:
            continue
        question = survey.question(qid)
        assert question is not None
        found = ANSWERED.search(text)
        answered_expr = {f"{p}N:{qid}": 1}
        tables = [t for t in page.tables if t.question == qid]
        caption = tables[0].caption if tables else ""
        found = ANSWERED.search(caption) or found
        if found and "Answered or skipped by" in found.group(0):
            answered_expr = {f"{p}N:{qid}": 1, f"{p}K:{qid}": 1}
        floor = 0 if narrowed else 1
        if found:
            answered_fig = figure(found.group(1))
            floor = 0 if narrowed or (answered_fig is not None and answered_fig.small) else 1
            reader.read(f"{label}: '{qid}' {found.group(0)}", answered_expr, answered_fig,
                        floor=0)
        elif "Fewer than" in text and "answered" in text:
            reader.read(f"{label}: '{qid}' fewer than k answered", answered_expr,
                        Figure("fewer than k", None, True), floor=0)
        skipped = SKIPPED_BY.search(text)
        if skipped:
            reader.read(f"{label}: '{qid}' {skipped.group(0)}", {f"{p}K:{qid}": 1},
                        figure(skipped.group(1)), floor=floor)
        for table in tables[:1]:
            exact = False
            for row_label, cells in table.rows:
                code = _option_code(survey, qid, row_label)
                if code is None or not cells:
                    continue
                expr = ({f"{p}K:{qid}": 1} if code == "__skipped__"
                        else {f"{p}A:{qid}:{code}": 1})
                shown = figure(cells[0])
                exact = exact or bool(shown and shown.value)
                reader.read(f"{label}: '{qid}' option '{row_label}'", expr, shown,
                            answered_expr, percent(cells[1]) if len(cells) > 1 else None,
                            floor=floor)
            if exact:
                reader.breakdowns.append(Breakdown(f"{label}: the answers to '{qid}'",
                                                   answered_expr))
        read_question_figures(reader, survey, qid, page.question_figures.get(qid, {}),
                              {f"{p}N:{qid}": 1}, p, label)
    read_timeline(reader, page, p, label)


POSITIVE = {"Positive (Very good or Good)": ("very_good", "good"),
            "Negative (Poor or Very poor)": ("poor", "very_poor")}


def read_question_figures(reader: Reader, survey: Survey, qid: str, figures: Mapping[str, str],
                          answered: dict[str, int], p: str, label: str) -> None:
    """% positive and % negative (over everyone who answered), and a scale's average
    ("3.4 out of 5": the sum of the answers over those who answered, to ± 0.05)."""
    question = survey.question(qid)
    assert question is not None
    for name, codes in POSITIVE.items():
        pct = percent(figures.get(name, ""))
        if pct is not None:
            reader.rounded({f"{p}A:{qid}:{code}": 1 for code in codes}, answered, pct / 100,
                           0.005)
    mean = re.match(r"(\d+(?:\.\d+)?)", figures.get("Average (mean)", ""))
    if mean:
        total = {f"{p}A:{qid}:{o.code}": int(o.code) for o in question.options}
        reader.rounded(total, answered, float(mean.group(1)), 0.05)


def read_timeline(reader: Reader, page: Page, p: str, label: str) -> None:
    """Responses over time: those who agreed to take part, split by when they started.
    In a table "fewer than k" may be 0 (docs/privacy.md), so every cell reads 0..k-1."""
    table = next((t for t in page.tables if t.caption.startswith("Responses over time")), None)
    if table is None:
        return
    cells: dict[str, int] = {}
    exact = False
    for row_label, row in table.rows:
        if not row:
            continue
        name = f"{p}T:{row_label}"
        cells[name] = 1
        shown = figure(row[0])
        exact = exact or bool(shown and shown.value)
        reader.read(f"{label}: responses over time, '{row_label}'", {name: 1}, shown, floor=0)
    if cells:
        # Everyone who agreed started inside the chart's span (a narrowed view's span is
        # the whole survey's, cut to its dates).
        agreed = {f"{p}started": 1, f"{p}D": -1}
        reader.fact({**cells, **{n: -c for n, c in agreed.items()}}, 0, 0)
        if exact:
            reader.breakdowns.append(Breakdown(f"{label}: responses over time", agreed))


def _funnel_cell(survey: Survey, row_label: str, p: str) -> dict[str, int] | None:
    if row_label == "Did not agree to take part":
        return {f"{p}D": 1}
    if row_label.startswith("Agreed, then stopped before"):
        return {f"{p}S0": 1}
    if row_label == "Completed":
        return {f"{p}C": 1}
    if row_label.startswith("Stopped after: "):
        text = row_label.removeprefix("Stopped after: ")
        for q in survey.questions:
            if q.text.get() == text:
                return {f"{p}S:{q.id}": 1}
    return None


def read_surveys_list(reader: Reader, survey: Survey, page: Page, prefix: str = "") -> None:
    """The survey's row on the surveys list: responses, completed, completion rate."""
    table = next((t for t in page.tables if t.caption.startswith("Every survey")), None)
    assert table is not None, "no surveys table"
    p = prefix
    for row_label, cells in table.rows:
        if f"({survey.id}," not in row_label:
            continue
        # cells: status, responses, completed, completion rate, by channel
        started = {f"{p}started": 1}
        reader.read("the surveys list: Responses", started, figure(cells[1]))
        reader.read("the surveys list: Completed", {f"{p}C": 1}, figure(cells[2]), started,
                    percent(cells[3]))


def read_cli_list(reader: Reader, survey: Survey, output: str, prefix: str = "") -> None:
    """`withus surveys list`: one line per survey."""
    for line in output.splitlines():
        parts = line.split("\t")
        if parts and parts[0] == survey.id:
            found = re.search(r"(fewer than \d+|[\d,]+|hidden) completed", line)
            if found:
                reader.read("withus surveys list: completed", {f"{prefix}C": 1},
                            figure(found.group(1)))
            started = re.search(r"(fewer than \d+|[\d,]+|hidden) started", line)
            if started:
                reader.read("withus surveys list: started", {f"{prefix}started": 1},
                            figure(started.group(1)))


def complement_leaks(reader: Reader, survey: Survey, whole: str, part: str,
                     label: str) -> list[str]:
    """The difference of two views (a group and a narrower one inside it) is a group too:
    where both show a question's answers, the people in one and not the other must be
    none or at least k."""
    problems = []
    for qid in ["started", *[f"N:{q}" for q in answerable(survey)]]:
        a, b = f"{whole}{qid}", f"{part}{qid}"
        if a not in reader.names or b not in reader.names:
            continue
        shown_whole = any(b2.group == {a: 1} for b2 in reader.breakdowns)
        shown_part = any(b2.group == {b: 1} for b2 in reader.breakdowns)
        if not (shown_whole and shown_part):
            continue
        lo, hi = reader.bounds({a: 1, b: -1})
        if lo == hi and 0 < lo < reader.k:
            problems.append(f"{label}: '{qid}' is shown for both views, so the {lo} people "
                            f"in one and not the other can be read off by subtraction")
    return problems


def nested(reader: Reader, whole: str, part: str, names: Iterable[str]) -> None:
    """A narrowed view's counts are at most the whole view's."""
    for name in names:
        reader.fact({f"{whole}{name}": 1, f"{part}{name}": -1}, 0)


# --- groups by another question's answer, and the cross-tab ----------------------------------


def group_prefix(code: str) -> str:
    """The unknowns of the group who gave `code` to the grouping question ("" = no answer)."""
    return f"{code or '-'}."


def know_the_groups(reader: Reader, survey: Survey, by: str, codes: list[str],
                    prefix: str = "") -> None:
    """The whole survey (or the view whose unknowns start with `prefix`, already known
    to the reader) splits into one group per answer to `by`, and one of those who gave it
    none: every count is the sum of the groups' counts, and a group's answer to `by` is
    the one that names it."""
    groups = [*codes, ""]
    for code in groups:
        know_the_survey(reader, survey, prefix + group_prefix(code))
    names = [n.removeprefix(prefix) for n in list(reader.names)
             if n.startswith(prefix) and "." not in n.removeprefix(prefix)]
    for name in names:
        reader.equal({prefix + name: 1,
                      **{prefix + group_prefix(c) + name: -1 for c in groups}}, 0)
    for code in groups:
        p = prefix + group_prefix(code)
        for other in codes:
            if other != code:
                reader.equal({f"{p}A:{by}:{other}": 1}, 0)
        if code:
            reader.equal({f"{p}D": 1}, 0)  # they answered, so they agreed
            reader.equal({f"{p}K:{by}": 1}, 0)
            reader.equal({f"{p}M:{by}": 1}, 0)
            reader.equal({f"{p}A:{by}:{code}": 1, f"{prefix}A:{by}:{code}": -1}, 0)
            reader.equal({f"{p}N:{by}": 1, f"{p}A:{by}:{code}": -1}, 0)
        else:
            reader.equal({f"{p}N:{by}": 1}, 0)


def read_crosstab(reader: Reader, survey: Survey, page: Page, by: str, shown: str,
                  prefix: str = "") -> None:
    """A cross-tab of `shown` (columns) by `by` (rows): each row is one group's answers
    (in a narrowed view, the groups of the view whose unknowns start with `prefix`)."""
    table = next((t for t in page.tables if t.caption.startswith("People, by their answers")),
                 None)
    assert table is not None, "no cross-tab on the page"
    by_q, shown_q = survey.question(by), survey.question(shown)
    assert by_q is not None and shown_q is not None
    labels = [o.label.get() for o in shown_q.options] or ["Yes", "No"]
    for row_label, cells in table.rows:
        if cells and cells[-1] == "Answered":
            continue  # the heading
        if row_label.startswith("Everyone"):
            p = prefix
        else:
            code = _option_code(survey, by, row_label)
            assert code is not None, row_label
            p = prefix + group_prefix(code)
        where = f"the {prefix}cross-tab, row '{row_label}'"
        total_text = cells[-1]
        with_skips = total_text.endswith("with skips")
        total_fig = figure(total_text.removesuffix("with skips"))
        answered = {f"{p}N:{shown}": 1}
        if with_skips:
            answered = {f"{p}N:{shown}": 1, f"{p}K:{shown}": 1}
        reader.read(f"{where}: answered", answered, total_fig, floor=0)
        exact = False
        for i, label in enumerate([*labels, "Skipped"]):
            if i >= len(cells) - 1:
                break
            text = cells[i]
            pct_found = re.search(r"(\d+)%$", text)
            shown_fig = figure(re.sub(r"\s*\d+%$", "", text))
            code = _option_code(survey, shown, label)
            expr = ({f"{p}K:{shown}": 1} if code == "__skipped__"
                    else {f"{p}A:{shown}:{code}": 1})
            exact = exact or bool(shown_fig and shown_fig.value)
            reader.read(f"{where}, column '{label}'", expr, shown_fig, answered,
                        int(pct_found.group(1)) if pct_found else None, floor=0)
        if exact:
            reader.breakdowns.append(Breakdown(f"{where}: its answers",
                                               {f"{p}N:{shown}": 1, f"{p}K:{shown}": 1}))


# --- theme counts ---------------------------------------------------------------------------


def theme_name(theme: str, qid: str, prefix: str = "") -> str:
    """The unknown: how many of the group's written answers to `qid` carry `theme`."""
    return f"{prefix}Th:{theme}:{qid}"


def know_the_themes(reader: Reader, survey: Survey, themes: Iterable[str],
                    prefix: str = "") -> None:
    """A theme tags at most every written answer to a question."""
    for q in survey.questions:
        if q.type is QuestionType.FREE_TEXT:
            for theme in themes:
                reader.fact({theme_name(theme, q.id, prefix): 1, f"{prefix}N:{q.id}": -1}, hi=0)


def read_themes(reader: Reader, survey: Survey, page: Page, prefix: str = "",
                label: str = "the survey page") -> None:
    """The theme counts: the survey page's table (a column per written-answer question)
    and the printable summary's list under each question."""
    free = [q.id for q in survey.questions if q.type is QuestionType.FREE_TEXT]
    for qid in free:
        # "Written answers: hidden in this view" promises their number stays unknown.
        if "hidden in this view" in page.questions.get(qid, ""):
            reader.read(f"{label}: '{qid}' written answers hidden in this view",
                        {f"{prefix}N:{qid}": 1}, Figure("hidden", None, False))
    for table in page.tables:
        if table.caption.startswith("Answers tagged with each theme"):
            columns = free
        elif table.caption.startswith("Themes the group found") and table.question:
            columns = [table.question]
        else:
            continue
        for theme, cells in table.rows:
            if theme == "Theme":
                continue  # the heading
            for qid, text in zip(columns, cells, strict=False):
                shown = figure(text)
                reader.read(f"{label}: theme '{theme}' on '{qid}'",
                            {theme_name(theme, qid, prefix): 1}, shown, floor=0)
                if shown is not None and shown.value:
                    reader.breakdowns.append(Breakdown(
                        f"{label}: theme '{theme}' counted on '{qid}'",
                        {f"{prefix}N:{qid}": 1}))


def know_the_ticks(reader: Reader, survey: Survey, qid: str, code: str,
                   prefixes: tuple[str, str, str] = ("t.", "u.", "-.")) -> None:
    """The whole survey splits into those who ticked option `code` of multiple-choice
    question `qid`, those who answered it without ticking it, and those who gave it no
    answer (the unknowns of each start with one of `prefixes`)."""
    ticked, unticked, none = prefixes
    for p in prefixes:
        know_the_survey(reader, survey, p)
    for name in [n for n in list(reader.names) if "." not in n]:
        reader.equal({name: 1, **{p + name: -1 for p in prefixes}}, 0)
    for p in (ticked, unticked):
        reader.equal({f"{p}D": 1}, 0)  # they answered, so they agreed
        reader.equal({f"{p}K:{qid}": 1}, 0)
        reader.equal({f"{p}M:{qid}": 1}, 0)
    reader.equal({f"{ticked}A:{qid}:{code}": 1, f"{ticked}N:{qid}": -1}, 0)
    reader.equal({f"{ticked}N:{qid}": 1, f"A:{qid}:{code}": -1}, 0)
    reader.equal({f"{unticked}A:{qid}:{code}": 1}, 0)
    reader.equal({f"{none}N:{qid}": 1}, 0)
