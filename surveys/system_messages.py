"""Every message WithUs itself sends around a survey, as the engine really builds it.

A survey's author writes its intro, questions and thank-you; people also get the engine's
own words around them: the menu, HELP at each stage (ending with the organisation's
contact), MYDATA, re-asks, "Got it: ... Reply BACK to change it.", reminders, LATER and TIME, STOP
and STOPIO, the media reply, the notice when a long answer is cut, the safeguarding
signposting and pause. `system_messages` produces each of them, in every language the
survey offers, by driving `surveys.keeping.converse` (the function the service calls)
from a saved state to the point where it is said, or, for the signposting the service adds
after a possible disclosure, by calling the function that builds it. So `surveys.lint`
measures what is sent, not a copy of it that could drift.

Each reason for a re-ask gets its own message id ("overall:reask:one_only"). Where the
words depend on what else a person sent (which fuzzy answer, which time, which kind of
media), every case is tried and the longest as an SMS is kept: that is the one that could
break the budget. Pure: no I/O; the time is fixed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from surveys import keeping, mydata, signposting, sms
from surveys.consultation import (
    Candidate,
    Consultation,
    ConsultationQuestion,
    build_context,
)
from surveys.conversation import (
    CONSENT_NO,
    LANGUAGE_PREFIX,
    MAX_QUIET_TRIES,
    Event,
    Reply,
    Step,
    new_state,
)
from surveys.engine import Catalog
from surveys.media import takes
from surveys.model import FREE_TEXT_LIMIT, Question, QuestionType, Survey
from surveys.organisation import EXAMPLE, Organisation
from surveys.parsing import Parsed, clarify, parse_answer
from surveys.render import numbered

#: The engine is pure and needs a time; any fixed moment will do.
RENDER_TIME = datetime(2000, 1, 1, 12, tzinfo=UTC)
#: A local safeguarding contact as long as one may be (signposting.MAX_LOCAL_CONTACT),
#: for surveys that set none: a deployment may set one of up to that length.
EXAMPLE_LOCAL_CONTACT = "Adult safeguarding team: 0300 123 4567 "[:signposting.MAX_LOCAL_CONTACT]
#: A day with long names in English and Welsh (Wednesday 23 September, Mercher 23 Medi).
_LONG_DAY = datetime(2026, 9, 23, 10, tzinfo=UTC)
#: A reply no question can understand.
NONSENSE = "qqxz"
#: Everyday words the rating scales read approximately ("Got it: Very good.").
RATING_WORDS = ("excellent", "brilliant", "rubbish", "terrible", "not bad", "ok", "10/10",
                "5 stars", "1 star")
#: Why a reply was not taken (`Parsed.problem`), as each re-ask is named in the table.
REASONS = {"choice": "unclear", "one_only": "one_only", "outside": "not_an_option",
           "range": "out_of_range", "number": "not_a_number", "whole": "not_whole",
           "empty": "empty", "dont_know": "dont_know", "ambiguous": "did_you_mean"}
#: Media a person may send where words were asked for.
MEDIA_KINDS = ("photo", "voice", "video", "sticker", "location", "contact", "document")
#: A long answer in ordinary words, to be cut at a free-text question's limit.
_LONG_WORDS = ("I look after my mother most days and some nights, and the hardest part is "
               "never knowing when I can rest. ")


@dataclass(frozen=True)
class SystemMessage:
    """One message the engine sends, in one language ("en,cy": before a language is
    known), with the question it belongs to when it belongs to one."""

    id: str
    language: str
    reply: Reply
    question: str | None = None
    #: The deployment's own words (WITHUS_SIGNPOSTING_FILE) rather than WithUs's.
    own: bool = False


def system_messages(survey: Survey | Consultation, organisation: Organisation = EXAMPLE,
                    others: Iterable[Survey | Consultation] = (),
                    signposts: signposting.CustomTexts | None = None) -> list[SystemMessage]:
    """Every system message around `survey` (or a consultation), in the order a person
    meets them.

    `others` are the surveys and consultations offered beside it (they make the menu);
    `organisation` gives the name said to newcomers and the contact at the end of HELP;
    `signposts`, the deployment's own signposting texts (WITHUS_SIGNPOSTING_FILE, as
    read), used where the service would use them.
    """
    return _Driver(survey, organisation, others, signposts).run()


def sms_size(reply: Reply, language: str | None) -> tuple[int, int]:
    """(segments, characters) of a reply as the SMS channel sends it: for keeping the
    costliest of several."""
    text = sms.to_gsm(numbered(reply.text, [c.label for c in reply.choices], reply.multiple,
                               language))
    return sms.segments(text), len(text)


def _undated(item: Any) -> Any:
    """The item open at any time: lint measures words, not dates."""
    if isinstance(item, Consultation):
        return replace(item, opens_at=None, closes_at=datetime(9999, 1, 1, tzinfo=UTC))
    return replace(item, opens_at=None, closes_at=None)


class _Driver:
    def __init__(self, survey: Survey | Consultation, organisation: Organisation,
                 others: Iterable[Survey | Consultation],
                 signposts: signposting.CustomTexts | None = None) -> None:
        self.survey = _undated(survey)
        self.signposts = signposts or {}
        self.now = RENDER_TIME
        surveys: dict[str, Survey] = {}
        consultations: dict[str, Consultation] = {}
        for item in [*others, self.survey]:
            if item.id == survey.id and item is not self.survey:
                continue
            if isinstance(item, Consultation):
                consultations[item.id] = _undated(item)
            else:
                surveys[item.id] = _undated(item)
        self.catalog = Catalog(surveys, None, consultations, organisation=organisation)
        #: For a consultation, the statements it offers: its seeds.
        self.candidates: list[Candidate] = []
        if isinstance(self.survey, Consultation):
            self.candidates = [Candidate(n, qid, text) for n, (qid, text) in
                               enumerate(self.survey.seed_statements(), start=1)]
        self.found: list[SystemMessage] = []

    # --- driving the engine ---------------------------------------------------------------

    def state(self, lang: str | None, **changes: Any) -> dict[str, Any]:
        s = new_state()
        s.update(survey=self.survey.id, version=self.survey.version, lang=lang,
                 seen=self.now.isoformat())
        s.update(changes)
        return s

    def at(self, question: Question, lang: str, tries: int = 0) -> dict[str, Any]:
        """Asking `question`, after every question before it (so BACK is offered)."""
        assert isinstance(self.survey, Survey)
        asked = [q.id for q in self.survey.questions[:self.survey.position(question.id) + 1]
                 if q.is_answerable]
        return self.state(lang, stage="asking", q=question.id, asked=asked, tries=tries)

    def asking(self, lang: str) -> dict[str, Any]:
        """At the first question."""
        item = self.survey
        if isinstance(item, Survey):
            return self.at(next(q for q in item.questions if q.is_answerable), lang)
        return self.viewing(item.questions[0], lang)

    def viewing(self, question: ConsultationQuestion, lang: str,
                **values: Any) -> dict[str, Any]:
        """A consultation asking for a view on `question` (or, with `phase`, a vote...)."""
        assert isinstance(self.survey, Consultation)
        asked = [q.id for q in self.survey.questions[:self.survey.position(question.id) + 1]]
        return self.state(lang, stage="asking", q=question.id, asked=asked, values={
            "phase": "view", "statement": None, "seen_q": 0,
            "limit": self.survey.votes_per_question, **values})

    def say(self, state: dict[str, Any], text: str = "", *, kind: str = "text",
            catalog: Catalog | None = None, context: dict[str, Any] | None = None,
            **event: Any) -> Step:
        if context is None and isinstance(self.survey, Consultation):
            context = build_context(self.survey, state, self.candidates, {}, "lint")
        return keeping.converse(catalog or self.catalog, state,
                                Event(kind, text=text, **event),  # type: ignore[arg-type]
                                self.now, context)

    def add(self, pid: str, lang: str, replies: Sequence[Reply], index: int = 0,
            question: str | None = None) -> None:
        if replies:
            self.found.append(SystemMessage(pid, lang, replies[index], question))

    def worst(self, pid: str, lang: str, candidates: Iterable[Reply | None],
              question: str | None = None) -> None:
        """Keep the costliest of several wordings as an SMS."""
        real = [c for c in candidates if c is not None]
        if real:
            self.found.append(SystemMessage(
                pid, lang, max(real, key=lambda r: sms_size(r, lang)), question))

    def first(self, state: dict[str, Any], text: str = "", **event: Any) -> Reply | None:
        replies = self.say(state, text, **event).replies
        return replies[0] if replies else None

    def reask(self, state: dict[str, Any], text: str) -> Reply | None:
        """The re-ask after `text`, or None when the engine took it as an answer."""
        result = self.say(state, text)
        if result.state["q"] != state["q"] or len(result.replies) != 1:
            return None
        return result.replies[0]

    # --- the messages -----------------------------------------------------------------------

    def run(self) -> list[SystemMessage]:
        survey = self.survey
        self.newcomer()
        for lang in survey.languages:
            self.consent(lang)
            if isinstance(survey, Survey):
                for question in survey.questions:
                    if question.is_answerable:
                        self.question(question, lang)
            else:
                for number, view in enumerate(survey.questions):
                    self.consultation_question(view, lang, first=number == 0)
            self.after_questions(lang)
            self.outside(lang)
            self.preferences(lang)
            self.stopping(lang)
            self.mydata(lang)
            self.data_rights(lang)
            self.media(lang)
            self.safeguarding(lang)
        return self.found

    def newcomer(self) -> None:
        """The very first message: "Hello from <organisation>." before the survey (when
        it is the one newcomers start) or before the menu."""
        languages = self.survey.languages
        hello_lang = ",".join(languages) if len(languages) > 1 else languages[0]
        starting = replace(self.catalog, default_survey=self.survey.id)
        self.add("hello", hello_lang, self.say(new_state(), "Hi", catalog=starting).replies)
        self.add("hello:menu", "en", self.say(new_state(), "Hi").replies)
        for lang, words in getattr(self.survey, "keywords", {}).items():
            if words:  # a newcomer who texts the survey's keyword starts in that language
                self.add("hello:keyword", lang, self.say(new_state(), words[0]).replies)

    def consent(self, lang: str) -> None:
        s = self.state(lang, stage="consent")
        self.add("consent:reask", lang,
                 self.say(self.state(lang, stage="consent", tries=MAX_QUIET_TRIES - 1),
                          NONSENSE).replies)
        self.add("consent:help", lang, self.say(s, "HELP").replies)
        self.add("declined", lang, self.say(s, kind="button", payload=CONSENT_NO).replies)

    def question(self, question: Question, lang: str) -> None:
        qid = question.id
        late = self.at(question, lang, tries=MAX_QUIET_TRIES - 1)
        reasks: dict[str, list[Reply | None]] = {}
        for said in _unreadable(question):
            why = REASONS.get(parse_answer(question, said, lang).problem, "unclear")
            reasks.setdefault(why, []).append(self.reask(late, said))
        reasks.setdefault("did_you_mean", []).append(_ambiguous(question, lang))
        for why, replies in reasks.items():
            self.worst(f"{qid}:reask:{why}", lang, replies, qid)
        tried = self.at(question, lang, tries=MAX_QUIET_TRIES)
        self.add(f"{qid}:help", lang, self.say(tried, "HELP").replies, question=qid)
        got_it = [self.first(self.at(question, lang), said)
                  for said in _approximate(question, lang)]
        self.worst(f"{qid}:got_it", lang, got_it, qid)
        if question.type is QuestionType.FREE_TEXT:
            limit = min(question.max_length, FREE_TEXT_LIMIT)
            long = _LONG_WORDS * (limit // len(_LONG_WORDS) + 2)
            self.add(f"{qid}:cut", lang, self.say(self.at(question, lang), long).replies,
                     question=qid)

    def consultation_question(self, question: ConsultationQuestion, lang: str,
                              first: bool) -> None:
        """A view in their own words, votes on others' points, then a point of their own."""
        qid = question.id
        view = self.viewing(question, lang)
        self.add(f"{qid}:ask", lang, self.say(view, "REPEAT").replies, question=qid)
        self.add(f"{qid}:help", lang, self.say(view, "HELP").replies, question=qid)
        self.add(f"{qid}:reask", lang, self.say(view, "   ").replies, question=qid)
        seeds = [c for c in self.candidates if c.question_id == qid]
        if seeds:  # the first point offered, introduced: the longest seed
            longest = max(seeds, key=lambda c: len(c.text))
            assert isinstance(self.survey, Consultation)
            context = build_context(self.survey, view, [longest], {}, "lint")
            voting = self.say(view, "I think it should be fair.", context=context)
            self.add(f"{qid}:vote", lang, voting.replies, -1, question=qid)
            late = dict(voting.state, tries=MAX_QUIET_TRIES - 1, kept=None)
            self.add(f"{qid}:vote:reask", lang, self.say(late, NONSENSE, context=context).replies,
                     question=qid)
            self.add(f"{qid}:vote:help", lang, self.say(voting.state, "HELP",
                                                         context=context).replies, question=qid)
        if not first:
            return
        propose = self.viewing(question, lang, phase="propose")
        self.add("propose", lang, self.say(propose, "REPEAT").replies)
        self.add("propose:help", lang, self.say(propose, "HELP").replies)
        limit = self.survey.statement_max_length
        too_long = " ".join(["Carers should be paid for every hour"] * (limit // 30 + 2))
        self.add("propose:long", lang, self.say(propose, too_long).replies)
        self.add("proposed", lang, self.say(propose, "Carers should be paid for travel.").replies)

    def after_questions(self, lang: str) -> None:
        for stage, pid, wanted in (("quote", "quote", self.survey.ask_quote_permission),
                                   ("shareback", "shareback", self.survey.offer_share_back)):
            if not wanted:
                continue
            s = self.state(lang, stage=stage, wrote=True)
            self.add(pid, lang, self.say(dict(s, paused=True), "hello").replies, -1)
            self.add(f"{pid}:reask", lang, self.say(s, NONSENSE).replies)
            self.add(f"{pid}:help", lang, self.say(s, "HELP").replies)
        done = self.state(lang, stage="done")
        self.add("finished", lang, self.say(done, "thanks").replies)

    def outside(self, lang: str) -> None:
        done = self.state(lang, stage="done")
        self.add("menu", lang, self.say(done, "MENU").replies)
        menu = self.say(done, "MENU").state
        self.add("menu:help", lang, self.say(menu, "HELP").replies)
        asking = self.asking(lang)
        self.add("reminder", lang, self.say(asking, kind="timeout").replies)
        self.add("pause", lang, self.say(asking, "PAUSE").replies)
        self.add("welcome_back", lang, self.say(dict(asking, paused=True), "START").replies)
        closed = replace(self.catalog, closed={self.survey.id: self.now - timedelta(days=1)})
        self.add("closed", lang, self.say(asking, "hello", catalog=closed).replies)

    def preferences(self, lang: str) -> None:
        asking = self.asking(lang)
        times = ("morning", "afternoon", "evening", "night", "7pm")
        self.add("later", lang, self.say(asking, "LATER").replies)
        later = self.say(asking, "LATER").state
        self.worst("later:set", lang, (self.first(later, when) for when in times))
        done = self.state(lang, stage="done")
        self.add("time", lang, self.say(done, "TIME").replies)
        timing = self.say(done, "TIME").state
        self.worst("time:set", lang, (self.first(timing, when) for when in times))
        other = next((code for code in self.survey.languages if code != lang), "en")
        self.add("language:set", lang,
                 self.say(self.state(other, stage="done", pending="language"), kind="button",
                          payload=LANGUAGE_PREFIX + lang).replies)

    def stopping(self, lang: str) -> None:
        asking = self.asking(lang)
        self.add("stop", lang, self.say(asking, "STOP").replies)
        if lang == "cy" or (lang == self.survey.languages[0] and "cy" not in
                            self.survey.languages):
            # STOPIO is confirmed in Welsh whatever language was set.
            self.add("stopio", "cy", self.say(dict(asking, lang="en"), "STOPIO").replies)
        stopped = self.say(asking, "STOP").state
        self.add("start", lang, self.say(stopped, "START").replies)

    def data_rights(self, lang: str) -> None:
        done = self.state(lang, stage="done")
        self.add("delete", lang, self.say(done, "DELETE").replies)
        pending = self.say(done, "DELETE").state
        self.add("deleted", lang, self.say(pending, "YES").replies)
        self.add("delete:no", lang, self.say(pending, "NO").replies)

    def mydata(self, lang: str) -> None:
        """MYDATA's reply (the service builds it with `surveys.mydata` from what is held):
        the costliest of this survey alone, on one day or over months, and beside every
        other one in the menu."""
        item = self.survey
        answers = len([q for q in item.questions if getattr(q, "is_answerable", True)])
        one_day = (_LONG_DAY, _LONG_DAY)
        months = (_LONG_DAY, _LONG_DAY + timedelta(days=98))
        held = [mydata.Held(item.title.get(lang), answers, *one_day),
                mydata.Held(item.title.get(lang), answers, *months)]
        everything = [mydata.Held(other.title.get(lang), answers, *months)
                      for other in self.catalog.open_surveys(self.now)]
        self.worst("mydata", lang, [Reply(mydata.summary([h], lang, "sms")) for h in held]
                   + [Reply(mydata.summary(everything, lang, "sms"))])

    def media(self, lang: str) -> None:
        survey = self.survey
        if isinstance(survey, Consultation):
            self.worst("media", lang, (self.first(self.asking(lang), kind="media",
                                                  media_type=kind) for kind in MEDIA_KINDS))
            return
        words = next((q for q in survey.questions
                      if q.is_answerable and q.accepts <= {"text"}), None)
        if words is not None:
            at = self.at(words, lang)
            self.worst("media", lang, (self.first(at, kind="media", media_type=kind)
                                       for kind in MEDIA_KINDS))
        taking = next((q for q in survey.questions if q.accepts - {"text"}), None)
        if taking is not None:
            at = self.at(taking, lang)
            self.worst("media:received", lang,
                       (self.first(at, kind="media", media_type=kind)
                        for kind in ("voice", "photo") if takes(taking, kind)), taking.id)
            self.worst("media:failed", lang,
                       (self.first(at, kind="media_failed", payload=taking.id,
                                   survey_id=survey.id, media_type=kind)
                        for kind in ("voice", "photo") if takes(taking, kind)), taking.id)

    def safeguarding(self, lang: str) -> None:
        contact = self.survey.safeguarding_phone or EXAMPLE_LOCAL_CONTACT
        for category in signposting.SIGNPOSTING:
            sent = signposting.signposting(category, lang, contact, self.signposts)
            built_in = signposting.signposting(category, lang, contact)
            self.found.append(SystemMessage(f"signposting:{category}", lang, Reply(sent),
                                            own=sent != built_in))
        paused = signposting.pause_after_disclosure(Step(self.asking(lang)), lang)
        self.add("safeguarding:pause", lang, paused.replies)
        for pid, said in (("safeguarding:reask", NONSENSE), ("safeguarding:carry_on", "1"),
                          ("safeguarding:stopped", "2"), ("safeguarding:contact", "3")):
            self.add(pid, lang, self.say(paused.state, said).replies)


def _unreadable(question: Question) -> list[str]:
    """Replies that give each reason for a re-ask at this kind of question."""
    n = len(question.options)
    kinds: dict[QuestionType, list[str]] = {
        QuestionType.SINGLE_CHOICE: [NONSENSE, "1 2", str(n + 1), "99", "I don't know"],
        QuestionType.SCALE: [NONSENSE, "1 2", "99", "I don't know"],
        QuestionType.YES_NO: [NONSENSE, "1 2"],
        QuestionType.MULTIPLE_CHOICE: [NONSENSE, f"1 {n + 1}", "99", "I don't know"],
        QuestionType.NUMBER: [NONSENSE, "2.5", "2 or 3", "-99999", "99999999",
                              "I don't know"],
        QuestionType.FREE_TEXT: ["   "],
    }
    return kinds.get(question.type, [NONSENSE])


def _ambiguous(question: Question, lang: str) -> Reply | None:
    """"Did you mean 1 ... or 2 ...?" for the two longest options: a reply close to both."""
    if len(question.options) < 2 or question.type is QuestionType.YES_NO:
        return None
    longest = sorted(question.options, key=lambda o: len(o.label.get(lang)))[-2:]
    ordered = tuple(o.code for o in question.options if o in longest)
    text = clarify(question, Parsed(problem="ambiguous", candidates=ordered), lang)
    return Reply(text) if text else None


def _approximate(question: Question, lang: str) -> list[str]:
    """Replies the engine reads approximately at `question`: a typo in each option's
    words, and everyday ratings. Only those it does read approximately are kept."""
    tries: list[str] = list(RATING_WORDS)
    for option in question.options:
        tries += _typos(option.label.get(lang))
    return [said for said in dict.fromkeys(tries)
            if (parsed := parse_answer(question, said, lang)).ok and parsed.fuzzy]


def _typos(label: str) -> list[str]:
    """A letter dropped, or two swapped, in the longest word of `label`."""
    words = label.split()
    if not words:
        return []
    n = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[n]
    if len(word) < 4:
        return []
    middle = len(word) // 2
    changed = [word[:middle] + word[middle + 1:],
               word[:middle - 1] + word[middle] + word[middle - 1] + word[middle + 1:]]
    return [" ".join([*words[:n], typo, *words[n + 1:]]) for typo in changed]


#: For tests: every id `system_messages` can produce that does not belong to a question.
GENERAL_IDS = (
    "hello", "hello:menu", "hello:keyword", "consent:reask", "consent:help", "declined",
    "quote", "quote:reask",
    "quote:help", "shareback", "shareback:reask", "shareback:help", "finished", "menu",
    "menu:help", "reminder", "pause", "welcome_back", "closed", "later", "later:set", "time",
    "time:set", "language:set", "stop", "stopio", "start", "mydata", "delete", "deleted",
    "delete:no",
    "propose", "propose:help", "propose:long", "proposed", "media", "media:received",
    "media:failed", "signposting:self_harm", "signposting:abuse",
    "signposting:neglect", "safeguarding:pause", "safeguarding:reask", "safeguarding:carry_on",
    "safeguarding:stopped", "safeguarding:contact",
)
