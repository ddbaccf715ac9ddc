"""Automatic transcription of voice notes: a small interface, off by default, no engine.

WithUs may only use a speech-to-text engine that installs from the package registries
with its model inside a package (never downloaded at run time), and that is good enough
to help a reviewer rather than mislead them. None is today (docs/privacy.md says why: the
only one whose model ships in a package, PocketSphinx, got about three words in four
wrong on clear speech), so reviewers type what they hear. An adapter implements
`Transcriber`; `WITHUS_TRANSCRIBE` names it. What it returns is redacted and stored as the
voice note's transcript, marked as automatic (no reviewer), for a reviewer to correct.
"""

from __future__ import annotations

from typing import Protocol

from bot.services.config import ConfigError

#: Engines an adapter exists for. "off" is the default and the only choice today.
ENGINES = ("off",)


class Transcriber(Protocol):
    name: str

    def transcribe(self, data: bytes, content_type: str) -> str | None:
        """A draft transcript of a voice note, or None when there is none to offer."""


class NoTranscriber:
    """Off: reviewers type the transcript themselves."""

    name = "off"

    def transcribe(self, data: bytes, content_type: str) -> str | None:
        return None


def transcriber_for(engine: str) -> Transcriber:
    """The adapter `WITHUS_TRANSCRIBE` names."""
    if engine == "off":
        return NoTranscriber()
    raise ConfigError(
        f"WITHUS_TRANSCRIBE={engine!r}: there is no speech-to-text engine to use "
        "(see docs/privacy.md, 'Voice notes and photos'); leave it unset, and reviewers "
        "type what they hear."
    )
