"""Messy personas driving every example survey through the pure engine, channel by channel.

Each persona is a way of answering (typos, two texts in a row, a long answer in two parts,
emoji, Welsh, STOP half-way, chit-chat after finishing). `drive` plays one persona through
one survey or consultation and returns what happened turn by turn: what the person sent,
what we replied and what would be stored. Two uses:

- tests/test_personas.py checks that every word sent is an answer, a keyword or an
  "other reply" (nothing dropped);
- `python -m tests.personas` prints what a completed survey costs per channel: SMS
  segments, and WhatsApp and Telegram messages, to reach the first question and in all.

The channels are modelled as the service renders them (surveys.render.numbered where a
channel has no buttons, GSM-7 clean-up on SMS, the voice-note line where media travels),
so the counts are those a person pays for.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from surveys import keeping, render
from surveys.commands import command
from surveys.consultation import Consultation
from surveys.conversation import AnswerGiven, Event, Reply
from surveys.engine import Catalog
from surveys.keywords import keyword
from surveys.loader import library_path, load_file
from surveys.model import QuestionType, Survey
from surveys.sms import segments, to_gsm
from tests.engine_transcript import StatementPool

START = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


# --- Channels, as the service renders replies --------------------------------------------


@dataclass(frozen=True)
class ChannelModel:
    name: str
    max_buttons: int
    carries_media: bool
    max_length: int
    #: Twilio answers an English STOP itself on SMS: the app sends nothing.
    provider_confirms_stop: bool = False

    def render(self, reply: Reply, language: str) -> list[str]:
        text = reply.text
        if reply.media_note and self.carries_media:
            text += "\n" + reply.media_note
        labels = [c.label for c in reply.choices]
        buttons = (labels and not reply.multiple and len(labels) <= self.max_buttons)
        if labels and not buttons:
            text = render.numbered(text, labels, reply.multiple, language)
        if self.name == "sms":
            return [to_gsm(text)]
        parts = [text[i:i + self.max_length] for i in range(0, len(text), self.max_length)]
        return parts or [""]

    def cost(self, reply: Reply, language: str) -> int:
        """SMS segments on SMS; messages on WhatsApp and Telegram."""
        parts = self.render(reply, language)
        if self.name == "sms":
            return sum(segments(part) for part in parts)
        return len(parts)


CHANNELS = (
    ChannelModel("sms", 0, False, 1600, provider_confirms_stop=True),
    ChannelModel("whatsapp", 3, True, 1600),
    ChannelModel("telegram", 8, True, 4096),
)
TWILIO_STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})


def library() -> list[Survey | Consultation]:
    return [load_file(path) for path in sorted(library_path().glob("*.yaml"))]


def catalog_of(item: Survey | Consultation) -> Catalog:
    if isinstance(item, Survey):
        return Catalog({item.id: item})
    return Catalog({}, consultations={item.id: item})


# --- What one turn looked like ------------------------------------------------------------


@dataclass
class Turn:
    sent: Event
    at: datetime
    replies: list[Reply]
    records: list[Any]
    state: dict[str, Any]
    before: dict[str, Any]


@dataclass
class Run:
    persona: str
    item: Survey | Consultation
    turns: list[Turn] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return any(type(r).__name__ == "Completed" for t in self.turns for r in t.records)

    def cost(self, channel: ChannelModel) -> int:
        total = 0
        for turn in self.turns:
            if channel.provider_confirms_stop and turn.sent.kind == "text" and (
                    turn.sent.text.strip().upper() in TWILIO_STOP_WORDS):
                continue  # Twilio confirmed it; we send nothing
            lang = str(turn.state.get("lang") or "en")
            total += sum(channel.cost(reply, lang) for reply in turn.replies)
        return total

    def cost_to_first_question(self, channel: ChannelModel) -> int:
        """Everything sent up to and including the first question (a survey question, or a
        consultation's first 'Question 1 of n')."""
        total = 0
        for turn in self.turns:
            lang = str(turn.state.get("lang") or "en")
            for reply in turn.replies:
                total += channel.cost(reply, lang)
                if _is_first_question(self.item, reply, lang):
                    return total
        return total


def _is_first_question(item: Survey | Consultation, reply: Reply, lang: str) -> bool:
    first = item.questions[0]
    if isinstance(item, Survey):
        asked = [q for q in item.questions if q.type is not QuestionType.INFO][0]
        return reply.text.startswith(asked.text.get(lang))
    return first.text.get(lang).strip()[:40] in reply.text


# --- Personas -------------------------------------------------------------------------------

Say = list[tuple[str, float]]  # (text, seconds after the previous message)


@dataclass
class Persona:
    """How someone answers. Every hook gets the survey and the state, returns messages."""

    name: str
    language: str = "en"
    consent: tuple[str, ...] = ("yes",)
    #: At a choice question: what to send before a readable answer (each is one message).
    choice_noise: tuple[str, ...] = ()
    #: A free-text answer as several messages: (text, delay before it).
    free_text: Callable[[str], Say] = lambda qid: [(f"Answer about {qid}: it was fine.", 0)]
    #: After the first question is answered: messages that interrupt (STOP and back).
    interruption: Say = ()  # type: ignore[assignment]
    #: After finishing.
    afterwards: Say = ()  # type: ignore[assignment]
    #: Right after a choice answer, a second text straight away.
    second_text: str = ""


def _two_parts(qid: str) -> Say:
    return [(f"The {qid} part one, we waited a long time for the carer to come and", 0),
            ("then they only stayed ten minutes which was not enough for mum", 3)]


def _long_two_parts(qid: str) -> Say:
    first = "My dad needs help getting up every morning and " * 30
    return [(first.strip(), 0), ("and that is the end of what I wanted to say about it.", 5)]


def _welsh(qid: str) -> Say:
    return [("Roedd y gofalwr yn garedig iawn ond yn hwyr bob tro.", 0)]


def _emoji_text(qid: str) -> Say:
    return [("😊👍", 0), ("the staff were lovely 😊", 5)]


def _one_then_real(qid: str) -> Say:
    # The consultation's "1" by mistake, then the real answer a few seconds later.
    return [("1", 0), ("Pay should be the same wherever you work, at least £15 an hour.", 20)]


PERSONAS = (
    Persona("tidy"),
    Persona("typos", consent=("yse pls", "yes"), choice_noise=("teh frist one",)),
    Persona("two-texts", free_text=_two_parts,
            second_text="sorry that was about last week, not today"),
    Persona("long-answer", free_text=_long_two_parts),
    Persona("emoji", consent=("👍",), choice_noise=("🤔",), free_text=_emoji_text,
            afterwards=[("👍", 60)]),
    Persona("welsh", language="cy", consent=("ie",), free_text=_welsh,
            afterwards=[("diolch", 60)]),
    Persona("stops-half-way", interruption=[("STOP", 60), ("why do you keep texting me", 60),
                                            ("START", 3600)]),
    Persona("stopio-half-way", language="cy", consent=("ie",), free_text=_welsh,
            interruption=[("STOPIO", 60), ("pam", 60), ("DECHRAU", 3600)]),
    Persona("chit-chat", afterwards=[("thanks", 30), ("ok", 60), ("Have a nice day!", 60)]),
    Persona("mistaken-one", free_text=_one_then_real),
)


def _choice_answer(item: Survey, state: dict[str, Any]) -> str:
    question = item.question(state["q"])
    assert question is not None
    if question.type is QuestionType.MULTIPLE_CHOICE:
        return "1 2"
    if question.type is QuestionType.SCALE:
        return str(int(question.maximum or 5))
    if question.type is QuestionType.YES_NO:
        return "yes"
    if question.type is QuestionType.NUMBER:
        low = question.minimum if question.minimum is not None else 0
        return str(int(low) + 2)
    return "2"


def _next(persona: Persona, item: Survey | Consultation, state: dict[str, Any],
          memory: dict[str, Any]) -> Say:
    """What the persona sends now, given where the conversation is."""
    stage = state.get("stage")
    if stage == "language":
        return [("2" if persona.language == "cy" else "1", 5)]
    if stage == "consent":
        tried = memory.setdefault("consent", 0)
        memory["consent"] = tried + 1
        words = persona.consent[min(tried, len(persona.consent) - 1)]
        return [(words, 10)]
    if stage in ("quote", "shareback"):
        return [("ie" if persona.language == "cy" else "yes", 10)]
    if stage != "asking":
        return []
    if memory.get("answered", 0) == 1 and persona.interruption and not memory.get("stopped"):
        memory["stopped"] = True
        return list(persona.interruption)
    qid = str(state.get("q"))
    if isinstance(item, Consultation):
        phase = (state.get("values") or {}).get("phase")
        if phase == "view":
            memory["answered"] = memory.get("answered", 0) + 1
            return persona.free_text(qid)
        if phase == "vote":
            return [("1", 15)]
        return [("no", 15)]
    question = item.question(qid)
    assert question is not None
    memory["answered"] = memory.get("answered", 0) + 1
    if question.type is QuestionType.FREE_TEXT:
        return [(text, delay + 30 if n == 0 else delay)
                for n, (text, delay) in enumerate(persona.free_text(qid))]
    noise = [(text, 20) for text in persona.choice_noise if memory.get(f"noise:{qid}") is None]
    memory[f"noise:{qid}"] = True
    said = [*noise, (_choice_answer(item, state), 20)]
    if persona.second_text and not memory.get("second"):
        memory["second"] = True
        said.append((persona.second_text, 4))
    return said


Converse = Callable[..., Any]


def drive(persona: Persona, item: Survey | Consultation, converse: Converse | None = None,
          max_turns: int = 120) -> Run:
    """Play `persona` through `item`, from texting its keyword to the end (and after)."""
    if converse is None:
        converse = keeping.converse
    catalog = catalog_of(item)
    pool = StatementPool([{"id": n, "question": qid, "text": text}
                          for n, (qid, text) in enumerate(_seeds(item), start=1)])
    run = Run(persona.name, item)
    now, state = START, None
    memory: dict[str, Any] = {}

    def send(text: str, delay: float) -> None:
        nonlocal now, state
        now += timedelta(seconds=delay)
        event = Event("text", text=text)
        before = dict(state or {})
        result = converse(catalog, state, event, now, pool.context(catalog, state))
        pool.apply(result.records)
        state = result.state
        run.turns.append(Turn(event, now, list(result.replies), list(result.records),
                              dict(state), before))

    send(item.id.upper(), 0)
    for _ in range(max_turns):
        said = _next(persona, item, dict(state or {}), memory)
        if not said:
            break
        for text, delay in said:
            send(text, delay)
    for text, delay in persona.afterwards:
        send(text, delay)
    return run


def _seeds(item: Survey | Consultation) -> Iterator[tuple[str, str]]:
    if isinstance(item, Consultation):
        for question in item.questions:
            for n in range(4):
                yield question.id, f"A point about {question.id}, number {n + 1}."


# --- The table --------------------------------------------------------------------------------


def table(converse: Converse | None = None) -> str:
    """Per survey and channel: cost to the first question, and per completed survey, for the
    tidy persona; and the average over every persona that completed."""
    lines = [
        "Segments spent, per survey and channel (SMS: segments; WhatsApp, Telegram: messages).",
        "first = up to and including the first question (tidy persona, English);",
        "done = a whole completed survey, tidy persona; messy = average over the personas",
        "that completed it.",
        "",
        f"{'survey':<10} {'channel':<9} {'first':>5} {'done':>5} {'messy':>6} {'completed':>10}",
    ]
    for item in library():
        runs = [drive(p, item, converse) for p in PERSONAS]
        tidy = runs[0]
        for channel in CHANNELS:
            done = [r.cost(channel) for r in runs if r.completed]
            messy = sum(done) / len(done) if done else 0.0
            lines.append(
                f"{item.id:<10} {channel.name:<9} {tidy.cost_to_first_question(channel):>5} "
                f"{tidy.cost(channel) if tidy.completed else 0:>5} {messy:>6.1f} "
                f"{len(done):>4}/{len(runs)}")
    return "\n".join(lines)


def transcript(run: Run, channel: ChannelModel) -> str:
    """A short readable transcript as the person would see it on `channel`."""
    out = [f"# {run.item.id}, persona {run.persona!r}, on {channel.name}"]
    for turn in run.turns:
        out.append(f"> {turn.sent.text}")
        lang = str(turn.state.get("lang") or "en")
        if channel.provider_confirms_stop and turn.sent.text.strip().upper() in TWILIO_STOP_WORDS:
            out.append("  (Twilio confirms the opt-out itself)")
            continue
        for reply in turn.replies:
            for part in channel.render(reply, lang):
                out.append("  " + part.replace("\n", "\n  "))
    return "\n".join(out)


def free_text_kept(records: list[Any]) -> list[str]:
    kept = []
    for record in records:
        if isinstance(record, AnswerGiven) and record.free_text and isinstance(record.value, str):
            kept.append(record.value)
        elif hasattr(record, "text") and isinstance(record.text, str):
            kept.append(record.text)
    return kept


def is_keyword(text: str) -> bool:
    return keyword(text) is not None or command(text) is not None


if __name__ == "__main__":  # pragma: no cover - a report, run by hand
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "engine":  # the bare engine, as before keeping replies
        from surveys.engine import converse as bare
        print(table(bare))
    else:
        print(table())
