"""System messages in the participant's language.

Every fixed sentence the bot says (help, hints, consent prompts, goodbyes) goes through
`gettext(language, message)`, so translators work from ordinary gettext catalogues
(surveys/locale/<lang>/LC_MESSAGES/withus.po). English is the source language; a missing
catalogue or message falls back to English rather than failing.
"""

from __future__ import annotations

import gettext as _gettext
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "withus"


@cache
def _catalogue(language: str) -> _gettext.NullTranslations:
    return _gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def gettext(language: str | None, message: str, **values: object) -> str:
    """Translate `message` into `language` and fill in `{named}` values."""
    text = _catalogue(language or "en").gettext(message)
    return text.format(**values) if values else text


def available_languages() -> list[str]:
    """Languages with a compiled catalogue, plus English (the source)."""
    found = {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")}
    return sorted(found | {"en"})
