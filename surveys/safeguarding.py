"""Spotting free-text answers that may disclose harm, so nobody's disclosure goes unheard.

A survey about caring is where people mention, in passing, that they want to die, that
someone hits them, or that a parent is left in a wet bed all day. When that happens the
bot must answer with where to get help, and a named safeguarding lead must see it.

This is deliberately a list of readable regular expressions, not a model: a deployment
can see exactly what is matched, add local phrases, and switch categories off, and the
same text always gives the same answer. The trade-off is the usual one for safeguarding:
missing a disclosure costs far more than an unneeded signposting message, so patterns
lean towards recall, and only the idioms that fill ordinary carers' talk ("my back is
killing me", "suicide prevention training", "it doesn't hurt to ask") are excluded.

Matching works on `normalise`d text: lower case, apostrophes dropped ("don't" -> "dont",
so patterns are written without them), anything else that is not a letter or digit
turned into a space. Two refinements keep false alarms down:

* `ignore` phrases are blanked out before matching (training, policy, idioms);
* for the categories in `negatable`, a match with a negation among the three words
  before it ("he has never hit me", "I've never been hurt") does not count. Suicidal and
  self-harm talk is never discounted this way: "I don't want to die but I think about
  it" still gets a signposting reply.

Pure standard library: no I/O, no clock, so it runs inside the engine's tests as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

#: Default categories and patterns (regular expressions over `normalise`d text).
DEFAULT_PATTERNS: Mapping[str, Sequence[str]] = {
    "suicide": (
        r"\bsuicid(e|al)\b",
        r"\b(want|wanted|wanting|wish|wished|going) (to )?(die|be dead)\b",
        r"\bwish (i|id) (was|were|could be) dead\b",
        r"\b(kill|killing|kms|top|topping|end|ending) (myself|my own life|my life)\b",
        r"\b(take|taking) my (own )?life\b",
        r"\bkms\b",
        r"\bunalive\b",
        r"\bend(ing)? it all\b",
        r"\b(better off|be better|easier) without me\b",
        r"\bno (point|reason) (in )?(going on|living|carrying on|being here|being alive)\b",
        r"\bi (cant|cannot|can not) go on\b",
        r"\bdont want to (live|wake up|be alive|be here any ?more)\b",
        r"\bnot want to (live|wake up|be alive|be here any ?more)\b",
    ),
    "self_harm": (
        r"\bself harm(s|ing|ed)?\b",
        r"\b(cutting|cut|cuts|hurting|hurt|hurts|harming|harmed|harm|burning|burnt|burned"
        r"|starving|punishing) myself\b",
        r"\b(overdose|overdosed|overdosing)\b",
        r"\b(took|take|taking|swallow|swallowed|swallowing) (too many|all my|all of my|all the"
        r"|a load of|loads of|a bunch of) (pills|tablets|meds|painkillers|paracetamol)\b",
    ),
    "abuse": (
        r"\babus(e|ed|es|er|ers|ing|ive)\b",
        r"\b(hits|hit|hitting|slaps|slapped|slapping|punches|punched|punching|kicks|kicked"
        r"|kicking|beats|beat|beaten|beating|strangled|strangles|choked|chokes|throttled"
        r"|bit|bites) (me|her|him|us|them|mum|mam|dad|my)\b",
        r"\b(pushes|pushed|shoves|shoved|grabs|grabbed|drags|dragged) (me|her|him|us|my)\b",
        r"\bthreat(en|ens|ened|ening) (me|her|him|us|to)\b",
        r"\b(scared|afraid|frightened|terrified) of (him|her|them|my)\b",
        r"\b(takes|took|taking|steals|stole|stealing|stolen) (my|her|his|their) "
        r"(money|pension|bank card|card|benefits)\b",
        r"\b(takes|took|taking|steals|stole|stealing) money from\b",
        r"\btouch(ed|es|ing) (me|her|him) (inappropriately|sexually|down there|where)\b",
        r"\btouched me\b",
        r"\b(sexually|sexual) (assaulted|assault|abused)\b",
        r"\b(rape|raped|raping|molested|groped)\b",
        r"\b(shouts|shouted|screams|screamed|swears|swore) at (me|her|him)\b",
        r"\b(throws|threw|throwing) (things|stuff|plates|\w+) at (me|her|him)\b",
        r"\b(rough|violent|aggressive|heavy handed) with (me|her|him|us|mum|dad)\b",
        # "he'll" normalises to "hell", "she'd" to "shed".
        r"\b(scared|afraid|frightened|terrified) (of )?what (hell|shell|theyll|hed|shed|theyd"
        r"|(he|she|they) (will|might|would|could|can))\b",
        r"\bsexual (comments|remarks|jokes|advances|messages|texts)\b",
        r"\b(keep|keeps|kept|keeping) (her|him|me|them) (sedated|drugged|locked)\b",
        r"\block(s|ed)? (me|her|him) in\b",
        r"\b(violent|violence)\b",
        r"\bcontrols? (all )?(my|her|his) money\b",
    ),
    "neglect": (
        r"\bneglect(ed|ing|s|ful)?\b",
        r"\b(bed|pressure) sores?\b",
        r"\bleft (him |her |me )?(in|on|lying in|lying on|sitting in) (a |the |his |her |my )?"
        r"(wet|soiled|dirty|own urine|urine|own mess|mess|floor)\b",
        r"\bleft (\w+ ){0,5}(all day|all night|for hours|for days|overnight"
        r"|without (food|water|a drink|his meds|her meds|medication))\b",
        r"\b(no one|nobody|noone) (came|comes|turned up|turns up|has been|has come|checks)\b",
        r"\b(no one|nobody|noone) (has |had |have )?(changed|washed|fed|checked on|helped"
        r"|turned) (her|him|me|them)\b",
        r"\b(hasnt|has not|havent|have not|hadnt|had not|not) (eaten|been fed|been changed"
        r"|been washed|had (anything to eat|a drink|any food|food|a meal|his meds|her meds))\b",
        r"\bno (food|heating|water|electricity) (in|for|at)\b",
        r"\b(starved|dehydrated|malnourished)\b",
    ),
    "unsafe": (
        r"\b(not|dont|do not|never|doesnt|does not) (feel |feeling |think im |think i am )?"
        r"safe\b",
        r"\b(isnt|is not|its not|it is not|im not|i am not|were not|arent) safe\b",
        r"\bunsafe\b",
        r"\b(scared|afraid|frightened|terrified) (to go home|to be at home|to go back|to be alone"
        r"|for my life|for my safety|for her life|for his life)\b",
        r"\bin danger\b",
    ),
    "hurt": (
        r"\b(hurt|hurts|hurting|injured|injures|injuring) (me|her|him|us)\b",
        r"\b(been|got|get|gets|getting|was|were|being) (hurt|hit|punched|kicked|assaulted"
        r"|attacked|injured|bitten|scratched|beaten|slapped)\b",
        r"\b(attack|attacks|attacked|assault|assaults|assaulted) (me|her|him|us)\b",
        r"\bbruis(e|es|ed|ing)\b",
    ),
}

#: Phrases blanked out before matching: the topic words in training and policy talk, and
#: idioms that say nothing about harm.
DEFAULT_IGNORE: Sequence[str] = (
    r"\b(suicide|self harm|abuse|neglect|safeguarding|violence|domestic abuse) "
    r"(prevention|awareness|training|policy|policies|course|courses|module|modules|team"
    r"|lead|leads|procedure|procedures|referral|referrals|guidance|session|sessions)\b",
    r"\b(abuse|abused|abusing) (of )?the system\b",
    r"\bhurts? me to (see|watch|think|say|hear|leave|know)\b",
    r"\b(substance|drug|alcohol) abuse (service|services|team|support)\b",
    # Someone hurting themselves by accident: "she hit her head when she fell".
    r"\b(she|mum|mam|nan|gran|grandma) (hit|bumped|banged|knocked) her head\b",
    r"\b(he|dad|grandad|grandpa) (hit|bumped|banged|knocked) his head\b",
    r"\bi (hit|bumped|banged|knocked) my head\b",
    r"\b(kicked|thrown) (off|out of) (the|a) (scheme|list|course|bus|train|register"
    r"|waiting list)\b",
    r"\bhit by a (car|bus|van|bike|lorry|cyclist|taxi)\b",
)

#: Categories where "never", "not" and the like just before a match cancel it.
DEFAULT_NEGATABLE: frozenset[str] = frozenset({"abuse", "neglect", "unsafe", "hurt"})

NEGATIONS: frozenset[str] = frozenset({
    "not", "never", "no", "nobody", "noone", "none", "nothing", "hasnt", "havent", "hadnt",
    "didnt", "doesnt", "dont", "isnt", "wasnt", "werent", "wont", "wouldnt", "neither", "nor",
})
#: How many words before a match are searched for a negation.
NEGATION_WINDOW = 3

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_NOT_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Lower case, apostrophes dropped, everything but letters and digits one space."""
    text = _APOSTROPHES.sub("", text.casefold())
    return _NOT_WORD.sub(" ", text).strip()


def merge_patterns(
    base: Mapping[str, Sequence[str]], overrides: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    """`base` with each category in `overrides` replaced; an empty list switches one off.

    Replacing rather than appending lets a deployment drop a default pattern that misfires
    on its local talk; to add to a category, copy its defaults and extend them.
    """
    merged = {name: list(patterns) for name, patterns in base.items()}
    for name, patterns in overrides.items():
        merged[name] = list(patterns)
    return merged


def _compile(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"safeguarding pattern for {what} is not a valid regular expression "
                         f"({exc}): {pattern!r}") from None


class Detector:
    """Which harm categories a free-text answer touches; [] for ordinary talk."""

    def __init__(
        self,
        patterns: Mapping[str, Sequence[str]],
        ignore: Iterable[str] = DEFAULT_IGNORE,
        negatable: Iterable[str] = DEFAULT_NEGATABLE,
    ) -> None:
        if isinstance(patterns, str):
            raise TypeError("patterns must map category names to lists of patterns")
        self._patterns: dict[str, list[re.Pattern[str]]] = {}
        for category, category_patterns in patterns.items():
            if isinstance(category_patterns, str):
                # A lone string would be iterated character by character.
                category_patterns = [category_patterns]
            self._patterns[category] = [
                _compile(p, repr(category)) for p in category_patterns
            ]
        self._ignore = [_compile(p, "ignore") for p in ignore]
        self._negatable = frozenset(negatable)

    @property
    def categories(self) -> list[str]:
        return [name for name, patterns in self._patterns.items() if patterns]

    def detect(self, text: str) -> list[str]:
        """The categories found in `text`, in the order the patterns were given."""
        said = normalise(text)
        for ignored in self._ignore:
            # A token no pattern matches, so words either side don't become adjacent.
            said = ignored.sub(" _ ", said)
        found = []
        for category, patterns in self._patterns.items():
            negatable = category in self._negatable
            if any(self._counts(said, match, negatable)
                   for pattern in patterns for match in pattern.finditer(said)):
                found.append(category)
        return found

    @staticmethod
    def _counts(said: str, match: re.Match[str], negatable: bool) -> bool:
        if not negatable:
            return True
        matched = match.group().split()
        if matched and matched[0] in NEGATIONS:
            return True  # the negation is the point: "not safe", "no one came"
        before = said[: match.start()].split()[-NEGATION_WINDOW:]
        return not any(word in NEGATIONS for word in before)
