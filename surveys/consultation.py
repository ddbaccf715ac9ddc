"""Consultation mode: read a summary, say what you think, vote on what others said.

An official consultation (a government department asking how something should work) is
written for organisations with policy teams. A consultation file turns one into a short
conversation anyone can have by text: a plain-English summary in at most three messages,
then, for each of one to five questions,

1. the person's view in their own words (redacted like any free text),
2. up to a few short statements from others to agree or disagree with, one at a time,
   chosen so that every statement gets seen (`select_statements`),
3. an invitation to add one statement of their own, which a reviewer checks before
   anyone else sees it.

The organisers then build their response from the views, the votes and the opinion groups
the votes reveal (bot.services.consultation), the way Pol.is does on the web.

Like the rest of `surveys/`, this module is pure: it never touches the database or the
clock. The engine cannot look statements up, so the caller passes them in as `context`
(see `build_context`), already filtered and ordered; the state keeps statement ids only,
never anyone else's words.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from surveys.conversation import (
    CONSENT_NO,
    CONSENT_YES,
    IN_SURVEY,
    MAX_QUIET_TRIES,
    QUOTE_NO,
    QUOTE_YES,
    SHARE_NO,
    SHARE_YES,
    AnswerGiven,
    Completed,
    ConsentDecision,
    ConsultationRecord,
    Event,
    LanguageChosen,
    QuotePermission,
    ReplyChoice,
    ShareBackChoice,
    Started,
    Step,
    ask_language,
    chosen_language,
    load_state,
)
from surveys.i18n import gettext as _
from surveys.keywords import Keyword, keyword
from surveys.media import not_used
from surveys.model import FREE_TEXT_LIMIT, Text, shown_keyword
from surveys.parsing import DONT_KNOW, NO_WORDS, YES_WORDS, normalise, yes_or_no
from surveys.reading import ID_PATTERN, LANGUAGE_PATTERN, Reader, read_header, read_keywords
from surveys.signposting import read_local_contact

KIND = "consultation"
VOTE_PREFIX = "vote:"
Vote = Literal["agree", "disagree", "pass"]
VOTE_CHOICES: tuple[Vote, ...] = ("agree", "disagree", "pass")

#: Whole-message words that ask for more statements to vote on (MWY is Welsh for "more").
MORE_WORDS = frozenset({"more", "mwy", "more please", "show more"})

MAX_SUMMARY_MESSAGES = 3
#: A summary message should fit on a phone screen: two SMS parts at most.
MAX_SUMMARY_LENGTH = 320
MAX_QUESTIONS = 5
MAX_SEEDS = 10
#: Pol.is keeps statements to 140 characters: short enough to read and vote on quickly.
DEFAULT_STATEMENT_LENGTH = 140
MAX_VIEW_LENGTH = FREE_TEXT_LIMIT
#: How many statement ids the state remembers; far more than anyone votes on.
MAX_REMEMBERED = 1000

CONSULTATION_KEYS = {
    "kind", "id", "title", "version", "language", "languages", "description", "source",
    "opens", "closes", "intro", "summary", "consent", "consent_version", "thank_you",
    "questions", "votes_per_question", "statement_max_length", "retention_days",
    "reminders", "reminder_after_hours", "ask_quote_permission", "offer_share_back",
    "safeguarding_phone", "keywords",
}
QUESTION_KEYS = {"id", "text", "why", "topic", "statements"}
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


# --- The model --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsultationQuestion:
    """One consultation question, with the statements the organisers start it off with."""

    id: str
    text: Text
    #: Seed statements, so the first people to take part have something to vote on.
    seeds: tuple[Text, ...] = ()
    why: Text | None = None
    #: A few words naming the question, shown above statements offered after MORE.
    topic: Text | None = None


@dataclass(frozen=True)
class Consultation:
    """A consultation file, validated. Shaped like `Survey` where the engine needs it to be
    (id, title, languages, opening dates, reminders), so menus and reminders work for both."""

    id: str
    title: Text
    version: int
    default_language: str
    languages: tuple[str, ...]
    source_name: Text
    source_url: str
    closes_at: datetime
    intro: Text
    summary: tuple[Text, ...]
    consent: Text
    consent_version: int
    thank_you: Text
    questions: tuple[ConsultationQuestion, ...]
    description: Text | None = None
    opens_at: datetime | None = None
    votes_per_question: int = 3
    statement_max_length: int = DEFAULT_STATEMENT_LENGTH
    retention_days: int = 365
    reminders: int = 1
    reminder_after_hours: int = 24
    ask_quote_permission: bool = True
    offer_share_back: bool = True
    source_path: str = ""
    #: Added to the signposting after a possible disclosure (surveys.signposting).
    safeguarding_phone: str = ""
    #: Words that start it, per language (`keywords: {en: FAIRPAY, cy: CYFLOGTEG}`).
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _index: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {q.id: i for i, q in enumerate(self.questions)})

    def keyword(self, language: str | None = None) -> str | None:
        """The word that starts it, as shown to someone reading `language`."""
        return shown_keyword(self.keywords, language, self.default_language)

    @property
    def kind(self) -> str:
        return KIND

    def question(self, question_id: str | None) -> ConsultationQuestion | None:
        i = self._index.get(question_id or "")
        return None if i is None else self.questions[i]

    def position(self, question_id: str) -> int:
        return self._index.get(question_id, -1)

    def is_open(self, now: datetime) -> bool:
        if self.opens_at and now < self.opens_at:
            return False
        return now < self.closes_at

    def seed_statements(self) -> list[tuple[str, str]]:
        """(question id, text in the default language) for every seed statement."""
        return [(q.id, seed.get()) for q in self.questions for seed in q.seeds]


# --- Loading ------------------------------------------------------------------------------


def parse_consultation(data: Mapping[str, Any], name: str = "<consultation>") -> Consultation:
    """Validate a consultation file already read from YAML (`kind: consultation`).

    Errors name the file, the question and the problem, like survey errors, because the
    same organisers write both by hand.
    """
    reader = Reader(name)
    consultation_id, language, version = read_header(reader, data, CONSULTATION_KEYS,
                                                     "fairpay")

    source_name, source_url = _source(reader, data.get("source"))
    opens = reader.moment(data.get("opens"), "opens")
    closes = reader.moment(data.get("closes"), "closes")
    if closes is None:
        raise reader.fail("'closes' is missing: the date the official consultation closes")
    if opens and closes <= opens:
        raise reader.fail("'closes' must be after 'opens'")

    statement_max = reader.integer(data.get("statement_max_length"), "statement_max_length",
                                   DEFAULT_STATEMENT_LENGTH, 40)
    if statement_max > 280:
        raise reader.fail("'statement_max_length' must be at most 280 characters")
    votes = reader.integer(data.get("votes_per_question"), "votes_per_question", 3, 1)
    if votes > 10:
        raise reader.fail("'votes_per_question' must be from 1 to 10")

    summary = _summary(reader, data.get("summary"))
    questions = _questions(reader, data.get("questions"), statement_max)
    languages = _languages(reader, data.get("languages"))

    texts = {key: reader.text(data.get(key), key)
             for key in ("title", "intro", "consent", "thank_you")}
    title, intro, consent, thank_you = (texts[k] for k in ("title", "intro", "consent",
                                                           "thank_you"))
    assert title and intro and consent and thank_you  # required=True guarantees these
    return Consultation(
        id=consultation_id,
        title=title,
        version=version,
        default_language=language,
        languages=languages,
        source_name=source_name,
        source_url=source_url,
        closes_at=closes,
        intro=intro,
        summary=summary,
        consent=consent,
        consent_version=reader.integer(data.get("consent_version"), "consent_version", 1, 1),
        thank_you=thank_you,
        questions=questions,
        description=reader.text(data.get("description"), "description", required=False),
        opens_at=opens,
        votes_per_question=votes,
        statement_max_length=statement_max,
        retention_days=reader.integer(data.get("retention_days"), "retention_days", 365, 1),
        reminders=reader.integer(data.get("reminders"), "reminders", 1, 0),
        reminder_after_hours=reader.integer(
            data.get("reminder_after_hours"), "reminder_after_hours", 24, 1
        ),
        ask_quote_permission=_flag(reader, data, "ask_quote_permission"),
        offer_share_back=_flag(reader, data, "offer_share_back"),
        source_path=name,
        safeguarding_phone=read_local_contact(reader, data.get("safeguarding_phone")),
        keywords=read_keywords(reader, data.get("keywords"), languages),
    )


def _flag(reader: Reader, data: Mapping[str, Any], key: str) -> bool:
    return True if data.get(key) is None else reader.flag(data.get(key), key)


def _source(reader: Reader, raw: Any) -> tuple[Text, str]:
    if not isinstance(raw, Mapping) or "name" not in raw or "url" not in raw:
        raise reader.fail("'source' needs the official consultation's 'name' and 'url'")
    unknown = set(raw) - {"name", "url"}
    if unknown:
        raise reader.fail(f"'source' has unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    name = reader.text(raw["name"], "source name")
    url = raw["url"]
    if not isinstance(url, str) or not _URL.match(url.strip()):
        raise reader.fail("'source' url must be a web address starting https://")
    assert name is not None
    return name, url.strip()


def _summary(reader: Reader, raw: Any) -> tuple[Text, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SUMMARY_MESSAGES:
        raise reader.fail(f"'summary' must be a list of 1 to {MAX_SUMMARY_MESSAGES} short "
                          "messages")
    messages: list[Text] = []
    for n, item in enumerate(raw, start=1):
        text = reader.text(item, f"summary message {n}")
        assert text is not None
        for lang, words in text.by_language.items():
            if len(words) > MAX_SUMMARY_LENGTH:
                raise reader.fail(
                    f"summary message {n} ({lang}) is {len(words)} characters; keep each to "
                    f"{MAX_SUMMARY_LENGTH} so it reads on a phone"
                )
        messages.append(text)
    return tuple(messages)


def _questions(reader: Reader, raw: Any, statement_max: int) -> tuple[ConsultationQuestion, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_QUESTIONS:
        raise reader.fail(f"'questions' must be a list of 1 to {MAX_QUESTIONS} questions")
    questions: list[ConsultationQuestion] = []
    for position, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping):
            raise reader.fail(f"question {position} must be a mapping with id and text")
        qid = item.get("id")
        if not isinstance(qid, str) or not ID_PATTERN.match(qid):
            raise reader.fail(f"question {position} needs an 'id' of lowercase letters, "
                              "digits or _ (e.g. pay)")
        reader.question = qid
        if any(q.id == qid for q in questions):
            raise reader.fail("the id is used twice")
        unknown = set(item) - QUESTION_KEYS
        if unknown:
            raise reader.fail(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
        text = reader.text(item.get("text"), "text")
        assert text is not None
        questions.append(ConsultationQuestion(
            id=qid,
            text=text,
            seeds=_seeds(reader, item.get("statements"), statement_max),
            why=reader.text(item.get("why"), "why", required=False),
            topic=reader.text(item.get("topic"), "topic", required=False),
        ))
        reader.question = None
    return tuple(questions)


def _seeds(reader: Reader, raw: Any, statement_max: int) -> tuple[Text, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_SEEDS:
        raise reader.fail(f"'statements' must be a list of at most {MAX_SEEDS} statements")
    seeds: list[Text] = []
    for n, item in enumerate(raw, start=1):
        text = reader.text(item, f"statement {n}")
        assert text is not None
        for lang, words in text.by_language.items():
            if len(words) > statement_max:
                raise reader.fail(
                    f"statement {n} ({lang}) is {len(words)} characters; keep statements to "
                    f"{statement_max} so they read quickly on a phone"
                )
        if any(normalise(s.get()) == normalise(text.get()) for s in seeds):
            raise reader.fail(f"statement {n} repeats an earlier statement")
        seeds.append(text)
    return tuple(seeds)


def _languages(reader: Reader, declared: Any) -> tuple[str, ...]:
    if declared is None:
        return (reader.default_language,)
    if (not isinstance(declared, list) or not declared
            or not all(isinstance(x, str) and LANGUAGE_PATTERN.match(x) for x in declared)):
        raise reader.fail("'languages' must be a list of language codes such as [en, cy]")
    if reader.default_language not in declared:
        raise reader.fail(f"'languages' must include the default '{reader.default_language}'")
    return tuple(declared)


# --- What is stored -------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteCast(ConsultationRecord):
    """A vote on a statement: agree, disagree, or not sure ("pass", as Pol.is calls it)."""

    consultation_id: str
    statement_id: int
    vote: Vote


@dataclass(frozen=True)
class StatementProposed(ConsultationRecord):
    """A statement someone wrote for others to vote on. The service redacts it and holds it
    for a reviewer: it is never shown to anyone before approval, nor ever to its author."""

    consultation_id: str
    question_id: str
    text: str


# --- Choosing statements (pure, so the service and the tests share it) -------------------------


@dataclass(frozen=True)
class Candidate:
    """An approved statement someone might be shown."""

    id: int
    question_id: str
    text: str
    author: str | None = None


def _tiebreak(seed: str, statement_id: int) -> str:
    # Among statements with equally few votes, each person gets their own stable order, so
    # people who arrive together spread their votes instead of all seeing the same one.
    return hashlib.sha256(f"{seed}:{statement_id}".encode()).hexdigest()


def select_statements(candidates: Iterable[Candidate], votes_per_statement: Mapping[int, int],
                      seen: Collection[int], author: str | None, limit: int,
                      seed: str = "") -> list[Candidate]:
    """The statements to offer next, fewest votes first, so every statement gets seen.

    Leaves out what this person has seen or voted on (`seen`) and what they wrote
    (`author`). Ties break by a hash of `seed` (the person's pseudonym), deterministic
    without any randomness.
    """
    eligible = [c for c in candidates
                if c.id not in seen and (author is None or c.author != author)]
    eligible.sort(key=lambda c: (votes_per_statement.get(c.id, 0), _tiebreak(seed, c.id)))
    return eligible[:max(limit, 0)]


def build_context(consultation: Consultation, state: Mapping[str, Any] | None,
                  candidates: Iterable[Candidate], votes_per_statement: Mapping[int, int],
                  participant: str, voted: Collection[int] = (),
                  limit: int = 10) -> dict[str, Any]:
    """What the engine needs to run a consultation turn: per question, the statements this
    person may be shown next, best first, as [id, text] pairs.

    `candidates` are approved statements of the consultation; `voted` what the person has
    already voted on. The statement they are being asked about now is always included,
    so REPEAT can show it again. The organisers' seed statements are stored in the file's
    default language and shown in the person's, where the file has it; what participants
    wrote is shown as they wrote it.
    """
    lang = (state or {}).get("lang")
    seeds = {(q.id, seed.get()): seed for q in consultation.questions for seed in q.seeds}

    def shown_text(candidate: Candidate) -> str:
        seed = seeds.get((candidate.question_id, candidate.text))
        if candidate.author is None and seed is not None:
            return seed.get(lang if isinstance(lang, str) else None)
        return candidate.text

    values = (state or {}).get("values") or {}
    current = values.get("statement") if isinstance(values, Mapping) else None
    shown = set((state or {}).get("shown") or ()) | set(voted)
    by_question: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_question.setdefault(candidate.question_id, []).append(candidate)
    statements: dict[str, list[list[Any]]] = {}
    for question in consultation.questions:
        pool = by_question.get(question.id, [])
        chosen = select_statements(pool, votes_per_statement, shown, participant, limit,
                                   seed=participant)
        if current is not None and all(c.id != current for c in chosen):
            chosen += [c for c in pool if c.id == current and c.author != participant]
        statements[question.id] = [[c.id, shown_text(c)] for c in chosen]
    return {"statements": statements}


# --- The conversation -----------------------------------------------------------------------


@dataclass
class _Turn:
    """One step of a consultation conversation: the file, the result so far, the context."""

    consultation: Consultation
    result: Step
    context: Mapping[str, Any] | None

    @property
    def s(self) -> dict[str, Any]:
        return self.result.state

    @property
    def lang(self) -> str:
        return str(self.s["lang"] or self.consultation.default_language)

    @property
    def values(self) -> dict[str, Any]:
        values = self.s["values"]
        assert isinstance(values, dict)
        return values

    def say(self, text: str, choices: tuple[ReplyChoice, ...] = ()) -> None:
        self.result.say(text, choices)

    def t(self, message: str, **values: object) -> str:
        return _(self.lang, message, **values)

    def statements(self, question_id: str) -> list[tuple[int, str]]:
        """The statements on offer for a question, from the caller's context."""
        offered = ((self.context or {}).get("statements") or {}).get(question_id) or []
        return [(int(sid), str(text)) for sid, text in offered]

    def text_of(self, statement_id: int) -> tuple[str, str] | None:
        """(question id, text) of a statement on offer, if it still is."""
        for question in self.consultation.questions:
            for sid, text in self.statements(question.id):
                if sid == statement_id:
                    return question.id, text
        return None

    def next_statement(self, question_id: str) -> tuple[int, str] | None:
        shown = set(self.s["shown"])
        return next(((sid, text) for sid, text in self.statements(question_id)
                     if sid not in shown), None)

    def has_more(self, question_ids: Iterable[str]) -> bool:
        """Is anything on offer beyond the statement being asked about now?"""
        skip = set(self.s["shown"]) | {self.values.get("statement")}
        return any(sid not in skip for qid in question_ids for sid, _text in self.statements(qid))

    def mark_shown(self, statement_id: int) -> None:
        shown: list[int] = self.s["shown"]
        if statement_id not in shown:
            shown.append(statement_id)
        del shown[:-MAX_REMEMBERED]


def is_more(event: Event) -> bool:
    """Is this message MORE (show me more statements to vote on)?"""
    return event.kind == "text" and normalise(event.text).lstrip("/") in MORE_WORDS


def wants_more(state: Mapping[str, Any], event: Event) -> bool:
    """MORE after finishing: a consultation goes on offering new statements."""
    return state.get("stage") == "done" and is_more(event)


def awaits_words(consultation: Consultation, state: Mapping[str, Any]) -> bool:
    """Is the person writing in their own words (so "fft" is an answer, not a survey id)?"""
    values = state.get("values") or {}
    return state.get("stage") == "asking" and values.get("phase") in ("view", "propose")


def begin(consultation: Consultation, state: Mapping[str, Any] | None, now: datetime,
          language: str | None = None, introduced: str | None = None) -> Step:
    """Start a consultation: introduce it and ask for consent.

    The statement ids someone has already seen are kept from any earlier go, so starting
    again never shows them a statement twice. `introduced`: as for a survey
    (`surveys.engine.begin`), the language an invitation already gave the intro in.
    """
    s = load_state(state)
    chosen = language or s["lang"]
    lang = chosen if chosen in consultation.languages else consultation.default_language
    s.update(survey=consultation.id, version=consultation.version, lang=lang,
             stage="consent", q=None, tries=0, asked=[], values={}, paused=False, menu=[],
             seen=now.isoformat(), reminders=0, pending=None, wrote=False, safeguarding=None,
             introduced=introduced)
    result = Step(s, records=[Started(consultation.id, consultation.version, lang)])
    if len(consultation.languages) > 1 and chosen not in consultation.languages:
        s["stage"] = "language"
        ask_language(consultation.languages, result)
        return result
    _introduce(_Turn(consultation, result, None))
    return result


def _introduce(turn: _Turn) -> None:
    """The intro, unless their invitation gave it in this language, then consent."""
    if turn.s["introduced"] != turn.lang:
        turn.say(turn.consultation.intro.get(turn.lang))
    _ask_consent(turn)


def step(consultation: Consultation, state: Mapping[str, Any], event: Event, now: datetime,
         context: Mapping[str, Any] | None = None) -> Step:
    """Advance a consultation by one event. `context` comes from `build_context`."""
    s = load_state(state)
    s["seen"] = now.isoformat()
    turn = _Turn(consultation, Step(s), context)
    stage = s["stage"]
    if event.kind == "timeout":
        _remind(turn)
    elif stage == "done":
        if is_more(event):
            _start_more(turn)
    elif stage not in IN_SURVEY:
        pass
    elif stage == "language":
        lang = chosen_language(event, consultation.languages)
        if lang is None:
            ask_language(consultation.languages, turn.result)
        else:
            s.update(lang=lang, stage="consent")
            turn.result.records.append(LanguageChosen(lang))
            _introduce(turn)
    elif stage in ("quote", "shareback"):
        _after_questions(turn, event)
    else:
        word = keyword(event.text) if event.kind == "text" else None
        if word is not None and word is not Keyword.STOP:
            _keyword(turn, word)
        elif stage == "consent":
            _consent(turn, event)
        elif is_more(event):
            _more(turn)
        elif event.kind == "media":
            _media(turn, event)
        else:
            _answer(turn, event)
    return turn.result


def reprompt(consultation: Consultation, result: Step,
             context: Mapping[str, Any] | None = None) -> None:
    """Send again whatever the person was last asked (after PAUSE, START or a reminder)."""
    _reprompt(_Turn(consultation, result, context))


def _reprompt(turn: _Turn) -> None:
    stage = turn.s["stage"]
    if stage == "language":
        ask_language(turn.consultation.languages, turn.result)
    elif stage == "consent":
        _ask_consent(turn)
    elif stage == "quote":
        _ask_quote(turn)
    elif stage == "shareback":
        _ask_share_back(turn)
    elif stage == "asking":
        phase = turn.values.get("phase")
        question = turn.consultation.question(turn.s["q"])
        if phase == "more":
            _show_current_or_next(turn, None)
        elif question is None:
            _next_question(turn, after=None)
        elif phase == "vote":
            _show_current_or_next(turn, question)
        elif phase == "propose":
            _ask_propose(turn)
        else:
            _ask_view(turn, question)


# --- Consent and the summary -------------------------------------------------------------


def _ask_consent(turn: _Turn) -> None:
    turn.say(turn.consultation.consent.get(turn.lang),
             (ReplyChoice(CONSENT_YES, turn.t("Yes, I agree")),
              ReplyChoice(CONSENT_NO, turn.t("No, thank you"))))


def _consent(turn: _Turn, event: Event) -> None:
    c, s = turn.consultation, turn.s
    said = normalise(event.text)
    meaning = yes_or_no(event.text) if event.kind == "text" else None
    if event.payload == CONSENT_YES or meaning is True or said == "1":
        turn.result.records.append(ConsentDecision(c.id, c.consent_version, True))
        s["stage"] = "asking"
        for message in c.summary:
            turn.say(message.get(turn.lang))
        _next_question(turn, after=None)
    elif event.payload == CONSENT_NO or meaning is False or said == "2":
        turn.result.records.append(ConsentDecision(c.id, c.consent_version, False))
        s.update(stage="declined", q=None)
        turn.say(turn.t("That's fine. Thank you for your time. We won't ask you anything "
                        "about this survey. Text START if you change your mind."))
    else:
        s["tries"] += 1
        hint = turn.t("Sorry, do you agree to take part? Reply 1 for yes or 2 for no.")
        if s["tries"] >= MAX_QUIET_TRIES:
            hint += " " + turn.t("Or reply HELP.")
        turn.say(hint)


# --- Questions: a view, votes, a statement of their own ---------------------------------------


def _next_question(turn: _Turn, after: ConsultationQuestion | None) -> None:
    c, s = turn.consultation, turn.s
    start = 0 if after is None else c.position(after.id) + 1
    if start < len(c.questions):
        question = c.questions[start]
        s.update(q=question.id, tries=0)
        s["values"] = {"phase": "view", "statement": None, "seen_q": 0,
                       "limit": c.votes_per_question}
        if not s["asked"] or s["asked"][-1] != question.id:
            s["asked"].append(question.id)
        _ask_view(turn, question)
        return
    s.update(q=None, tries=0, values={})
    turn.result.records.append(Completed(c.id, c.version))
    _after_last_question(turn, after=None)


def _ask_view(turn: _Turn, question: ConsultationQuestion) -> None:
    c = turn.consultation
    heading = turn.t("Question {n} of {total}", n=c.position(question.id) + 1,
                     total=len(c.questions))
    turn.say(heading + "\n" + question.text.get(turn.lang) + "\n"
             + turn.t("(Reply in your own words, or SKIP.)"))


def _answer(turn: _Turn, event: Event) -> None:
    question = turn.consultation.question(turn.s["q"])
    phase = turn.values.get("phase")
    if phase == "more":
        _vote(turn, None, event)
    elif question is None:
        _next_question(turn, after=None)  # the file changed under us: carry on
    elif phase == "vote":
        _vote(turn, question, event)
    elif phase == "propose":
        _propose(turn, question, event)
    else:
        _view(turn, question, event)


def _view(turn: _Turn, question: ConsultationQuestion, event: Event) -> None:
    c, s = turn.consultation, turn.s
    words = event.text.strip() if event.kind == "text" else ""
    if not words:
        if event.kind == "button":
            turn.say(turn.t("That button was for an earlier question."))
            _ask_view(turn, question)
        else:
            turn.say(turn.t("Please reply in your own words."))
        return
    turn.result.records.append(AnswerGiven(c.id, c.version, question.id, "value",
                                           words[:MAX_VIEW_LENGTH], "", free_text=True))
    s["wrote"] = True
    _start_votes(turn, question)


def _start_votes(turn: _Turn, question: ConsultationQuestion) -> None:
    turn.values.update(phase="vote", statement=None)
    turn.s["tries"] = 0
    _next_vote(turn, question)


def _next_vote(turn: _Turn, question: ConsultationQuestion) -> None:
    """Offer the next statement for this question, or move on to their own statement."""
    values = turn.values
    if values.get("seen_q", 0) < values.get("limit", 0):
        offered = turn.next_statement(question.id)
        if offered is not None:
            values["statement"] = offered[0]
            _show_statement(turn, offered[1], first=values.get("seen_q", 0) == 0)
            return
    values.update(phase="propose", statement=None)
    turn.s["tries"] = 0
    _ask_propose(turn)


def _vote_choices(turn: _Turn, statement_id: int) -> tuple[ReplyChoice, ...]:
    labels = {"agree": turn.t("Agree"), "disagree": turn.t("Disagree"),
              "pass": turn.t("Not sure")}
    return tuple(ReplyChoice(f"{VOTE_PREFIX}{statement_id}:{code}", labels[code])
                 for code in VOTE_CHOICES)


def _show_statement(turn: _Turn, text: str, *, first: bool = False,
                    topic: str | None = None) -> None:
    statement_id = turn.values["statement"]
    parts = []
    if topic:
        parts.append(turn.t("About {topic}:", topic=topic))
    elif first:
        parts.append(turn.t("Now some points from others, one at a time."))
    parts += [f'"{text}"', turn.t("Do you agree?")]
    turn.say("\n".join(parts), _vote_choices(turn, statement_id))


def _show_current_or_next(turn: _Turn, question: ConsultationQuestion | None) -> None:
    """REPEAT in a vote: the same statement if it is still on offer, else the next one."""
    current = turn.values.get("statement")
    found = turn.text_of(current) if current is not None else None
    if found is not None:
        topic = _topic(turn, found[0]) if question is None else None
        _show_statement(turn, found[1], topic=topic)
    elif question is None:
        _next_more(turn)
    else:
        _next_vote(turn, question)  # withdrawn by a reviewer meanwhile: move on


def _read_vote(turn: _Turn, event: Event) -> Vote | Literal["stale"] | None:
    if event.kind == "button":
        if not event.payload.startswith(VOTE_PREFIX):
            return "stale"
        sid, _sep, code = event.payload.removeprefix(VOTE_PREFIX).partition(":")
        if sid != str(turn.values.get("statement")):
            return "stale"
        return next((choice for choice in VOTE_CHOICES if choice == code), "stale")
    said = normalise(event.text)
    if said in ("1", "agree", "i agree", "agreed") or said in YES_WORDS:
        return "agree"
    if said in ("2", "disagree", "i disagree", "disagreed") or said in NO_WORDS:
        return "disagree"
    if said in ("3", "unsure", "not sure", "neither", "maybe", "don't mind") or said in DONT_KNOW:
        return "pass"
    return None


def _vote(turn: _Turn, question: ConsultationQuestion | None, event: Event) -> None:
    c, s, values = turn.consultation, turn.s, turn.values
    statement_id = values.get("statement")
    if statement_id is None:
        _reprompt(turn)
        return
    vote = _read_vote(turn, event)
    if vote == "stale":
        turn.say(turn.t("That button was for an earlier point."))
        _show_current_or_next(turn, question)
        return
    if vote is None:
        s["tries"] += 1
        hint = turn.t("Please reply 1 if you agree, 2 if you disagree or 3 if you're not sure.")
        if s["tries"] >= MAX_QUIET_TRIES:
            hint += " " + turn.t("Reply SKIP to move on, or HELP for help.")
        turn.say(hint)
        return
    turn.result.records.append(VoteCast(c.id, int(statement_id), vote))
    _done_with_statement(turn, question)


def _done_with_statement(turn: _Turn, question: ConsultationQuestion | None) -> None:
    """After a vote or a SKIP: the statement counts as seen, never to be offered again."""
    values = turn.values
    turn.mark_shown(int(values["statement"]))
    values["seen_q"] = values.get("seen_q", 0) + 1
    values["statement"] = None
    turn.s["tries"] = 0
    if question is None:
        _next_more(turn)
    else:
        _next_vote(turn, question)


def _ask_propose(turn: _Turn) -> None:
    turn.say(turn.t("Would you like to add a point of your own for others to agree or "
                    "disagree with? Write it in one short sentence (up to {n} characters), "
                    "or reply NO to move on.", n=turn.consultation.statement_max_length))


def _propose(turn: _Turn, question: ConsultationQuestion, event: Event) -> None:
    c, s = turn.consultation, turn.s
    words = " ".join(event.text.split()) if event.kind == "text" else ""
    said = normalise(words)
    if event.kind == "button":
        turn.say(turn.t("That button was for an earlier point."))
        _ask_propose(turn)
    elif said in NO_WORDS or said in ("nothing", "none", "no more", "2"):
        _next_question(turn, after=question)
    elif said in YES_WORDS or said == "1":
        turn.say(turn.t("Great. Please write your point in one short sentence."))
    elif len(words) > c.statement_max_length:
        s["tries"] += 1
        turn.say(turn.t("That's a bit long for others to read on a phone. Please say it in "
                        "{n} characters or fewer (yours has {length}), or reply NO to move on.",
                        n=c.statement_max_length, length=len(words)))
    elif len(said.split()) < 2:
        s["tries"] += 1
        turn.say(turn.t("Please write your point as a short sentence, or reply NO to move on."))
    else:
        turn.result.records.append(StatementProposed(c.id, question.id, words))
        turn.say(turn.t("Thank you. Someone from the group will check it, then others can "
                        "agree or disagree with it."))
        _next_question(turn, after=question)


# --- MORE: more statements, during the questions or any time after --------------------------


def _more(turn: _Turn) -> None:
    c, values = turn.consultation, turn.values
    phase = values.get("phase")
    question = turn.consultation.question(turn.s["q"])
    values["limit"] = values.get("limit", 0) + c.votes_per_question
    if phase in ("vote", "more") and values.get("statement") is not None:
        in_play = [q.id for q in c.questions] if phase == "more" or question is None else (
            [question.id])
        if turn.has_more(in_play):
            turn.say(turn.t("OK, we'll show you more points after this one."))
        else:
            turn.say(turn.t("This is the last point for now."))
        _show_current_or_next(turn, question if phase == "vote" else None)
    elif question is None or phase in ("vote", "more"):
        _reprompt(turn)
    elif phase == "propose":
        offered = turn.next_statement(question.id)
        if offered is None:
            turn.say(turn.t("There are no more points on this question for now."))
            _ask_propose(turn)
        else:
            _start_votes(turn, question)
    else:
        turn.say(turn.t("OK, we'll show you more points from others after this question."))
        _ask_view(turn, question)


def _start_more(turn: _Turn) -> None:
    c, s = turn.consultation, turn.s
    # Back "asking", but no reminders: this round is extra, whenever they like.
    s.update(stage="asking", q=None, tries=0, reminders=max(s["reminders"], c.reminders))
    s["values"] = {"phase": "more", "statement": None, "seen_q": 0,
                   "limit": c.votes_per_question}
    _next_more(turn)


def _topic(turn: _Turn, question_id: str) -> str:
    question = turn.consultation.question(question_id)
    if question is None:
        return ""
    return (question.topic or question.text).get(turn.lang)


def _next_more(turn: _Turn) -> None:
    values = turn.values
    if values.get("seen_q", 0) < values.get("limit", 0):
        for question in turn.consultation.questions:
            offered = turn.next_statement(question.id)
            if offered is not None:
                values["statement"] = offered[0]
                _show_statement(turn, offered[1], topic=_topic(turn, question.id))
                return
        message = turn.t("You've seen every point for now. Others are still adding theirs: "
                         "text MORE another day to see new ones.")
    else:
        message = turn.t("Thank you. Text MORE whenever you'd like to see more points.")
    turn.s.update(stage="done", q=None, tries=0, values={})
    turn.say(message)


# --- Keywords, media, reminders ----------------------------------------------------------------


def _keyword(turn: _Turn, word: Keyword) -> None:
    s, values = turn.s, turn.values
    question = turn.consultation.question(s["q"])
    phase = values.get("phase")
    if word is Keyword.PAUSE:
        s["paused"] = True
        turn.say(turn.t("Paused. Send any message when you're ready to carry on."))
    elif word is Keyword.HELP:
        turn.say(_help(turn, question))
    elif word in (Keyword.REPEAT, Keyword.START):
        _reprompt(turn)
    elif s["stage"] == "consent":
        turn.say(turn.t("First, please tell us if you agree to take part."))
        _ask_consent(turn)
    elif word is Keyword.BACK:
        turn.say(turn.t("Sorry, we can't go back in this one. Here's where we were:"))
        _reprompt(turn)
    elif phase == "more" or (question is not None and phase == "vote"):
        if values.get("statement") is None:
            _reprompt(turn)
        else:
            _done_with_statement(turn, question if phase == "vote" else None)
    elif question is None:
        _next_question(turn, after=None)
    elif phase == "propose":
        _next_question(turn, after=question)
    else:  # SKIP their view: straight on to the statements
        c = turn.consultation
        turn.result.records.append(AnswerGiven(c.id, c.version, question.id, "skipped"))
        _start_votes(turn, question)


def _help(turn: _Turn, question: ConsultationQuestion | None) -> str:
    c, phase = turn.consultation, turn.values.get("phase")
    if turn.s["stage"] == "consent":
        now = turn.t("Reply 1 if you agree to take part, or 2 if not.")
    elif phase in ("vote", "more"):
        now = turn.t("Reply 1 if you agree with the point, 2 if you disagree, or 3 if you're "
                     "not sure. SKIP moves on without voting.")
    elif phase == "propose":
        now = turn.t("Write one short sentence others can agree or disagree with. A reviewer "
                     "checks it first, and we never show your name. Reply NO to move on.")
    else:
        now = turn.t("Reply in your own words.")
    parts = [now]
    if question is not None and question.why and phase not in ("vote", "more", "propose"):
        parts.append(turn.t("Why we ask: {why}", why=question.why.get(turn.lang)))
    parts.append(turn.t("Read more: {url}", url=c.source_url))
    parts.append(turn.t("Words you can send: {words}.", words=", ".join(
        turn.t(word) for word in _help_words(turn))))
    return "\n".join(parts)


def _help_words(turn: _Turn) -> list[str]:
    """The words that work at this point of a consultation, and only those."""
    phase = turn.values.get("phase")
    words = ["REPEAT"]
    if turn.s["stage"] == "asking" and phase in ("view", "vote", "more"):
        words.append("SKIP")
    if turn.s["stage"] == "asking":
        words.append("MORE")
    words += ["PAUSE", "MYDATA", "DELETE", "STOP"]
    return words


def _media(turn: _Turn, event: Event) -> None:
    c = turn.consultation
    question = c.question(turn.s["q"])
    if question is not None and turn.values.get("phase") == "view":
        turn.result.records.append(AnswerGiven(c.id, c.version, question.id, "media",
                                               {"media": event.media_type or "file"}))
    turn.say(not_used(event.media_type, turn.lang))
    _reprompt(turn)


def _remind(turn: _Turn) -> None:
    s = turn.s
    if s["paused"] or s["stopped"] or s["stage"] not in ("consent", "asking"):
        return
    s["reminders"] += 1
    turn.say(turn.t("A gentle reminder: you started \"{title}\". Carry on whenever suits "
                    "you, or reply STOP.", title=turn.consultation.title.get(turn.lang)))
    _reprompt(turn)


# --- After the questions: quotes, share-back, thanks -----------------------------------------


def _yes_no(turn: _Turn, yes: str, no: str) -> tuple[ReplyChoice, ...]:
    return (ReplyChoice(yes, turn.t("Yes")), ReplyChoice(no, turn.t("No")))


def _ask_quote(turn: _Turn) -> None:
    turn.say(turn.t("May we quote your words, without your name, when we share what we "
                    "heard?"), _yes_no(turn, QUOTE_YES, QUOTE_NO))


def _ask_share_back(turn: _Turn) -> None:
    turn.say(turn.t("Would you like to hear what we learn?"), _yes_no(turn, SHARE_YES, SHARE_NO))


def _after_last_question(turn: _Turn, after: str | None) -> None:
    c, s = turn.consultation, turn.s
    if after is None and c.ask_quote_permission and s.get("wrote") and not s.get(
            "safeguarding"):  # not after a possible disclosure (surveys.signposting)
        s["stage"] = "quote"
        _ask_quote(turn)
    elif after in (None, "quote") and c.offer_share_back:
        s["stage"] = "shareback"
        _ask_share_back(turn)
    else:
        s["stage"] = "done"
        turn.say(c.thank_you.get(turn.lang) + "\n"
                 + turn.t("Text MORE at any time to see new points from others."))


def _after_questions(turn: _Turn, event: Event) -> None:
    c, s = turn.consultation, turn.s
    stage = s["stage"]
    word = keyword(event.text) if event.kind == "text" else None
    if word is Keyword.SKIP:
        _after_last_question(turn, after=stage)
        return
    if word is Keyword.PAUSE:
        s["paused"] = True
        turn.say(turn.t("Paused. Send any message when you're ready to carry on."))
        return
    yes, no = (QUOTE_YES, QUOTE_NO) if stage == "quote" else (SHARE_YES, SHARE_NO)
    said = normalise(event.text)
    meaning = yes_or_no(event.text) if event.kind == "text" and word is None else None
    answer: bool | None = None
    if word is None and (event.payload == yes or meaning is True or said == "1"):
        answer = True
    elif word is None and (event.payload == no or meaning is False or said == "2"):
        answer = False
    if answer is None:
        hint = turn.t("Please reply 1 for yes or 2 for no.")
        if is_more(event):
            hint += " " + turn.t("Then text MORE to see more points.")
        turn.say(hint)
        return
    if stage == "quote":
        turn.result.records.append(QuotePermission(c.id, answer))
    else:
        turn.result.records.append(ShareBackChoice(c.id, answer))
    _after_last_question(turn, after=stage)

