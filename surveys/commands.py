"""Words that manage a person's relationship with us rather than a survey answer.

MYDATA, DELETE, TIME, LATER, LANGUAGE and MENU work at any point, like the survey keywords,
and only as a whole message. Welsh equivalents are real Welsh words (DILEU = delete,
AMSER = time, IAITH = language, FY NATA = my data, WEDYN = later, DEWISLEN = menu).
"""

from __future__ import annotations

from enum import StrEnum

from surveys.parsing import normalise


class Command(StrEnum):
    MYDATA = "MYDATA"
    DELETE = "DELETE"
    TIME = "TIME"
    LATER = "LATER"
    LANGUAGE = "LANGUAGE"
    MENU = "MENU"


WORDS: dict[str, Command] = {
    "mydata": Command.MYDATA, "my data": Command.MYDATA, "fy nata": Command.MYDATA,
    "fynata": Command.MYDATA, "fy data": Command.MYDATA,
    "delete": Command.DELETE, "delete me": Command.DELETE, "dileu": Command.DELETE,
    "time": Command.TIME, "times": Command.TIME, "amser": Command.TIME,
    "later": Command.LATER, "not now": Command.LATER, "wedyn": Command.LATER,
    "nes ymlaen": Command.LATER,
    "language": Command.LANGUAGE, "languages": Command.LANGUAGE, "iaith": Command.LANGUAGE,
    "menu": Command.MENU, "surveys": Command.MENU, "dewislen": Command.MENU,
    "arolygon": Command.MENU,
}

#: Each language's name in that language (and English), so "CYMRAEG" switches to Welsh.
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "cy": "Cymraeg"}
LANGUAGE_WORDS: dict[str, str] = {
    "english": "en", "saesneg": "en", "cymraeg": "cy", "welsh": "cy",
}

#: When prompts may come. Hours are 24-hour "HH" strings.
TIME_SLOTS = ("morning", "afternoon", "evening", "night")


def command(text: str) -> Command | None:
    return WORDS.get(normalise(text).lstrip("/"))


def language_named(text: str) -> str | None:
    """The language code a message names, e.g. "CYMRAEG" → "cy"."""
    return LANGUAGE_WORDS.get(normalise(text))


def parse_time(text: str) -> str | None:
    """Read a preferred time: a slot ("evening", "3") or an hour ("7pm", "19:00", "7")."""
    said = normalise(text)
    if said in TIME_SLOTS:
        return said
    welsh = {"bore": "morning", "prynhawn": "afternoon", "noswaith": "evening", "nos": "night",
             "gyda'r nos": "evening"}
    if said in welsh:
        return welsh[said]
    if said in ("1", "2", "3", "4"):
        return TIME_SLOTS[int(said) - 1]
    compact = said.replace(" ", "").replace(".", ":")
    suffix = ""
    for marker in ("am", "pm"):
        if compact.endswith(marker):
            suffix, compact = marker, compact[: -len(marker)]
    hour_text = compact.split(":")[0]
    if not hour_text.isdigit():
        return None
    hour = int(hour_text)
    if suffix and not 1 <= hour <= 12:
        return None
    if suffix == "pm" and hour != 12:
        hour += 12
    elif suffix == "am" and hour == 12:
        hour = 0
    if not suffix and not 0 <= hour <= 23:
        return None
    if not suffix and hour <= 4 and ":" not in compact:
        return None  # "3" alone is a menu choice above, never 3 a.m.
    return f"{hour:02d}"
