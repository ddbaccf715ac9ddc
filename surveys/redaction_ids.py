"""Recognisers for identifiers with a shape: bank and card numbers, handles,
profile links, chat ids, and numbers or emails written so a filter misses them.

Each function takes the text and yields ``(label, start, end)``; the
:class:`surveys.redaction.Redactor` resolves overlaps. All are regular
expressions plus a checksum where one exists (IBAN mod 97, Luhn), cheap
enough for every inbound message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

__all__ = [
    "bank_candidates",
    "card_candidates",
    "deobfuscate_digits",
    "iban_is_valid",
    "luhn_is_valid",
    "online_id_candidates",
    "spelled_email_candidates",
    "spelled_number_candidates",
    "url_candidates",
]

Span = tuple[str, int, int]

# --------------------------------------------------------------------- bank

# Written compact or in groups of four: "GB29NWBK6016...", "GB82 WEST 1234 ...".
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?"
    r"(?![A-Za-z0-9])"
)
# IBAN lengths by country for the countries people here bank in; others are
# accepted on the checksum alone.
_IBAN_LENGTH = {"GB": 22, "IE": 22, "DE": 22, "FR": 27, "ES": 24, "PL": 28, "PT": 25, "IT": 27}


def iban_is_valid(text: str) -> bool:
    """True for an IBAN (spaces allowed) whose check digits pass mod 97."""
    compact = text.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}", compact):
        return False
    expected = _IBAN_LENGTH.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


_DIGIT = re.compile(r"[0-9]")
_SORT_CODE = r"[0-9]{2}[- ]?[0-9]{2}[- ]?[0-9]{2}"
_SORT_CUE = r"(?i:sort\s*code|s/c|sc)"
_ACCOUNT_CUE = r"(?i:account|acc|acct|a/c|bank)(?:\s*(?i:number|num|no\.?|#))?"
_CUED_SORT = re.compile(rf"\b{_SORT_CUE}\b\s*(?i:is)?\s*[:=.-]?\s*(?P<n>{_SORT_CODE})(?![0-9])")
_CUED_ACCOUNT = re.compile(
    rf"(?:\b|(?<=/)){_ACCOUNT_CUE}\s*(?i:is)?\s*[:=.-]?\s*(?P<n>[0-9]{{8}})(?![0-9])"
)
# Without a cue, a sort code written 12-34-56 followed by eight digits.
_SORT_AND_ACCOUNT = re.compile(
    r"(?<![0-9-])[0-9]{2}-[0-9]{2}-[0-9]{2}[ ,]+[0-9]{8}(?![0-9])"
)


def bank_candidates(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        # "GB82 WEST 1234 5698 7654 32 from" may have taken the next word.
        candidate = m.group()
        while candidate:
            if iban_is_valid(candidate):
                yield ("BANK_ACCOUNT", m.start(), m.start() + len(candidate))
                break
            candidate = candidate.rpartition(" ")[0]
    if not _DIGIT.search(text):
        return
    for pattern in (_CUED_SORT, _CUED_ACCOUNT):
        for m in pattern.finditer(text):
            yield ("BANK_ACCOUNT", m.start("n"), m.end("n"))
    for m in _SORT_AND_ACCOUNT.finditer(text):
        yield ("BANK_ACCOUNT", m.start(), m.end())


# -------------------------------------------------------------------- cards

# 13 to 19 digits, in groups of any size split by single spaces or hyphens.
_CARD = re.compile(r"(?<![0-9A-Za-z])[0-9](?:[ -]?[0-9]){12,18}(?![ -]?[0-9])")


def luhn_is_valid(number: str) -> bool:
    digits = [int(ch) for ch in number if ch.isdigit()]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return bool(digits) and total % 10 == 0


def card_candidates(text: str) -> Iterator[Span]:
    for m in _CARD.finditer(text):
        # Cards start 2-6; a run of one repeated digit is not a card.
        number = m.group()
        if number[0] in "23456" and len(set(number) - {" ", "-"}) > 1 and luhn_is_valid(number):
            yield ("CARD_NUMBER", m.start(), m.end())


# ------------------------------------------------------- handles, chat ids

# A handle has a letter in it: "@0113" is more likely a typo in a number.
_HANDLE = re.compile(
    r"(?<![\w@.+-])@(?=[A-Za-z0-9_.]*[A-Za-z])[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?"
    r"(?![\w@])"
)
_PLATFORMS = (
    r"snap(?:chat)?|insta(?:gram)?|ig|tiktok|twitter|telegram|tg|discord|skype|threads"
    r"|bluesky|bsky|facebook|fb|messenger|whatsapp|signal|kik|wechat|line"
)
# "snapchat: kerry_b_1987": a handle needs a digit, dot or underscore in it
# to be told from an ordinary word ("my insta is private").
_PLATFORM_HANDLE = re.compile(
    rf"\b(?i:{_PLATFORMS})\s*(?i:handle|name|username|user\s*name|id)?\s*(?i:is|:|=|-)\s*"
    r"(?P<h>@?(?=[A-Za-z0-9_.]*[0-9_.])[A-Za-z0-9_](?:[A-Za-z0-9_.]{1,28}[A-Za-z0-9_]))"
    r"(?![\w@/])"
)
_CHAT_ID = re.compile(
    rf"\b(?i:(?:{_PLATFORMS}|chat|user|member|profile)(?:\s*(?:chat|user))?\s*"
    r"(?:id|no\.?|number|#)|chat|telegram|tg)\s*(?i:is)?\s*[:=#-]?\s*"
    r"(?P<n>-?[0-9]{5,15})(?![0-9])"
)


def online_id_candidates(text: str) -> Iterator[Span]:
    if "@" in text:
        for m in _HANDLE.finditer(text):
            yield ("ONLINE_ID", m.start(), m.end())
    for m in _PLATFORM_HANDLE.finditer(text):
        yield ("ONLINE_ID", m.start("h"), m.end("h"))
    for m in _CHAT_ID.finditer(text):
        yield ("ONLINE_ID", m.start("n"), m.end("n"))


# --------------------------------------------------------------------- URLs

# Sites where any page below the home page is a person: a profile, a chat
# link, a fundraiser, a booking page.
_PERSONAL_HOSTS_TEXT = (
    "facebook.com fb.com fb.me instagram.com tiktok.com twitter.com x.com linkedin.com "
    "youtube.com youtu.be t.me telegram.me wa.me m.me snapchat.com threads.net bsky.app "
    "justgiving.com gofundme.com calendly.com linktr.ee pinterest.com pinterest.co.uk "
    "reddit.com tumblr.com medium.com substack.com flickr.com onlyfans.com patreon.com "
    "ko-fi.com buymeacoffee.com paypal.me monzo.me venmo.com cash.app"
)
_PERSONAL_HOSTS = _PERSONAL_HOSTS_TEXT.split()
_HOST_ALTERNATION = "|".join(re.escape(h) for h in sorted(_PERSONAL_HOSTS, key=len, reverse=True))
_URL = re.compile(
    r"(?:\b(?:https?://|www\.)[^\s<>\"]+"
    rf"|(?<![\w.@/-])(?:[a-z0-9-]+\.)*(?i:{_HOST_ALTERNATION})/[^\s<>\"]+)",
    re.IGNORECASE,
)
_URL_TAIL = re.compile(r"[.,;:!?)\]}'\"’]+$")
_HOST = re.compile(r"^(?:https?://)?(?P<host>[^/?#]+)(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_PERSONAL_SEGMENT = re.compile(
    r"(?:^|/)(?:users?|u|profiles?|people|members?|staff|author|in|id|~|@)[/?=]?"
    r"|[?&](?:id|uid|user(?:id|name)?|profile|email|phone|name)=|/[~@]",
    re.IGNORECASE,
)
_LONG_NUMBER = re.compile(r"[0-9]{6,}")
_PATH_WORD = re.compile(r"[A-Za-z]+")


def url_candidates(text: str, is_first_name: Callable[[str], bool]) -> Iterator[Span]:
    """Links that lead to a person: profile and chat links, and any link whose
    path names someone or carries an id. Links to information pages stay."""
    if "/" not in text and "www." not in text.lower():
        return
    for m in _URL.finditer(text):
        url = _URL_TAIL.sub("", m.group())
        if url.endswith(("/", "?")) and url.count("/") <= 3:
            continue
        parts = _HOST.match(url)
        if parts is None:
            continue
        host = parts.group("host").lower().removeprefix("www.")
        rest = parts.group("rest")
        if _is_personal(host, rest, is_first_name):
            yield ("URL", m.start(), m.start() + len(url))


def _is_personal(host: str, rest: str, is_first_name: Callable[[str], bool]) -> bool:
    path = rest.strip("/")
    if not path:
        return False
    if any(host == h or host.endswith("." + h) for h in _PERSONAL_HOSTS):
        return True
    if _PERSONAL_SEGMENT.search(rest) or _LONG_NUMBER.search(rest):
        return True
    return any(is_first_name(word.casefold()) for word in _PATH_WORD.findall(path))


# ------------------------------------------------------ numbers written out

# Letters typed for digits inside a number: O for 0, l and I for 1.
_DIGITISH = re.compile(r"(?<![A-Za-z0-9])[0-9OoIl]*[0-9][0-9OoIl]*(?![A-Za-z0-9])")
_LOOKALIKE = str.maketrans("OoIl", "0011")


def deobfuscate_digits(text: str) -> str | None:
    """``text`` with look-alike letters in numbers made digits (same length),
    or None if there were none: "074OO 123456" -> "07400 123456"."""
    if not any(ch in "OoIl" for ch in text):
        return None
    out = _DIGITISH.sub(lambda m: m.group().translate(_LOOKALIKE), text)
    return out if out != text else None


_DIGIT_WORDS: dict[str, int] = {
    # English
    "zero": 1, "oh": 1, "o": 1, "nought": 1, "nil": 1, "one": 1, "two": 1, "three": 1,
    "four": 1, "five": 1, "six": 1, "seven": 1, "eight": 1, "nine": 1,
    "double": 0, "treble": 0, "triple": 0,
    # Welsh
    "dim": 1, "un": 1, "dau": 1, "dwy": 1, "tri": 1, "tair": 1, "pedwar": 1, "pedair": 1,
    "pump": 1, "pum": 1, "chwech": 1, "chwe": 1, "saith": 1, "wyth": 1, "naw": 1, "dwbl": 0,
}  # fmt: skip
_REPEAT = {"double": 2, "treble": 3, "triple": 3, "dwbl": 2}
_NUMBER_TOKEN = re.compile(
    rf"(?<![\w])(?:[0-9]+|(?i:{'|'.join(sorted(_DIGIT_WORDS, key=len, reverse=True))}))(?![\w])"
)
_NUMBER_GAP = re.compile(r"[\s,.\-–/]*")
_MIN_SPELLED_DIGITS = 10


def spelled_number_candidates(text: str) -> Iterator[Span]:
    """Phone numbers read out as words ("zero seven seven...", "dim saith..."),
    alone or mixed with digits, or typed one digit at a time."""
    run: list[re.Match[str]] = []
    for m in _NUMBER_TOKEN.finditer(text):
        if run and not _NUMBER_GAP.fullmatch(text, run[-1].end(), m.start()):
            yield from _spelled_run(run)
            run = []
        run.append(m)
    if run:
        yield from _spelled_run(run)


def _spelled_run(run: list[re.Match[str]]) -> Iterator[Span]:
    digits = 0
    words = 0
    repeat = 1
    for m in run:
        token = m.group().lower()
        if token[0].isdigit():
            digits += len(token) * repeat
        elif token in _REPEAT:
            repeat = _REPEAT[token]
            continue
        else:
            digits += repeat
            words += 1
        repeat = 1
    single_digits = all(len(m.group()) == 1 for m in run)
    if digits >= _MIN_SPELLED_DIGITS and (words or single_digits):
        yield ("PHONE", run[0].start(), run[-1].end())


# ----------------------------------------------------------- emails spelled

_AT = r"(?:\s*[(\[{<]\s*(?i:at)\s*[)\]}>]\s*|\s+(?i:at)\s+|\s*@\s*)"
_DOT = r"(?:\s*[(\[{<]\s*(?i:dot)\s*[)\]}>]\s*|\s+(?i:dot)\s+|\.)"
_TLD = (
    r"(?i:com|org|net|uk|co|ac|gov|nhs|sch|ltd|plc|me|info|biz|io|cymru|wales|scot|ie|eu"
    r"|de|fr|pl|ro|es|it|pt|nl|in|pk|ng|za|au|ca|us|edu)"
)
_SPELLED_EMAIL = re.compile(
    rf"(?<![\w.%+'-])(?P<local>[\w%+'-]+(?:{_DOT}[\w%+'-]+)*){_AT}"
    rf"(?P<domain>[\w-]+(?:{_DOT}[\w-]+)*?{_DOT}{_TLD})(?![\w-])"
)
_OBFUSCATION = re.compile(r"[(\[{<]\s*(?i:at|dot)\s*[)\]}>]|\s(?i:at|dot)\s|\s@|@\s")
_SPELLED_CUE = re.compile(r"\(at\)|\[at\]|\{at\}|<at>|\bdot\b|\bat\b|\s@|@\s", re.IGNORECASE)


def spelled_email_candidates(text: str) -> Iterator[Span]:
    """Emails with the @ or dots written out: "jane (at) example (dot) org"."""
    if not _SPELLED_CUE.search(text):
        return
    for m in _SPELLED_EMAIL.finditer(text):
        found = m.group()
        if not _OBFUSCATION.search(found):
            continue  # an ordinary email: the email recogniser has it
        # "carer.lou at example.com" reads as an email; "advice at carersuk.org"
        # as a sentence. A plain " at " needs a spelled dot or a tell-tale local part.
        plain_at = re.search(r"\s(?i:at)\s", found) and not re.search(r"[(\[{<]", found)
        spelled_dot = re.search(r"\s(?i:dot)\s|[(\[{<]\s*(?i:dot)", found)
        if plain_at and not spelled_dot and not re.search(r"[._0-9]", m.group("local")):
            continue
        yield ("EMAIL", m.start(), m.end())
