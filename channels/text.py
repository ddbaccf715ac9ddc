"""Splitting long texts into messages a provider accepts, at places a reader expects.

Every provider caps one message (Telegram 4096, Twilio 1600). Cutting mid-word, or
mid-sentence when a paragraph break was available, makes a survey question hard to read,
especially with a screen reader or on a small phone. So we cut at the nicest boundary in
the second half of the allowed window: paragraph, then line, then sentence, then space,
and only as a last resort in the middle of a word. Pure standard library.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# The end of a sentence: terminal punctuation, optional closing quotes/brackets, whitespace.
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*\s+")
_SPACE = re.compile(r"\s+")
# Characters that glue to the one before them: never start a part with one.
_JOINERS = {"\u200d", "\ufe0f", "\ufe0e"}


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, which is how Telegram and UCS-2 SMS count (emoji = 2)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int, length: Callable[[str], int] = len) -> list[str]:
    """Split `text` into parts whose `length` is at most `limit`, at natural boundaries.

    Whitespace at a cut is dropped (it would only start or end a part). A text that already
    fits comes back unchanged as a one-item list; an empty text gives `[""]` so a caller
    always has at least one part to send.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    parts: list[str] = []
    rest = text
    while length(rest) > limit:
        cut = _cut_point(rest, _fitting_prefix(rest, limit, length))
        part, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if part:
            parts.append(part)
    if rest or not parts:
        parts.append(rest)
    return parts


def _fitting_prefix(text: str, limit: int, length: Callable[[str], int]) -> int:
    """The largest n such that length(text[:n]) <= limit (binary search: length is monotonic)."""
    low, high = 0, min(len(text), limit)  # no char counts less than one unit
    while low < high:
        middle = (low + high + 1) // 2
        if length(text[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return max(low, 1)


def _cut_point(text: str, end: int) -> int:
    """Where to cut within text[:end], preferring the latest natural boundary past halfway."""
    window = text[:end]
    floor = end // 2
    for breaks in ("\n\n", "\n"):
        at = window.rfind(breaks)
        if at >= floor:
            return at + len(breaks)
    for pattern in (_SENTENCE_END, _SPACE):
        ends = [m.end() for m in pattern.finditer(window) if m.end() > floor]
        if ends:
            return ends[-1]
    # Mid-word: at least don't separate an accent, joiner or variation selector from its base.
    cut = end
    while 1 < cut < len(text) and (text[cut] in _JOINERS or unicodedata.combining(text[cut])):
        cut -= 1
    return cut
