"""Voice notes and photos as answers: the survey rules, without any channel or storage.

A free-text question may say `accepts: [text, audio]` (or `[text, audio, image]`). Then a
voice note sent to it is an answer: the engine records it, thanks the person and moves on,
and the service fetches, cleans and stores the file afterwards (bot/services/media.py).
Everything here is pure: which media a question takes, what its prompt adds on channels
that can carry a voice note, and whether a survey's consent text says what happens to one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from surveys.i18n import gettext as _
from surveys.model import Question, Survey

#: Channel media types (Twilio's "audio"/"image", Telegram's "voice"/"audio"/"photo")
#: as the two kinds a survey can accept.
_KINDS = {"voice": "audio", "audio": "audio", "image": "image", "photo": "image"}


def media_kind(media_type: str) -> str | None:
    """ "audio" for a voice note or audio file, "image" for a photo, None for anything else
    (video, documents, stickers, locations, contacts)."""
    return _KINDS.get(media_type)


def takes(question: Question | None, media_type: str) -> bool:
    """Does this question accept this media as its answer?"""
    kind = media_kind(media_type)
    return question is not None and kind is not None and kind in question.accepts


def media_note(question: Question, language: str) -> str:
    """What a prompt adds on channels that carry media: "You can also send a voice note."

    Empty for questions that take only words. SMS never shows it (see channels).
    """
    audio, image = "audio" in question.accepts, "image" in question.accepts
    if audio and image:
        return _(language, "You can also send a voice note or a photo.")
    if audio:
        return _(language, "You can also send a voice note.")
    if image:
        return _(language, "You can also send a photo.")
    return ""


def received(media_type: str, language: str) -> str:
    """The thanks for a voice note or photo that was taken as the answer."""
    if media_kind(media_type) == "image":
        return _(language, "Thank you, we got your photo.")
    return _(language, "Thank you, we got your voice note.")


def not_used(media_type: str, language: str) -> str:
    """What a person is told when what they sent cannot answer this question: naming what
    actually arrived (a location is not "a photo, file or voice note")."""
    kind = media_type.lower()
    if kind in ("photo", "image"):
        return _(language, "Thank you for the photo. We can't use photos here, so please "
                           "answer in words.")
    if kind in ("voice", "audio"):
        return _(language, "Thank you for the voice note. We can't use voice notes here, so "
                           "please answer in words.")
    if kind in ("video", "video_note", "animation"):
        return _(language, "Thank you for the video. We can't use videos here, so please "
                           "answer in words.")
    if kind == "sticker":
        return _(language, "Thank you for the sticker. Please answer in words, so we can "
                           "record it.")
    if kind == "location":
        return _(language, "We got a location, but we don't use locations. Please answer "
                           "in words.")
    if kind == "contact":
        return _(language, "We got a contact card. We don't keep other people's details, "
                           "so please answer in words.")
    return _(language, "Thank you for the file. We can't use files here, so please answer "
                       "in words.")


def failed(media_type: str, language: str) -> str:
    """What a person is told when their voice note or photo could not be kept."""
    if media_kind(media_type) == "image":
        return _(language, "Sorry, your photo didn't reach us, so we haven't kept it. "
                           "Please send it again, or answer in words.")
    return _(language, "Sorry, your voice note didn't reach us, so we haven't kept it. "
                       "Please send it again, or answer in words.")


# --- Consent --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """Something consent must say when a survey takes media, and words that say it."""

    name: str
    advice: str
    words: dict[str, tuple[str, ...]]


#: What the consent text of a survey that accepts voice notes or photos must tell people,
#: by language: that the recording is kept encrypted, who hears it, and that it is
#: deleted. Each word is matched as the start of a word, case-insensitively, so
#: "encrypted" matches "encrypt" and Welsh mutations ("hamgryptio") are listed as written.
CONSENT_TOPICS = (
    Topic("media", "say that people may send a voice note (or photo)",
          {"en": ("voice", "recording", "photo", "picture"),
           "cy": ("llais", "recordiad", "llun", "lluniau")}),
    Topic("encrypted", "say it is kept encrypted",
          {"en": ("encrypt",), "cy": ("amgryptio", "hamgryptio", "amgryptiedig")}),
    Topic("who", "say who hears or sees it (the organisers and reviewers of this survey)",
          {"en": ("organiser", "organizer", "reviewer"),
           "cy": ("trefnwyr", "drefnwyr", "adolygwyr", "hadolygwyr")}),
    Topic("deleted", "say when it is deleted (after the retention period, or on DELETE)",
          {"en": ("delete",), "cy": ("dileu", "ddileu")}),
)


def consent_gaps(survey: Survey) -> list[tuple[str, Topic | None]]:
    """(language, topic) for each thing the consent text fails to say about media, or
    (language, None) for a language these checks have no words for.

    Empty when the survey takes no media: there is nothing to explain.
    """
    if not survey.accepts_media:
        return []
    gaps: list[tuple[str, Topic | None]] = []
    for language in survey.languages:
        words = _words(survey.consent.get(language))
        for topic in CONSENT_TOPICS:
            wanted = topic.words.get(language)
            if wanted is None:
                gaps.append((language, None))
                break
            if not any(word.startswith(stem) for word in words for stem in wanted):
                gaps.append((language, topic))
    return gaps


def _words(text: str) -> list[str]:
    cleaned = "".join(c.lower() if c.isalnum() or c == "'" else " " for c in text)
    return [w for word in cleaned.split() for w in _parts(word)]


def _parts(word: str) -> Iterable[str]:
    """ "a'r" -> "a", "r"; "wedi'i" -> "wedi", "i": Welsh joins words with apostrophes."""
    yield word
    if "'" in word:
        yield from (part for part in word.split("'") if part)
