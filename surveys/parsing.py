"""Understand a person's reply to a question, forgivingly.

People type "2", "2.", "two", "dau", "Good", " good ", "Very god", "4/5", "4 allan o 5",
"yep", "naddo", "👍🏽" or press a button. Anything we can read with confidence becomes an
answer. Anything we can't gets a kind re-ask, never a penalty, and when a reply could mean
two options ("v good": Very good or Good?) we ask which rather than guess: a wrong answer
recorded silently is worse than one more message.

The order of the checks matters and is deliberate: exact readings (a number, an option's
own words, a known yes/no word) win over approximate ones (some of an option's words, a
typo), so fuzziness can only ever help a reply that would otherwise fail.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from surveys.i18n import gettext as _
from surveys.model import Question, QuestionType

#: Whole-number words, English and Welsh. Welsh mutates numbers after some words
#: ("rhif dau" but "y ddau"), so the common mutated forms are here too.
NUMBER_WORDS: dict[str, int] = {
    "zero": 0, "none": 0, "nil": 0, "nought": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
    "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "dozen": 12,
    # Welsh (Cymraeg): dim 0, un 1 ... deg 10, with feminine and mutated forms.
    "dim": 0, "un": 1, "dau": 2, "dwy": 2, "ddau": 2, "ddwy": 2, "tri": 3, "tair": 3,
    "dri": 3, "dair": 3, "pedwar": 4, "pedair": 4, "bedwar": 4, "bedair": 4, "pump": 5,
    "pum": 5, "bump": 5, "bum": 5, "chwech": 6, "chwe": 6, "saith": 7, "wyth": 8, "naw": 9,
    "deg": 10, "ddeg": 10, "cant": 100, "gant": 100,
}
#: Ordinals: "the second one" means option 2.
ORDINAL_WORDS: dict[str, int] = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10,
    "cyntaf": 1, "gyntaf": 1, "ail": 2, "trydydd": 3, "trydedd": 3, "pedwerydd": 4,
    "pedwaredd": 4, "pumed": 5, "chweched": 6, "seithfed": 7, "wythfed": 8, "nawfed": 9,
    "degfed": 10,
}
#: Traditional Welsh numbers said as phrases (11 to 20 are vigesimal, not "un deg un").
WELSH_NUMBER_PHRASES: dict[str, int] = {
    "un ar ddeg": 11, "deuddeg": 12, "tri ar ddeg": 13, "tair ar ddeg": 13,
    "pedwar ar ddeg": 14, "pedair ar ddeg": 14, "pymtheg": 15, "un ar bymtheg": 16,
    "dau ar bymtheg": 17, "dwy ar bymtheg": 17, "deunaw": 18, "pedwar ar bymtheg": 19,
    "pedair ar bymtheg": 19, "ugain": 20, "hanner cant": 50,
}

YES_WORDS = frozenset({
    "yes", "y", "ye", "yeah", "yep", "yup", "ya", "yea", "yas", "yh", "aye", "ok", "okay", "k",
    "sure", "agree", "i agree", "of course", "definitely", "absolutely", "certainly",
    "correct", "true", "yes please", "i have", "i am", "i do", "yes i have", "yes i am",
    "yes i do", "👍", "👌", "✅", "✔", "☑",
    # Welsh answers "yes" with the verb of the question: ydw (I am), ydy, oes (there is),
    # do (past tense), ie (that's right), and colloquial ia, yndw.
    "ie", "ia", "do", "ydw", "yndw", "ydy", "ydyn", "ydych", "oes", "iawn", "wrth gwrs",
    "cytuno", "rwy'n cytuno", "dwi'n cytuno",
})
NO_WORDS = frozenset({
    "no", "n", "nope", "nah", "naw", "nay", "no thanks", "no thank you", "not really",
    "never", "not yet", "not at all", "disagree", "i haven't", "i have not", "i'm not",
    "i am not", "i don't", "i do not", "no i haven't", "no i'm not", "no i don't",
    "👎", "❌", "✖", "🚫",
    "na", "nage", "naddo", "nac ydw", "nag ydw", "nadw", "nac ydy", "nag ydy", "nac ydyn",
    "nac oes", "nag oes", "na dim diolch", "dim diolch", "dim o gwbl",
})
DONT_KNOW = frozenset({
    "dont know", "don't know", "do not know", "i don't know", "i dont know", "not sure",
    "unsure", "i'm not sure", "dunno", "idk", "dk", "no idea", "no clue", "not certain",
    "can't say", "cant say", "hard to say", "🤷",
    "ddim yn gwybod", "dwi ddim yn gwybod", "dw i ddim yn gwybod", "dim syniad",
    "dwn i ddim", "wn i ddim", "sai'n gwybod", "sa i'n gwybod", "ddim yn siwr",
    "ddim yn siŵr", "dim yn siwr", "dim yn siŵr",
})
#: How people rate things in a word, from 1 (very poor) to 5 (very good), English and
#: Welsh. A rating question's options are placed on the same five steps by their own
#: words (`_OPTION_LEVELS`), so "brilliant" finds "Very good" and "rubbish" "Very poor".
RATING_WORDS: dict[str, int] = {
    **dict.fromkeys((
        "excellent", "brilliant", "great", "fantastic", "amazing", "superb", "perfect",
        "outstanding", "wonderful", "marvellous", "fab", "fabulous", "awesome", "best",
        "really good", "very very good", "extremely good", "so good", "loved it",
        "couldn't be better", "could not be better", "first class", "top notch", "spot on",
        "ardderchog", "gwych", "bendigedig", "arbennig", "ffantastig", "penigamp", "campus",
        "da iawn iawn", "gwych iawn", "anhygoel"), 5),
    **dict.fromkeys((
        "nice", "pretty good", "quite good", "fairly good", "decent", "not bad", "pleasant",
        "positive", "happy", "satisfied", "good enough", "all good",
        "eitha da", "eithaf da", "reit dda", "neis", "ddim yn ddrwg", "dim yn ddrwg", "hapus",
        "bodlon"), 4),
    **dict.fromkeys((
        "ok", "okay", "o.k", "fine", "alright", "all right", "average", "so so", "so-so",
        "meh", "mixed", "middling", "fair", "could be better", "could have been better",
        "not great not bad", "in between", "50/50",
        "iawn", "gweddol", "canolig", "cymysg", "ok ish", "iawn am wn i"), 3),
    **dict.fromkeys((
        "bad", "not good", "not great", "not very good", "disappointing", "unhappy",
        "not happy", "poorly", "below average", "not good enough",
        "drwg", "ddim yn dda", "dim yn dda", "siomedig", "ddim yn hapus"), 2),
    **dict.fromkeys((
        "terrible", "awful", "rubbish", "dreadful", "appalling", "horrible", "horrendous",
        "shocking", "useless", "the worst", "worst", "atrocious", "pathetic", "disgraceful",
        "crap", "very bad", "really bad", "really poor", "abysmal", "diabolical", "shambles",
        "a disgrace", "hopeless",
        "ofnadwy", "erchyll", "drwg iawn", "sbwriel", "anobeithiol", "echrydus",
        "gwarthus", "uffernol"), 1),
}
#: Where a rating question's options sit on the same five steps, by their words.
_OPTION_LEVELS: dict[str, int] = {
    "very good": 5, "excellent": 5, "da iawn": 5, "ardderchog": 5, "very satisfied": 5,
    "good": 4, "da": 4, "satisfied": 4, "fairly good": 4,
    "neither good nor poor": 3, "neither good nor bad": 3, "ok": 3, "average": 3, "fair": 3,
    "ddim yn dda nac yn wael": 3, "neither satisfied nor dissatisfied": 3,
    "poor": 2, "bad": 2, "gwael": 2, "drwg": 2, "dissatisfied": 2, "fairly poor": 2,
    "very poor": 1, "very bad": 1, "gwael iawn": 1, "drwg iawn": 1, "very dissatisfied": 1,
}
#: What people rate things out of; anything else ("4/12") is more likely a date.
RATING_BASES = (5.0, 10.0, 100.0)
_RATING = re.compile(r"^(\d+(?:[.,]5)?)\s*(?:/\s*(\d+)|out of (\d+)|allan o (\d+)|"
                     r"stars?|seren|sêr)(?:\s*(?:stars?|seren|sêr))?$")

#: Option codes that mean "don't know", so the words above can choose them.
DONT_KNOW_CODES = frozenset({"dont_know", "not_sure", "unsure", "dk", "dontknow"})

#: A typo match must be at least this similar (rapidfuzz ratio, 0-100)...
FUZZY_THRESHOLD = 80
#: ...or this similar when the text it matched is short (5 letters or fewer)...
FUZZY_THRESHOLD_SHORT = 85
#: ...and this much better than the next option, or we ask which was meant.
FUZZY_MARGIN = 10
#: A longer option that holds the best match's words (Very good / Good) counts as a rival
#: from this similarity on: "vgood" is close to both.
FUZZY_RIVAL = 65

_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s.!,;:)]+$")
_LEADING = re.compile(r"^[\s(#]+")
_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")
_ANY_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_ORDINAL = re.compile(r"^(\d+)(?:st|nd|rd|th|af|ed|ydd|edd|fed)$")
_SCALE = re.compile(r"^(.+?)\s*(?:/|\bout of\b|\ballan o\b|\bof\b|\bo\b)\s*(.+?)$")
_SCALE_UNIT = re.compile(r"\s*(?:stars?|points?|seren|sêr)$")
_NUMBER_THEN_WORDS = re.compile(r"^(\d+)\s*[.):=-]?\s+(\D.*)$")
_RANGE = re.compile(r"^(\d+)\s*(?:-|to|i)\s*(\d+)$")
_LIST_SPLIT = re.compile(r"\s*(?:,|;|&|\+|\band\b|\ba\b|\bac\b)\s*")
# Words around an answer that don't change it. Welsh "yn" comes before an adjective used
# as an answer ("yn dda", good), and mutates it, which `_radicals` undoes.
_PREFIXES = re.compile(
    r"^(?:(?:the|number|no\.|option|answer|choice|rhif|opsiwn|ateb|yr|y|about|around|"
    r"roughly|approx|approximately|tua|rhyw|it was|it's|its|was|i'd say|i think|"
    r"roedd yn|roedd e'n|roedd o'n|roedd hi'n|mae'n|yn)\s+)+"
)
_POLITE = re.compile(r"(?:\s+(?:please|pls|plz|thanks|thank you|ta|thx|diolch|plis))+$")
# Emoji modifiers that change how a thumbs-up looks, not what it means.
_EMOJI_NOISE = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]|\u200d[\u2640\u2642]")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def normalise(text: str) -> str:
    """Lowercase, unify quotes and spaces, drop emoji skin tones, strip punctuation at the ends."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    text = _EMOJI_NOISE.sub("", text)
    text = _SPACES.sub(" ", text.strip().lower())
    text = _TRAILING.sub("", text)
    return _LEADING.sub("", text)


# Welsh changes the first letter of a word after some words ("da" good, "yn dda"; "gwael"
# poor, "yn wael"). Each mutated beginning, with the radical(s) it can come from.
_MUTATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ngh", ("c",)), ("mh", ("p",)), ("nh", ("t",)), ("ng", ("g",)), ("ph", ("p",)),
    ("th", ("t",)), ("ch", ("c",)), ("dd", ("d",)), ("f", ("b", "m")), ("b", ("p",)),
    ("d", ("t",)), ("g", ("c",)), ("l", ("ll",)), ("r", ("rh",)), ("m", ("b",)),
    ("n", ("d",)),
)


def _radicals(said: str) -> list[str]:
    """The forms `said` could have before a Welsh mutation of its first letter."""
    found = [radical + said[len(start):] for start, radicals in _MUTATIONS
             if said.startswith(start) for radical in radicals]
    if said[:1] in "aeiouwy" or said[:1] == "r":
        found.append("g" + said)  # "wael" <- "gwael", "orau" <- "gorau"
    return found


def _tidy(said: str) -> str:
    """Drop words around an answer that don't change it: "number 2 please" -> "2"."""
    said = _POLITE.sub("", said.rstrip("?! ")) or said
    return _PREFIXES.sub("", said).strip() or said


def _squeeze(said: str) -> str:
    """Collapse repeated letters, for "yesss" and "noooo"."""
    return re.sub(r"(.)\1+", r"\1", said)


#: Words that say yes, or no, inside a longer reply ("ok sure", "Yes, I agree", "No,
#: thank you", "Ydw, rwy'n cytuno"); `_FILLER` words around them change nothing. A reply
#: with words of both kinds ("yes no", "not sure") is not read as either.
_YES_TOKENS = frozenset({
    "yes", "yeah", "yep", "yup", "yea", "ya", "aye", "ok", "okay", "k", "sure", "agree",
    "agreed", "fine", "happy", "definitely", "absolutely", "certainly", "course", "alright",
    "go", "ahead", "gladly", "willing", "ydw", "yndw", "ydy", "ydyn", "oes", "ie", "ia",
    "iawn", "cytuno", "hapus", "siwr", "siŵr", "wrth", "gwrs", "bendant", "bodlon",
    "👍", "👌", "✅", "✔", "☑",
})
_NO_TOKENS = frozenset({
    "no", "nope", "nah", "not", "don't", "dont", "never", "disagree", "rather", "na", "nage",
    "naddo", "nac", "nag", "nadw", "dim", "ddim", "na'dw", "👎", "❌", "✖", "🚫",
})
_FILLER = frozenset({
    "i", "i'm", "im", "am", "i'd", "id", "i'll", "be", "to", "it", "that", "that's", "thats",
    "thanks", "thank", "you", "ta", "of", "please", "pls", "that'll", "do", "the", "a",
    "take", "part", "join", "in", "help", "with", "this", "for", "now", "me", "sounds",
    "good", "great", "cheers", "mate", "love", "x", "xx", "so", "then", "well", "really",
    "rwy'n", "dwi'n", "dw", "wyf", "yn", "diolch", "plis", "gymryd", "rhan", "gyda",
    "chi", "fi", "yr", "y", "ydwyf", "gan", "hynny", "both", "all", "have", "had", "did",
    "got", "done", "is", "was", "are", "we", "one",
})
#: Phrases that say the opposite of their words, read before the words are counted.
_YES_PHRASES = ("why not", "don't mind", "dont mind", "do not mind", "no problem",
                "no worries", "dim problem", "dim problem o gwbl")
_NO_PHRASES = ("don't agree", "dont agree", "do not agree", "not agree", "no thanks",
               "no thank you", "rather not", "i'd rather not", "not interested",
               "ddim yn cytuno", "dim diolch", "na dim diolch")


def yes_or_no(text: str) -> bool | None:
    """True for a yes ("yep", "ydw", "👍", "ok sure", "Yes, I agree"), False for a no
    ("nope", "naddo", "No, thank you", "no thanks"), else None.

    For the engine's own yes/no questions (consent, may we quote you), so they read the
    same words as a survey's yes_no questions.
    """
    said = normalise(text)
    for form in dict.fromkeys((said, _tidy(said), _squeeze(_tidy(said)))):
        if form in YES_WORDS:
            return True
        if form in NO_WORDS:
            return False
    return _yes_or_no_words(said)


def _yes_or_no_words(said: str) -> bool | None:
    """Read a longer reply by its words: only yes words and filler is a yes, only no words
    and filler is a no; anything else (a question, a mixture) is neither."""
    said = re.sub(r"[,.!?;:]+", " ", said)
    said = f" {_SPACES.sub(' ', said).strip()} "
    yes = no = 0
    for phrase in _NO_PHRASES:
        if f" {phrase} " in said:
            said, no = said.replace(f" {phrase} ", " "), no + 1
    for phrase in _YES_PHRASES:
        if f" {phrase} " in said:
            said, yes = said.replace(f" {phrase} ", " "), yes + 1
    for word in said.split():
        if word in _YES_TOKENS:
            yes += 1
        elif word in _NO_TOKENS:
            no += 1
        elif word not in _FILLER:
            return None
    if yes and not no:
        return True
    if no and not yes:
        return False
    return None


def dont_know(text: str) -> bool:
    """True when the reply says "don't know" in one of the ways people say it."""
    said = _tidy(normalise(text))
    return said in DONT_KNOW or said.replace("'", "") in DONT_KNOW


@dataclass(frozen=True)
class Parsed:
    """The outcome of reading a reply: a value, or a reason it could not be read."""

    value: object = None
    label: str = ""
    ok: bool = False
    #: Why it failed, for the re-ask: "choice", "range", "number", "whole", "empty",
    #: "ambiguous" (see `candidates`), "dont_know" (and the question has no such option),
    #: "one_only" (several answers where one is wanted) or "outside" (see `given`).
    problem: str = ""
    #: For "ambiguous": the option codes the reply could mean, in the question's order.
    candidates: tuple[str, ...] = ()
    #: Read approximately (a typo, some of an option's words, "brilliant", "10/10"): the
    #: engine tells the person what it recorded, so they can go BACK if it is wrong.
    fuzzy: bool = False
    #: For "outside": what they sent that is not one of the options ("7").
    given: str = ""


# --- numbers ----------------------------------------------------------------------------


def _number(text: str) -> float | None:
    """A number written in digits or words ("12", "12,5", "twenty one", "dau ddeg pump")."""
    text = text.strip()
    if _NUMBER.match(text):
        return float(text.replace(",", "."))
    if text in WELSH_NUMBER_PHRASES:
        return float(WELSH_NUMBER_PHRASES[text])
    words = text.replace("-", " ").split()
    value = _number_words(words)
    return None if value is None else float(value)


def _number_words(words: Sequence[str]) -> int | None:
    """Read number words: "twenty one" 21, "one hundred and five" 105, "dau ddeg un" 21.

    Anything that doesn't read as one number ("two two", "one or two") is None.
    """
    if not words or len(words) > 6:
        return None
    total, last, seen = 0, "", False
    for word in words:
        if word in ("and", "a", "ac"):
            if not seen:
                if word == "a":
                    continue  # "a hundred"
                return None
            continue
        value = NUMBER_WORDS.get(word)
        if value is None:
            return None
        if value == 100:
            total, last = max(total, 1) * 100, "hundred"
        elif word in ("deg", "ddeg") and last == "unit" and total % 100 < 10:
            total, last = total - total % 100 + (total % 100) * 10, "tens"  # dau ddeg = 20
        elif value >= 20 or word in ("deg", "ddeg", "ten"):
            if last in ("unit", "teen", "tens"):
                return None
            total, last = total + value, "tens"
        elif value >= 10:
            if last in ("unit", "teen", "tens"):
                return None
            total, last = total + value, "teen"
        else:
            if last in ("unit", "teen"):
                return None
            total, last = total + value, "unit"
        seen = True
    return total if seen else None


def _position(text: str) -> int | None:
    """A whole number or an ordinal ("3", "three", "tri", "3rd", "the third one")."""
    number = _number(text)
    if number is not None:
        return int(number) if number.is_integer() else None
    ordinal = _ORDINAL.match(text)
    if ordinal:
        return int(ordinal.group(1))
    words = text.split()
    if len(words) == 2 and words[1] in ("one", "un"):
        words = words[:1]  # "the second one"
    if len(words) == 1 and words[0] in ORDINAL_WORDS:
        return ORDINAL_WORDS[words[0]]
    return None


def _numbers_in(text: str) -> list[float]:
    """Every number in a sentence, in digits or words: "about twelve hours" -> [12]."""
    found = [float(n.replace(",", ".")) for n in _ANY_NUMBER.findall(text)]
    words = _WORD.findall(text.replace("-", " "))
    i = 0
    while i < len(words):
        for j in range(min(len(words), i + 6), i, -1):
            value = _number_words(words[i:j]) if not words[i:j][0].isdigit() else None
            if value is None and " ".join(words[i:j]) in WELSH_NUMBER_PHRASES:
                value = WELSH_NUMBER_PHRASES[" ".join(words[i:j])]
            if value is not None and words[i] not in ("a", "and", "ac"):
                found.append(float(value))
                i = j
                break
        else:
            i += 1
    return found


# --- choices ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Match:
    code: str | None = None
    candidates: tuple[str, ...] = ()
    dont_know: bool = False
    fuzzy: bool = False
    #: A number that is not one of the options ("7" of 6).
    outside: str = ""
    #: Several numbers where one answer is wanted ("2 3").
    several: bool = False


_NO_MATCH = _Match()


def _texts(question: Question) -> list[tuple[str, list[str]]]:
    """Each option code with its words in every language, normalised.

    A scale's ends count as options too, so "plenty" means 5 on a 1-5 scale.
    """
    if question.type is QuestionType.SCALE:
        ends = []
        if question.low_label is not None and question.minimum is not None:
            ends.append((str(int(question.minimum)), question.low_label))
        if question.high_label is not None and question.maximum is not None:
            ends.append((str(int(question.maximum)), question.high_label))
        return [(code, _all_languages(label.by_language.values())) for code, label in ends]
    return [(o.code, _all_languages(o.label.by_language.values())) for o in question.options]


def _all_languages(labels: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(normalise(label) for label in labels))


def _ordered(question: Question, codes: Iterable[str]) -> tuple[str, ...]:
    wanted = set(codes)
    return tuple(o.code for o in question.options if o.code in wanted)


def _match(question: Question, said: str) -> _Match:
    """What one reply (or one part of a list) means for a choice question."""
    texts = _texts(question)
    original, tidy = said, _tidy(said)
    for form in dict.fromkeys((said, tidy, *_radicals(tidy))):  # "About right", "yn dda"
        if _NUMBER.match(form):
            break  # a number is a position on the list, whatever the labels say
        for code, labels in texts:
            if form in labels:
                return _Match(code)
    said = tidy
    if not said:
        return _NO_MATCH
    by_number = _by_number(question, said)
    if by_number is not None:
        return by_number
    codes = {o.code for o in question.options}
    if {"yes", "no"} <= codes:
        meaning = yes_or_no(original)
        if meaning is not None:
            return _Match("yes" if meaning else "no")
    if dont_know(said):
        for code, labels in texts:
            if code in DONT_KNOW_CODES or any(label in DONT_KNOW for label in labels):
                return _Match(code)
        return _Match(dont_know=True)
    return (_by_rating(question, said) or _by_words(question, said, texts)
            or _by_typo(question, said, texts) or _unmatched(question, said))


_SEVERAL_NUMBERS = re.compile(r"^\d+(?:\s*(?:,|;|&|\+|\band\b|\bor\b|\ba\b|\bneu\b|\s)\s*\d+)+$")


def _unmatched(question: Question, said: str) -> _Match:
    """Nothing matched: say why, when the reason is plain ("7" of 6, or "2 3")."""
    if _NUMBER.match(said):
        return _Match(outside=said)
    if _SEVERAL_NUMBERS.match(said):
        return _Match(several=True)
    return _NO_MATCH


def _option_level(labels: Iterable[str]) -> int | None:
    for label in labels:
        if label in _OPTION_LEVELS:
            return _OPTION_LEVELS[label]
    return None


def rating_level(said: str) -> tuple[int, bool] | None:
    """How good a reply says something was, 1 to 5 ("brilliant" 5, "rubbish" 1, "8/10" 4),
    and whether it was a number out of something (True) or a word (False)."""
    said = _tidy(normalise(said))
    rated = _RATING.match(said.replace("out of ten", "out of 10").replace("out of five",
                                                                           "out of 5"))
    if rated:
        top_text = rated.group(2) or rated.group(3) or rated.group(4) or "5"
        given, top = float(rated.group(1).replace(",", ".")), float(top_text)
        if top not in RATING_BASES or given > top:
            return None  # "4/12" may well be a date
        return min(5, max(1, math.ceil(given * 5 / top - 1e-9))), True
    for form in dict.fromkeys((said, _squeeze(said), said.replace("'", ""))):
        if form in RATING_WORDS:
            return RATING_WORDS[form], False
    return None


def _by_rating(question: Question, said: str) -> _Match | None:
    """An everyday rating ("excellent", "not bad", "rubbish", "10/10", "5 stars") at a
    question whose options are a rating (Very good ... Very poor) or at a scale."""
    found = rating_level(said)
    if found is None:
        return None
    level, _numeric = found
    if question.type is QuestionType.SCALE:
        if question.minimum is None or question.maximum is None:
            return None
        low, high = question.minimum, question.maximum
        value = int(round(low + (level - 1) * (high - low) / 4))
        return _Match(str(value), fuzzy=True) if question.option(str(value)) else None
    levels = [(code, _option_level(labels)) for code, labels in _texts(question)]
    placed = [(code, lvl) for code, lvl in levels if lvl is not None]
    if len(placed) < 3 or not any(lvl >= 4 for _c, lvl in placed) or not any(
            lvl <= 2 for _c, lvl in placed):
        return None  # not a rating question
    best = min(abs(lvl - level) for _c, lvl in placed)
    nearest = [code for code, lvl in placed if abs(lvl - level) == best]
    if len(nearest) != 1:
        return _Match(candidates=_ordered(question, nearest))
    return _Match(nearest[0], fuzzy=True)


def _by_number(question: Question, said: str) -> _Match | None:
    """Replies that are, or start with, a number."""
    if question.type is QuestionType.SCALE:
        said = _SCALE_UNIT.sub("", said)
        scale = _SCALE.match(said)
        if scale:
            top = _number(scale.group(2))
            given = _number(scale.group(1))
            if top is None or given is None or question.maximum is None:
                return None
            if top != question.maximum:
                # "8/10" on a 1-5 scale: place it, and say what was recorded.
                if (question.minimum is None or top not in RATING_BASES
                        or not 0 <= given <= top):
                    return _NO_MATCH  # "4/12" may well be a date
                low, high = question.minimum, question.maximum
                value = int(round(low + given / top * (high - low)))
                return _Match(str(value), fuzzy=True) if question.option(str(value)) else (
                    _NO_MATCH)
            said = scale.group(1)
        number = _number(said)
        if number is None:
            return _Match(several=True) if _SEVERAL_NUMBERS.match(said) else None
        code = str(int(number)) if number.is_integer() else ""
        return _Match(code) if question.option(code) else _Match(outside=said)
    position = _position(said)
    if position is not None:
        if 1 <= position <= len(question.options):
            return _Match(question.options[position - 1].code)
        return None  # maybe an option's own words ("20 to 49 hours")
    both = _NUMBER_THEN_WORDS.match(said)
    if both and 1 <= int(both.group(1)) <= len(question.options):
        # "2 good", "2. Good": fine when both halves agree; ask when they don't.
        by_position = question.options[int(both.group(1)) - 1].code
        by_text = _match(question, both.group(2))
        if by_text.code == by_position or by_position in by_text.candidates:
            return _Match(by_position)
        if by_text.code is not None:
            return _Match(candidates=_ordered(question, (by_position, by_text.code)))
    return None


def _by_words(question: Question, said: str,
              texts: list[tuple[str, list[str]]]) -> _Match | None:
    """Some of an option's own words: its first words ("neither", "gp"), several of its
    words ("50 or more"), or one long word found in no other option ("nurse").

    A short word from the middle of an option doesn't count: Welsh "dda" (good, as in
    "yn dda") is also a word of "Ddim yn dda nac yn wael" (neither good nor poor).
    """
    if sum(ch.isalpha() or ch.isdigit() for ch in said) < 2:
        return None
    words = said.split()
    long_word = len(words) == 1 and len(words[0]) >= 5
    found = [
        code for code, labels in texts
        if any(label.split()[:len(words)] == words
               or ((len(words) > 1 or long_word) and set(words) <= set(label.split()))
               for label in labels)
    ]
    if len(found) == 1:
        return _Match(found[0], fuzzy=True)
    if len(found) > 1:
        return _Match(candidates=_ordered(question, found))
    return None


def _similarity(said: str, label: str) -> tuple[float, str]:
    """How close a reply is to an option, whole or its first words ("nether" ~ "neither"),
    and which text it was closest to."""
    best = (fuzz.ratio(said, label), label)
    count = len(said.split())
    words = label.split()
    if len(words) > count:
        start = " ".join(words[:count])
        best = max(best, (fuzz.ratio(said, start), start))
    return best


def _by_typo(question: Question, said: str,
             texts: list[tuple[str, list[str]]]) -> _Match | None:
    """A small typo ("Very god", "neihter"), when one option is clearly closest."""
    if sum(ch.isalpha() for ch in said) < 3:
        return None
    scored: list[tuple[float, str, str, str]] = []  # (score, code, label, text matched)
    for code, labels in texts:
        (score, matched), label = max((_similarity(said, label), label) for label in labels)
        scored.append((score, code, label, matched))
    # Ties go to an option's whole text over the start of a longer one ("da" over "da iawn").
    scored.sort(key=lambda item: (-item[0], item[3] != item[2]))
    top_score, top_code, top_label, top_matched = scored[0]
    # One edit in a short word is often another word ("gwell", better; "gwael", poor).
    if top_score < (FUZZY_THRESHOLD_SHORT if len(top_matched) <= 5 else FUZZY_THRESHOLD):
        return None
    rivals = [
        code for score, code, label, matched in scored[1:]
        # "gwal" is nearest "Gwael" itself, not the start of "Gwael iawn": no rival.
        if not (top_matched == top_label and matched == top_label and matched != label)
        and (score >= top_score - FUZZY_MARGIN
             or (score >= FUZZY_RIVAL and _longer(label, top_label)))
    ]
    if rivals:
        return _Match(candidates=_ordered(question, [top_code, *rivals]))
    return _Match(top_code, fuzzy=True)


def _longer(longer: str, shorter: str) -> bool:
    """The first option's words include all of the second's and more ("very good", "good")."""
    return set(longer.split()) > set(shorter.split())


# --- reading a reply ----------------------------------------------------------------------


def parse_answer(question: Question, text: str, language: str) -> Parsed:
    """Read a typed reply to `question`."""
    said = normalise(text)
    if question.type is QuestionType.FREE_TEXT:
        raw = text.strip()
        if not raw:
            return Parsed(problem="empty")
        return Parsed(value=raw[: question.max_length], label="", ok=True)
    if question.type is QuestionType.INFO:
        return Parsed(problem="choice")
    if question.type is QuestionType.NUMBER:
        return _parse_number(question, said)
    if question.type is QuestionType.MULTIPLE_CHOICE:
        return _parse_many(question, said, language)
    return _result(question, _match(question, said), language)


def parse_payload(question: Question, code: str, language: str) -> Parsed:
    """Read a button press for `question` (the option code)."""
    if question.option(code) is None:
        return Parsed(problem="choice")
    return _choice(question, code, language)


def _result(question: Question, match: _Match, language: str) -> Parsed:
    if match.code is not None:
        return _choice(question, match.code, language, match.fuzzy)
    if match.candidates:
        return Parsed(problem="ambiguous", candidates=match.candidates)
    if match.dont_know:
        return Parsed(problem="dont_know")
    if match.several:
        return Parsed(problem="one_only")
    if match.outside:
        return Parsed(problem="outside", given=match.outside)
    return Parsed(problem="choice")


def _choice(question: Question, code: str, language: str, fuzzy: bool = False) -> Parsed:
    option = question.option(code)
    assert option is not None
    value: object = int(code) if question.type is QuestionType.SCALE else code
    return Parsed(value=value, label=option.label.get(language), ok=True, fuzzy=fuzzy)


def _parse_number(question: Question, said: str) -> Parsed:
    said = _tidy(said)
    if dont_know(said):
        return Parsed(problem="dont_know")
    number = _number(said)
    if number is None:
        found = _numbers_in(said)
        if len(found) != 1:  # "2 or 3" is ambiguous: ask again rather than guess
            return Parsed(problem="number")
        number = found[0]
    if question.integer and not number.is_integer():
        return Parsed(problem="whole")
    if (question.minimum is not None and number < question.minimum) or (
        question.maximum is not None and number > question.maximum
    ):
        return Parsed(problem="range")
    value: int | float = int(number) if number.is_integer() else number
    return Parsed(value=value, label=str(value), ok=True)


def _parse_many(question: Question, said: str, language: str) -> Parsed:
    whole = _match(question, said)
    if whole.code is not None:
        return _many(question, [whole.code], language, whole.fuzzy)
    span = _RANGE.match(said)
    if span and 1 <= int(span.group(1)) < int(span.group(2)) <= len(question.options):
        picked = question.options[int(span.group(1)) - 1:int(span.group(2))]
        return _many(question, [o.code for o in picked], language)
    # "a, b and c", then "1 3": option texts may contain spaces.
    unclear: _Match | None = None
    outside = ""
    for parts in (_LIST_SPLIT.split(said), said.split()):
        codes: list[str] = []
        fuzzy = False
        for part in (p for p in parts if p):
            match = _match(question, part)
            if match.code is None:
                unclear = unclear or (match if match.candidates else None)
                outside = outside or match.outside
                break
            codes.append(match.code)
            fuzzy = fuzzy or match.fuzzy
        else:
            if codes:
                return _many(question, codes, language, fuzzy)
    if unclear is not None:
        return Parsed(problem="ambiguous", candidates=unclear.candidates)
    if outside:
        return Parsed(problem="outside", given=outside)
    if whole.candidates:
        return Parsed(problem="ambiguous", candidates=whole.candidates)
    if whole.dont_know:
        return Parsed(problem="dont_know")
    return Parsed(problem="choice")


def _many(question: Question, codes: list[str], language: str, fuzzy: bool = False) -> Parsed:
    chosen = _ordered(question, codes)
    labels = [o.label.get(language) for o in question.options if o.code in chosen]
    return Parsed(value=list(chosen), label="; ".join(labels), ok=True, fuzzy=fuzzy)


# --- asking back kindly -------------------------------------------------------------------


def clarify(question: Question, parsed: Parsed, language: str) -> str | None:
    """The kind question to send back for an ambiguous or "don't know" reply, else None.

    The engine uses its own short hints for every other problem; these two need words of
    their own, because the person did answer, just not in a way we can record.
    """
    if parsed.problem == "ambiguous" and parsed.candidates:
        numbered = [
            f"{question.options.index(option) + 1} {option.label.get(language)}"
            if question.type is not QuestionType.SCALE else option.code
            for option in question.options if option.code in parsed.candidates
        ]
        if len(numbered) == 2:
            choices = _(language, "{first} or {second}", first=numbered[0], second=numbered[1])
        else:
            choices = _(language, "{items} or {last}", items=", ".join(numbered[:-1]),
                        last=numbered[-1])
        if question.type is QuestionType.MULTIPLE_CHOICE:
            return _(language, "Did you mean {choices}? Please reply with all the numbers "
                               "that apply.", choices=choices)
        return _(language, "Did you mean {choices}? Please reply with the number.",
                 choices=choices)
    if parsed.problem == "dont_know":
        if question.optional:
            return _(language, "That's fine. Reply SKIP to leave this one out.")
        return _(language, "That's fine. Give your best guess, or reply SKIP.")
    return None
