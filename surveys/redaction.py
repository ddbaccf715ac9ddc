"""Redact personal details from free-text answers before they are stored or shown.

WithUs gathers lived experience from unpaid carers and care workers for small,
local coproduction groups. In a group of a dozen people who share a town, a
care home and a GP surgery, a first name plus a ward is often enough to say who
wrote an answer, or who it is about. Answers are therefore redacted before
they reach the database or any organiser's screen, and the originals are not
kept.

The module is deliberately pure (stdlib plus ``phonenumbers``, and word lists
shipped in ``surveys/redaction_data``): no models to download, no network, no
clock, so it runs the same offline, in tests and on a small server, and every
answer goes through it on the hot path. Shaped identifiers (bank and card
numbers, handles, links, numbers written out) live in ``redaction_ids``; names,
places and care settings looked up in the word lists in ``redaction_words``.

Recognisers are rule-based and tuned towards recall: a wrongly hidden word
costs a little meaning, a leaked name can cost someone their trust. What they
cannot do (lower-case names with no cue, surnames on their own, places missing
from the gazetteer) is listed in the tests' corpus figures and docs/privacy.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import phonenumbers

from surveys import redaction_ids as ids
from surveys.redaction_lexicon import lexicon
from surveys.redaction_words import word_candidates

__all__ = ["LABELS", "Finding", "Redactor", "is_valid_nhs_number", "redact"]

LABELS: tuple[str, ...] = (
    "PHONE",
    "EMAIL",
    "POSTCODE",
    "NHS_NUMBER",
    "NI_NUMBER",
    "DATE_OF_BIRTH",
    "ADDRESS",
    "NAME",
    "PLACE",
    "BANK_ACCOUNT",
    "CARD_NUMBER",
    "ONLINE_ID",
    "URL",
)

# On overlap the longer span wins; on a tie the more specific label does.
# An NHS number is also a possible phone number, so NHS_NUMBER must come first.
_SPECIFICITY: dict[str, int] = {
    label: rank
    for rank, label in enumerate(
        (
            "EMAIL",
            "URL",
            "BANK_ACCOUNT",
            "CARD_NUMBER",
            "NHS_NUMBER",
            "NI_NUMBER",
            "DATE_OF_BIRTH",
            "ONLINE_ID",
            "PHONE",
            "POSTCODE",
            "PLACE",
            "ADDRESS",
            "NAME",
        )
    )
}


@dataclass(frozen=True)
class Finding:
    """One span of personal data: ``text[start:end]`` is to be shown as ``[label]``."""

    label: str
    start: int
    end: int


# --------------------------------------------------------------------- email

# The look-behind stops the engine rescanning a long run of letters from every
# position, which would make a 10,000-character answer quadratic.
_EMAIL = re.compile(
    r"(?<![\w.%+'-])[\w.%+'-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[^\W\d_]{2,24}(?![\w-])"
)


# --------------------------------------------------------------------- phone

# A phone number needs at least this many digits to be kept from the
# phonenumbers "possible" matcher, which also offers prices, years and dates.
_MIN_PHONE_DIGITS = 10
_MIN_INTERNATIONAL_DIGITS = 8
_MAX_PHONE_DIGITS = 15
_PHONE_PREFIX = re.compile(r"^\(?(?:\+|00)")
_MONEY_BEFORE = re.compile(r"[£$€][0-9,]*$")


_ANY_DIGIT = re.compile(r"[0-9]")


def _phone_candidates(text: str, region: str) -> Iterator[Finding]:
    # Cheap pre-check: phonenumbers is the slowest recogniser by far, and most
    # answers contain no run of digits long enough to be a phone number.
    if len(_ANY_DIGIT.findall(text)) < _MIN_INTERNATIONAL_DIGITS - 1:
        return
    leniency = phonenumbers.Leniency.POSSIBLE
    try:
        matches = list(phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency))
    except Exception:  # a library bug must not lose a carer's answer
        return
    for match in matches:
        if _keep_phone(text, match):
            start = match.start
            # "(999 012 3454)": the opening bracket belongs to the sentence, not
            # to an area code, and would make the span outrank an NHS number.
            if match.raw_string.startswith("(") and ")" not in match.raw_string:
                start += 1
            yield Finding("PHONE", start, match.end)


def _keep_phone(text: str, match: phonenumbers.PhoneNumberMatch) -> bool:
    """Keep real-looking numbers, including Ofcom's drama ranges.

    "Possible" leniency is needed because drama numbers such as 07700 900123
    are not "valid"; digit counts then throw out the prices, years and dates
    that "possible" also accepts.
    """
    raw = match.raw_string
    digits = sum(ch.isdigit() for ch in raw)
    if digits > _MAX_PHONE_DIGITS or _MONEY_BEFORE.search(
        text, max(0, match.start - 12), match.start
    ):
        return False
    if _PHONE_PREFIX.match(raw):
        return digits >= _MIN_INTERNATIONAL_DIGITS
    if digits >= _MIN_PHONE_DIGITS:
        return True
    return digits >= _MIN_INTERNATIONAL_DIGITS and phonenumbers.is_valid_number(match.number)


# ---------------------------------------------------------------- NHS number

_NHS = re.compile(r"(?<![0-9])(?<![0-9][ -])[0-9](?:[ -]?[0-9]){9}(?![ -]?[0-9])")
_NHS_SHAPE = re.compile(r"[0-9](?:[ -]?[0-9]){9}")
_NHS_CUE = re.compile(r"\bnhs|\bchi\b", re.IGNORECASE)
_NHS_CUE_WINDOW = 40


def is_valid_nhs_number(number: str) -> bool:
    """True if ``number`` is ten digits (single spaces/hyphens allowed) passing mod 11."""
    if not _NHS_SHAPE.fullmatch(number):
        return False
    digits = [int(ch) for ch in number if ch.isdigit()]
    total = sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == digits[9]


def _nhs_candidates(text: str) -> Iterator[Finding]:
    for m in _NHS.finditer(text):
        if not is_valid_nhs_number(m.group()):
            continue
        # England and Wales never issue NHS numbers starting 0, but a UK
        # landline can pass mod 11 by chance (1 in 11); without an explicit
        # cue it is left to the phone recogniser.
        if m.group().startswith("0") and not _NHS_CUE.search(
            text, max(0, m.start() - _NHS_CUE_WINDOW), m.start()
        ):
            continue
        yield Finding("NHS_NUMBER", m.start(), m.end())


# ----------------------------------------------------------------- NI number

# First letter never D F I Q U V; second never D F I O Q U V. QQ is HMRC's
# example prefix, kept because people copy it from forms and guidance.
_NI = re.compile(
    r"(?<![A-Za-z0-9])(?P<prefix>QQ|[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])"
    r"[ -]?[0-9]{2}[ -]?[0-9]{2}[ -]?[0-9]{2}(?:[ -]?(?P<suffix>[A-D]))?(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_NI_NEVER_ISSUED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def _ni_candidates(text: str) -> Iterator[Finding]:
    for m in _NI.finditer(text):
        prefix = m.group("prefix")
        if prefix.upper() in _NI_NEVER_ISSUED:
            continue
        # Without the final letter, "on 12 34 56" could be anything; only an
        # upper-case prefix reads as someone typing an NI number.
        if m.group("suffix") is None and not prefix.isupper():
            continue
        yield Finding("NI_NUMBER", m.start(), m.end())


# ------------------------------------------------------------------ postcode

_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?[0-9][A-Z0-9]? ?[0-9][ABD-HJLNP-UW-Z]{2})"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)


def _postcode_candidates(text: str) -> Iterator[Finding]:
    for m in _POSTCODE.finditer(text):
        yield Finding("POSTCODE", m.start(), m.end())


# ------------------------------------------------------------- date of birth

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"[0-3]?[0-9](?:st|nd|rd|th)?"
_YEAR = r"(?:1[89][0-9]{2}|20[0-9]{2}|'?[0-9]{2})"
_DATE = (
    rf"(?:[0-3]?[0-9][./-][01]?[0-9][./-](?:[0-9]{{4}}|[0-9]{{2}})"
    rf"|{_DAY}(?:\s+of)?\s+{_MONTH},?\s+{_YEAR}"
    rf"|{_MONTH}\s+{_DAY},?\s+{_YEAR}"
    rf"|{_MONTH}\s+(?:1[89]|20)[0-9]{{2}}"
    rf"|(?:1[89]|20)[0-9]{{2}}"
    rf"|{_DAY}(?:\s+of)?\s+{_MONTH})"
)
# The cue is kept and only the date is hidden, so "born [DATE_OF_BIRTH]" still
# reads. Filler words are bounded so "born in Jamaica in 1948" does not reach.
_DOB = re.compile(
    r"(?:\b(?:born|dob|birthday|bday|b'day|birth\s*date|date\s+of\s+birth)\b|\bd\.o\.b\b\.?)"
    r"(?:[\s:;,=(-]|\b(?:is|was|on|the|in|of|back|around|about)\b){0,8}?"
    rf"(?P<date>{_DATE})(?![0-9A-Za-z])",
    re.IGNORECASE,
)


def _dob_candidates(text: str) -> Iterator[Finding]:
    for m in _DOB.finditer(text):
        yield Finding("DATE_OF_BIRTH", m.start("date"), m.end("date"))


# ------------------------------------------------------------------- address

_STREET_WORDS = (
    "Road|Rd|Street|St|Avenue|Ave|Lane|Ln|Close|Drive|Crescent|Cres|Way|Gardens|Gdns"
    "|Court|Ct|Place|Terrace|Grove|Park|Hill|Row|Walk|Mews|Square|Sq|Rise|View|Green"
    "|Parade|Vale"
)
# Lower-case street words that are not also everyday words ("drive", "close",
# "way", "park", "walk" are everywhere in care work: "a 40 min drive").
_LOWER_STREET_WORDS = "road|rd|street|avenue|ave|lane|crescent|terrace|grove|gardens|mews"
_HOUSE_NO = r"(?<![\w£$€.,:/-])[0-9]{1,4}[A-Za-z]?(?![0-9])"
_CAP_WORD = r"[^\W\d_a-z][\w'’-]*"
_STREET_CAP = (
    rf"(?:(?:{_CAP_WORD}\s+){{1,3}}(?:{_STREET_WORDS})"
    rf"|The\s+(?:{_STREET_WORDS})"
    r"|[^\W\d_a-z][a-z]+(?:way|gate))\b"  # one-word streets: Kingsway, Northgate
)

_ADDRESS_CAP = re.compile(rf"{_HOUSE_NO},?\s+(?P<street>{_STREET_CAP})")
_ADDRESS_LOWER = re.compile(
    rf"{_HOUSE_NO},?\s+(?:(?P<words>(?:[a-z][\w'’-]*\s+){{1,2}})(?:{_LOWER_STREET_WORDS})"
    rf"|the\s+(?:{_STREET_WORDS}))\b",
    re.IGNORECASE,
)
_ADDRESS_ON = re.compile(
    rf"\b(?i:on|in|off|along|near|lives|living)\s+(?P<street>(?:{_CAP_WORD}\s+){{1,2}}"
    rf"(?:{_STREET_WORDS}))\b"
)
_FLAT = re.compile(
    r"\b(?:flat|apartment|apt)\.?\s*(?:no\.?\s*)?[0-9]{1,4}[A-Za-z]?\b"
    r"(?!\s*(?:miles?|mins?|minutes?|hours?|hrs?|bed|beds|bedroom|storey|floors?|doors?|km|m)\b)",
    re.IGNORECASE,
)
# After "Flat 3" the rest of the address usually follows, with or without a
# house number: "Flat 3, 22 Mill Lane", "Flat 12b, Wellington Court".
_FLAT_TAIL = re.compile(rf",?\s+(?:[0-9]{{1,4}}[A-Za-z]?,?\s+)?{_STREET_CAP}")


def _address_candidates(text: str) -> Iterator[Finding]:
    for m in _ADDRESS_CAP.finditer(text):
        if not _starts_with_stopword(m.group("street"), allow_the=True):
            yield Finding("ADDRESS", m.start(), m.end())
    for m in _ADDRESS_LOWER.finditer(text):
        words = (m.group("words") or "").split()
        if not any(w.lower() in _NOT_STREET_NAMES for w in words):
            yield Finding("ADDRESS", m.start(), m.end())
    for m in _ADDRESS_ON.finditer(text):
        if not _starts_with_stopword(m.group("street"), allow_the=False):
            yield Finding("ADDRESS", m.start("street"), m.end("street"))
    for m in _FLAT.finditer(text):
        tail = _FLAT_TAIL.match(text, m.end())
        yield Finding("ADDRESS", m.start(), tail.end() if tail else m.end())


def _starts_with_stopword(street: str, *, allow_the: bool) -> bool:
    first = street.split()[0]
    if allow_the and first == "The":
        return False
    return _is_stopword(first)


# Words that sit between a number and a street word without being a street
# name: "45 mins drive", "3 hour road trip", "2 very long lanes".
_NOT_STREET_NAMES_TEXT = """
    a an the and or of to in on at for from with my our his her their this that very
    quite really too so min mins minute minutes hour hours hr hrs mile miles day days week
    weeks month months year years time times more less main busy long short big small
    way ways car cars bus buses lanes roads streets"""
_NOT_STREET_NAMES = frozenset(_NOT_STREET_NAMES_TEXT.split())


# ---------------------------------------------------------------------- name

_NAME_WORD = r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*"
_WORD = re.compile(_NAME_WORD)
_POSSESSIVE = re.compile(r"['’]s$")
_MAX_NAME_WORDS = 3

# In-law forms come first: "sister" alone would otherwise take "in" as the name.
_RELATIONSHIPS = (
    r"(?:mother|father|son|daughter|brother|sister)[ -]in[ -]law"
    r"|mum|mam|mom|mummy|mother|dad|daddy|father|son|daughter|husband|hubby|wife|partner"
    r"|brother|sister|bro|sis|nan|nana|nanna|nanny|gran|granny|grandma|grandmother|grandad"
    r"|granddad|grandpa|grandfather|grandson|granddaughter|grandchild|aunt|auntie|aunty"
    r"|uncle|cousin|niece|nephew|friend|mate|neighbour|neighbor|boyfriend|girlfriend"
    r"|fianc[eé]e?|step-?(?:mum|dad|son|daughter|mother|father)"
    r"|twin|carer|caregiver|client"
    r"|resident|patient|service\s+user|manager|boss|supervisor|colleague|co-?worker"
    r"|nurse|doctor|gp|consultant|surgeon|social\s+worker|key\s?worker|case\s+worker"
    r"|care\s+co-?ordinator|co-?ordinator|ot|physio|physiotherapist|matron|pharmacist"
    r"|therapist|counsellor|psychiatrist|dietitian|paramedic|team\s+leader|deputy"
)
# Roles may be followed by "is": "the manager is Karen". Family words may not,
# because "my mum is English" or "my husband is Deaf" are far more common.
_ROLES = (
    r"manager|boss|supervisor|nurse|doctor|gp|consultant|social\s+worker|key\s?worker"
    r"|case\s+worker|care\s+co-?ordinator|co-?ordinator|ot|physio|matron|team\s+leader"
)
_TITLES = r"(?i:dr|doctor|mr|mrs|ms|mx|prof|professor|nurse|sister|matron|rev|revd|cllr)|Miss"

# The name itself sits in a look-ahead so that a cue followed by a non-name
# ("twin sister Lucy", "carer named Tomasz") does not swallow the next cue.
_NAME_CUES = re.compile(
    r"(?:"
    rf"\b(?i:{_ROLES})[ \t]+(?i:is)[ \t]+"
    rf"|\b(?i:{_RELATIONSHIPS})\b[ \t]*,?[ \t]*"
    rf"|\b(?:{_TITLES})\b\.?[ \t]+"
    r"|\b(?i:called|named|names\s+are|name\s+is|name'?s|name’s|known\s+as|goes\s+by)[ \t]+"
    r"|\b(?i:ask(?:ed)?\s+for|speak\s+to|spoke\s+to|talk(?:ed)?\s+to|our)[ \t]+"
    r"|\b(?i:(?:hi|hiya|hello|hey)[ \t]*[,!]?[ \t]*(?:it'?s|it’s|this\s+is|i'?m|i’m|i\s+am))[ \t]+"
    r"|\b(?i:thanks|thank\s+you|thankyou|cheers|hi|hiya|hello|dear)[ \t]*[,!.]?[ \t]*"
    r")"
    rf"(?=(?P<name>{_NAME_WORD}))"
)
# Sign-offs only count at the very end, and "love"/"from" only when they
# start a sentence: "Love, Jean x" is a signature, "I love Leeds" is not.
_SIGN_OFF = re.compile(
    r"(?:\b(?i:regards|wishes)|(?:^|[.!?,\n])[ \t]*(?i:lots\s+of\s+love|love|ta|from))"
    rf"[ \t]*[,!.]?\s*(?P<name>{_NAME_WORD})(?:[ \t]+{_NAME_WORD})?[\s.!]*$"
)
# People often open with who they are: "It's Margaret, I care for my husband".
_INTRO = re.compile(
    r"^\s*(?i:it'?s|it’s|this\s+is|i'?m|i’m|i\s+am|my\s+name'?s)[ \t]+"
    rf"(?P<name>{_NAME_WORD})(?=[ \t]*(?:[,.!\n-]|$)|[ \t]+(?i:here|and)\b)"
)


def _name_candidates(text: str) -> Iterator[Finding]:
    starts = [m.start("name") for m in _NAME_CUES.finditer(text)]
    for pattern in (_SIGN_OFF, _INTRO):
        found = pattern.search(text)
        if found:
            starts.append(found.start("name"))
    for start in starts:
        span = _name_span(text, start)
        if span is not None:
            yield Finding("NAME", *span)


def _name_span(text: str, start: int) -> tuple[int, int] | None:
    """From ``start``, up to three capitalised, uncommon words one space apart."""
    end = start
    for count, word in enumerate(_WORD.finditer(text, start)):
        if count == _MAX_NAME_WORDS or not _looks_like_name(word.group()):
            break
        if count and text[end : word.start()] not in (" ", "\t"):
            break
        end = word.end()
    if end == start:
        return None
    # Keep the possessive outside the label: "[NAME]'s carer" still reads.
    if _POSSESSIVE.search(text, start, end):
        end -= 2
    return start, end


def _looks_like_name(word: str) -> bool:
    if not word[0].isupper():
        return False
    # All-caps words are acronyms (NHS, GP, ADHD) far more often than shouted
    # names, and this also keeps redaction idempotent: "[NAME]" is left alone.
    if len(word) > 1 and word.isupper():
        return False
    if len(word) >= 6 and word.lower().endswith("ing"):
        return False
    return not _is_stopword(word)


def _is_stopword(word: str) -> bool:
    lowered = word.lower().replace("’", "'")
    return lowered in _STOPWORDS or lowered.split("'")[0] in _STOPWORDS


# Capitalised words that follow a cue without being a name. Mid-sentence
# capitals are the main evidence for a name, so this list is what keeps
# "my Mum Can't cope" or "Dr Appointment" intact.
_STOPWORDS_TEXT = """
    i me my mine we us our you your he him his she her they them their it its this that these
    those there here who whom whose what which when where why how all any both each few more
    most some such no nor not only own same so than too very just also even still yet again
    ever never always often sometimes now then once today tonight tomorrow yesterday
    a an the and but or if because as until while of at by for with about against between
    into through during before after above below to from up down in out on off over under
    further is am are was were be been being have has had having do does did doing can could
    will would shall should may might must ought can't won't don't doesn't didn't isn't
    wasn't aren't weren't hasn't haven't hadn't couldn't wouldn't shouldn't
    ok okay yes yeah yep no nope hi hello hey dear thanks thank please sorry well oh
    bless god lord jesus christ sir madam
    get gets got getting go goes went gone going come comes came coming say says said
    tell tells told ask asks asked need needs needed want wants wanted like likes liked
    love loves loved hate hates hated know knows knew think thinks thought feel feels felt
    keep keeps kept let lets make makes made take takes took give gives gave look looks
    looked see sees saw seen try tries tried use uses used work works worked live lives
    lived die dies died pass passes passed fall falls fell fallen stay stays stayed help
    helps helped call calls called ring rings rang visit visits visited refuse refuses
    refused struggle struggles struggled cope copes coped sleep sleeps slept eat eats ate
    wait waits waited start starts started stop stops stopped cry cries cried walk walks
    is was be has had does did will would could should might must shall can may
    really actually basically literally honestly probably definitely totally finally
    usually recently nearly hardly only already almost
    tired exhausted fine good great bad poorly ill unwell well better worse sad happy angry
    scared worried lonely alone stressed depressed anxious frail confused sure done back
    home ready able unable old young new
    mum mam mom mummy mother dad daddy father son daughter husband hubby wife partner
    brother sister bro sis nan nana nanna nanny gran granny grandma grandmother grandad
    granddad grandpa grandfather grandson granddaughter grandchild grandchildren kids
    children child baby aunt auntie aunty uncle cousin niece nephew friend mate neighbour
    neighbor boyfriend girlfriend twin family parents parent
    carer carers caregiver client clients resident residents patient patients user users
    manager boss supervisor colleague nurse nurses doctor doctors gp consultant surgeon
    worker workers physio matron pharmacist therapist staff team leader deputy
    dr mr mrs ms mx miss prof professor rev revd cllr
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur
    thurs fri sat sun mondays tuesdays wednesdays thursdays fridays saturdays sundays
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    christmas xmas easter ramadan eid diwali
    nhs social services service council hospital surgery ward unit clinic hospice
    practice centre center agency trust care home homes team office department
    ambulance police helpline careline respite support group groups charity
    english british irish scottish welsh polish indian pakistani bangladeshi jamaican
    african caribbean asian black white muslim christian catholic jewish hindu sikh
    deaf blind autistic disabled dementia alzheimer alzheimer's parkinson parkinson's
    covid cancer stroke diabetes epilepsy autism autistic asperger asperger's aspergers downs
    down's bipolar schizophrenia cerebral palsy huntington huntington's arthritis motor
    learning mental
    someone somebody anyone anybody everyone everybody nobody noone nothing everything
    anything something people person lady man woman girl boy guy bloke lad lass one two
    every another other first last next since although though however anyway
    unfortunately luckily hopefully obviously apparently especially plus lol omg tbh pls
    age practitioner assistant associate specialist advisor adviser officer lead
    adult adults local lady lord kid
    facebook whatsapp zoom teams google tesco asda amazon
    universal credit blue badge attendance allowance personal independence direct payments
    continuing healthcare power attorney lasting benefits pension motability
    citizens advice healthwatch samaritans macmillan
    """
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


# --------------------------------------------------------------------- place


# People rarely say the whole listed name: "Riverside Day Centre" becomes
# "Riverside", "Beech House Surgery" becomes "Beech House". These generic
# endings are dropped to make a short form, matched only when capitalised
# because a short form is more likely to be an ordinary word.
_FACILITY_SUFFIX = re.compile(
    r"\s+(?:care\s+home|nursing\s+home|residential\s+home|day\s+centre|medical\s+centre"
    r"|health\s+centre|community\s+centre|medical\s+practice|carers?\s+hub|surgery"
    r"|practice|hospital|hospice|clinic|centre|hub)$",
    re.IGNORECASE,
)
_MIN_SHORT_FORM = 4


def _place_patterns(places: Iterable[str]) -> list[tuple[re.Pattern[str], bool]]:
    """Patterns for the full names and for their short forms, the latter flagged
    as needing a capital letter."""
    names = [_strip_the(p) for p in places]
    names = [n for n in names if any(ch.isalnum() for ch in n)]
    short = [_FACILITY_SUFFIX.sub("", n) for n in names]
    short = [s for s in short if len(s) >= _MIN_SHORT_FORM and s not in names]
    short = [s for s in short if not _is_stopword(s)]
    found = ((_alternation(names), False), (_alternation(short), True))
    return [(pattern, capital) for pattern, capital in found if pattern is not None]


def _strip_the(place: str) -> str:
    return re.sub(r"^\s*the\s+", "", place.strip(), flags=re.IGNORECASE)


def _alternation(names: list[str]) -> re.Pattern[str] | None:
    alternatives = sorted({_place_regex(n) for n in names}, key=len, reverse=True)
    if not alternatives:
        return None
    # A trailing bare "s" catches the possessive typed without an apostrophe
    # ("Oakwood lodges new manager"); "'s" itself is left outside the label.
    return re.compile(rf"(?<![\w])(?:{'|'.join(alternatives)})s?(?![\w])", re.IGNORECASE)


def _place_regex(name: str) -> str:
    """Regex for one organiser-entered place, tolerant of how people type it."""
    parts: list[str] = []
    for ch in name:
        if ch.isspace() or ch == "-":
            if parts and parts[-1] != r"[\s-]*":
                parts.append(r"[\s-]*")
        elif ch in "'’":
            parts.append(r"['’]?")
        elif ch == ".":
            parts.append(r"\.?")
        else:
            # "Café" is typed "Cafe" as often as not.
            base = unicodedata.normalize("NFD", ch)[0]
            parts.append(f"[{re.escape(ch)}{re.escape(base)}]" if base != ch else re.escape(ch))
    return "".join(parts)


# ------------------------------------------------------------------ redactor


# Labels already in the text (from an earlier pass, or typed by someone
# quoting us) are never redacted again: a listed place called "The Place"
# would otherwise turn "[PLACE]" into "[[PLACE]]" on every pass.
_LABEL_TOKEN = re.compile(rf"\[(?:{'|'.join(LABELS)})\]")

# Replacing a span can create a word boundary a recogniser was waiting for
# ("Willows999 000 0018" only shows "Willows" once the number is gone), so
# find() looks again at its own output, a bounded number of times, when a
# finding was glued to a letter or digit.
_MAX_EXTRA_ROUNDS = 2


class Redactor:
    """Finds and hides personal data. Build once per deployment; reuse per answer."""

    def __init__(self, places: Iterable[str] = (), default_region: str = "GB") -> None:
        self._places = _place_patterns(places)
        self._region = default_region
        lexicon()  # read the word lists now, not on a person's first message

    def find(self, text: str) -> list[Finding]:
        """Non-overlapping findings sorted by position; on overlap the longer wins."""
        findings = self._find_once(text)
        for _ in range(_MAX_EXTRA_ROUNDS):
            if not findings or not any(_glued(text, f) for f in findings):
                break
            extra = self._find_once(_replace(text, findings))
            if not extra:
                break
            findings = sorted(findings + _map_back(extra, findings), key=lambda f: f.start)
        return findings

    def redact(self, text: str) -> str:
        """``text`` with each finding replaced by its bracketed label."""
        return _replace(text, self.find(text))

    def _find_once(self, text: str) -> list[Finding]:
        if not text:
            return []
        protected = [(m.start(), m.end()) for m in _LABEL_TOKEN.finditer(text)]
        candidates = self._candidates(text)
        if protected:
            candidates = (
                f for f in candidates if all(f.end <= s or f.start >= e for s, e in protected)
            )
        return _resolve(candidates)

    def _candidates(self, text: str) -> Iterator[Finding]:
        for m in _EMAIL.finditer(text):
            yield Finding("EMAIL", m.start(), m.end())
        yield from _nhs_candidates(text)
        yield from _ni_candidates(text)
        phones = list(_phone_candidates(text, self._region))
        yield from phones
        # "074OO 123456": the same number with look-alike letters made digits
        # (same length, so the offsets hold).
        digits = ids.deobfuscate_digits(text)
        if digits is not None:
            seen = {(f.start, f.end) for f in phones}
            for f in _phone_candidates(digits, self._region):
                if (f.start, f.end) not in seen:
                    yield f
        for label, start, end in _id_spans(text):
            yield Finding(label, start, end)
        yield from _postcode_candidates(text)
        yield from _dob_candidates(text)
        yield from _address_candidates(text)
        yield from _name_candidates(text)
        for label, start, end in word_candidates(text, _is_stopword):
            yield Finding(label, start, end)
        for pattern, needs_capital in self._places:
            for m in pattern.finditer(text):
                if not needs_capital or m.group()[0].isupper():
                    yield Finding("PLACE", m.start(), m.end())


# Characters no recogniser's match starts with (after a finding) or ends
# with (before one): replacing a finding next to them changes nothing.
_NEVER_STARTS = frozenset(" \t\n,.;:!?)\"'’")
_NEVER_ENDS = frozenset(" \t\n,;!?(\"")
_DIGITS_AFTER = re.compile(r"[\s().-]*[0-9]")
_DIGITS_BEFORE = re.compile(r"[0-9][\s().-]*$")


def _glued(text: str, finding: Finding) -> bool:
    """A finding with something other than a space or punctuation against it:
    replacing it makes a boundary that was not there ("Willows999 000 0018",
    "WARD12@0" with Ward 12 listed)."""
    before = text[finding.start - 1] if finding.start else " "
    after = text[finding.end] if finding.end < len(text) else " "
    if before not in _NEVER_ENDS or after not in _NEVER_STARTS:
        return True
    # The phone matcher reads a run of digits across spaces: once "Flat 001" is
    # gone, "0000000 0" after it is a number of its own.
    digits_after = _DIGITS_AFTER.match(text, finding.end) is not None
    digits_before = _DIGITS_BEFORE.search(text, 0, finding.start) is not None
    return (text[finding.end - 1].isdigit() and digits_after) or (
        text[finding.start].isdigit() and digits_before
    )


def _id_spans(text: str) -> Iterator[tuple[str, int, int]]:
    yield from ids.bank_candidates(text)
    yield from ids.card_candidates(text)
    yield from ids.online_id_candidates(text)
    yield from ids.url_candidates(text, lexicon().names.__contains__)
    yield from ids.spelled_number_candidates(text)
    yield from ids.spelled_email_candidates(text)


def _replace(text: str, findings: list[Finding]) -> str:
    pieces: list[str] = []
    cursor = 0
    for finding in findings:
        pieces.append(text[cursor : finding.start])
        pieces.append(f"[{finding.label}]")
        cursor = finding.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _map_back(extra: list[Finding], applied: list[Finding]) -> list[Finding]:
    """Translate findings in redacted text to offsets in the text before it.

    Extra findings never overlap a label (labels are protected), so each of
    their offsets lies in unredacted text and shifts by the length change of
    the labels before it.
    """

    def original(pos: int) -> int:
        shift = 0
        redacted_cursor = 0
        original_cursor = 0
        for f in applied:
            label_start = redacted_cursor + (f.start - original_cursor)
            if pos <= label_start:
                break
            label_len = len(f.label) + 2
            shift += (f.end - f.start) - label_len
            redacted_cursor = label_start + label_len
            original_cursor = f.end
        return pos + shift

    return [Finding(f.label, original(f.start), original(f.end)) for f in extra]


def _resolve(candidates: Iterable[Finding]) -> list[Finding]:
    """Longest (then most specific) candidate wins an overlap, taking the union.

    Dropping the loser outright could leak the part of it outside the winner
    ("mum Jean-Ward 12" with "Ward 12" listed would show "Jean-"), so the
    winner's label is stretched over both spans instead.
    """
    ranked = sorted(
        (f for f in candidates if f.end > f.start),
        key=lambda f: (f.start - f.end, _SPECIFICITY[f.label], f.start),
    )
    # Kept in the order chosen, so the first overlapping entry is the best one.
    chosen: list[Finding] = []
    for finding in ranked:
        hits = [i for i, c in enumerate(chosen) if c.start < finding.end and finding.start < c.end]
        if not hits:
            chosen.append(finding)
            continue
        merged = [finding, *(chosen[i] for i in hits)]
        union = Finding(
            chosen[hits[0]].label, min(f.start for f in merged), max(f.end for f in merged)
        )
        chosen[hits[0]] = union
        chosen = [c for i, c in enumerate(chosen) if i not in hits[1:]]
    return sorted(chosen, key=lambda f: f.start)


_DEFAULT = Redactor()


def redact(text: str, places: Iterable[str] = ()) -> str:
    """Redact ``text`` in one call; build a :class:`Redactor` to reuse a place list."""
    redactor = _DEFAULT if not places else Redactor(places)
    return redactor.redact(text)
