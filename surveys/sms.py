"""How much an SMS costs, and how to stop pasted punctuation from tripling it.

An SMS is GSM-7 (160 characters, or 153 per part when split) unless a single character is
outside the GSM 03.38 alphabet; then the whole message goes as UCS-2 (70, or 67 per part).
Survey text is often pasted from Word or a web page, and one curly apostrophe turns a
1-part message into a 3-part one, for every person, on every send. `to_gsm` swaps such
typography for plain equivalents. It deliberately leaves real letters alone (Welsh ŵ, an
accented name, an emoji): text that genuinely needs UCS-2 stays UCS-2, because changing
someone's words is worse than paying for them.

This lives in the pure survey core (not in `channels/`) because two sides need the same
arithmetic: the SMS channel when it sends, and `surveys.lint` when an organiser checks a
survey file before anyone receives it. `channels.smstext` re-exports it unchanged. Pure
standard library, no I/O.
"""

from __future__ import annotations

from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

#: The GSM 03.38 default alphabet (the escape code 0x1B itself is not a character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The extension table: each is sent as escape + character, so counts as two septets.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153  # a multi-part header takes 7 septets per part
UCS2_SINGLE, UCS2_PART = 70, 67  # ...and 3 UTF-16 code units

# Typography with a plain GSM-7 equivalent that means the same thing to a reader.
_PLAIN: dict[str, str] = {
    **dict.fromkeys("‘’‚‛′‹›`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    **dict.fromkeys("•‣⁃◦∙", "-"),
    **dict.fromkeys("\t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006", " "),
    **dict.fromkeys("\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "),
    **dict.fromkeys("\u2028\u2029", "\n"),
    # Invisible characters that only get in the way (zero-width space, word joiner, BOM,
    # soft hyphen). The zero-width *joiner* is not here: it holds emoji sequences together.
    **dict.fromkeys("\u200b\u2060\ufeff\u00ad", ""),
    "…": "...",
    "⁄": "/",
}
_TABLE = str.maketrans(_PLAIN)


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, which is how Telegram and UCS-2 SMS count (emoji = 2)."""
    return len(text.encode("utf-16-le")) // 2


def to_gsm(text: str) -> str:
    """Replace typography that forces UCS-2 with plain equivalents; leave real letters."""
    return text.translate(_TABLE)


def plain_equivalent(char: str) -> str | None:
    """What `to_gsm` turns `char` into (`""`: removed), or None when it leaves it alone."""
    return _PLAIN.get(char)


def encoding(text: str) -> Encoding:
    """GSM-7 when every character is in the GSM alphabet (or its extension), else UCS-2."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        return "GSM-7"
    return "UCS-2"


def septets(text: str) -> int:
    """GSM-7 length: extension characters count two. ValueError if the text isn't GSM-7."""
    if encoding(text) != "GSM-7":
        raise ValueError("text needs UCS-2; count it with segments() instead")
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


def units(text: str) -> int:
    """The length an SMS is billed by: septets in GSM-7, UTF-16 code units in UCS-2."""
    return septets(text) if encoding(text) == "GSM-7" else utf16_length(text)


def segments(text: str) -> int:
    """How many SMS parts (billed messages) the text takes.

    An empty text counts as 1: an empty SMS is still one message on the network, and a
    cost estimate should never claim a send is free. Parts are packed the way phones and
    Twilio do it: an escape pair (GSM-7) or a surrogate pair (UCS-2 emoji) never straddles
    two parts, so a part may hold one unit less than its nominal size.
    """
    if encoding(text) == "GSM-7":
        sizes = [2 if char in GSM7_EXTENSION else 1 for char in text]
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        sizes = [utf16_length(char) for char in text]
        single, part = UCS2_SINGLE, UCS2_PART
    if sum(sizes) <= single:
        return 1
    count, used = 1, 0
    for size in sizes:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return count


def ucs2_culprits(text: str) -> list[tuple[str, str | None]]:
    """The distinct characters that force UCS-2, in order, each with its plain replacement
    (`""` means it can simply be removed) or None when there is no honest one."""
    seen: dict[str, str | None] = {}
    for char in text:
        if char not in GSM7_BASIC and char not in GSM7_EXTENSION and char not in seen:
            seen[char] = _PLAIN.get(char)
    return list(seen.items())
