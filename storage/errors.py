"""Exceptions raised by the storage layer.

They live in their own module so callers can catch them without importing SQLAlchemy, and
so every message is written in one place where it is easy to check that none carries a
phone number, chat id or key.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class for errors the storage layer raises on purpose."""


class SurveyVersionConflict(StorageError):
    """A survey version was loaded again with different content.

    A published version is frozen: answers refer to it by (survey_id, version), so its
    questions must never change underneath them. Bump the version instead.
    """

    def __init__(self, survey_id: str, version: int) -> None:
        super().__init__(
            f"survey {survey_id!r} version {version} is already stored with different "
            "content; publish the change as a new version"
        )
        self.survey_id = survey_id
        self.version = version


class VaultDecryptionError(StorageError):
    """A vault entry cannot be decrypted with any configured key (wrong or retired key)."""
