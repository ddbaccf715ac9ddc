"""The database schema, as typed SQLAlchemy models.

Privacy shapes this schema. People are known only by a pseudonym (`Participant.id`); their
phone number or chat id exists only encrypted, in `VaultEntry`, so erasing someone's
contact details is one DELETE and a database dump without the vault key holds no contact
details. Inbound messages are recorded for de-duplication only: there is no body column.

Every foreign key to a participant cascades, so deleting a `Participant` erases everything
about them. Constraint names follow `NAMING_CONVENTION` so that migrations can refer to
them by the same name on SQLite and PostgreSQL.

When you change a model, add an Alembic migration: a test compares the migrated schema
with these models on both databases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    inspect,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime, json_type

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

RESPONSE_STATUSES = ("started", "consented", "declined", "completed", "stopped")
ANSWER_KINDS = ("value", "skipped", "media")
CONSENT_DECISIONS = ("given", "declined")
OUTBOX_STATUSES = ("pending", "sending", "sent", "delivered", "failed", "dead", "held")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """A CHECK that `column` holds one of `values`: a typo in a status fails loudly."""
    allowed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=column)


def _participant_fk(ondelete: str = "CASCADE") -> ForeignKey:
    return ForeignKey("participants.id", ondelete=ondelete)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    #: Extra attributes shown by repr(); only ever non-personal fields.
    _repr_fields: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # Only the primary key and whitelisted fields: a generic repr would print
        # ciphertext, answers and message text into logs and tracebacks.
        # Read only what is already loaded: a repr must never query the database (or
        # fail on a detached object) when a log line or traceback is being written.
        loaded = inspect(self).dict
        names = [str(c.key) for c in self.__mapper__.primary_key] + list(self._repr_fields)
        fields = ", ".join(
            f"{name}={loaded[name]!r}" if name in loaded else f"{name}=?" for name in names
        )
        return f"{type(self).__name__}({fields})"


class SurveyDefinition(Base):
    """The exact YAML text of each published survey version, so answers stay interpretable."""

    __tablename__ = "survey_definitions"

    survey_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Participant(Base):
    """A person, known only by a pseudonym derived from their channel and address."""

    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(String(8))

    _repr_fields = ("channel",)


class VaultEntry(Base):
    """A participant's address, encrypted with the contact vault key; the only copy."""

    __tablename__ = "vault_entries"

    participant_id: Mapped[str] = mapped_column(String(32), _participant_fk(), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Conversation(Base):
    """Where a participant is in their current survey: one row per person."""

    __tablename__ = "conversations"

    participant_id: Mapped[str] = mapped_column(String(32), _participant_fk(), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(json_type())
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="SET NULL"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Response(Base):
    """One participant taking one survey version, from start to completion or stop."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_survey_id_status", "survey_id", "status"),
        _one_of("status", RESPONSE_STATUSES),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(32), _participant_fk(), index=True)
    survey_id: Mapped[str] = mapped_column(String(64))
    survey_version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consented_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    _repr_fields = ("survey_id", "survey_version", "status")


class Answer(Base):
    """One answer (or skip, or media) to one question within a response."""

    __tablename__ = "answers"
    __table_args__ = (
        # Re-answering after BACK replaces the row instead of adding a second one.
        UniqueConstraint("response_id", "question_id", "kind"),
        Index("ix_answers_survey_id_question_id", "survey_id", "question_id"),
        _one_of("kind", ANSWER_KINDS),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Indexed by the unique constraint above, whose first column it is.
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    # Denormalised from the response for per-person export and erasure.
    participant_id: Mapped[str] = mapped_column(String(32), _participant_fk(), index=True)
    survey_id: Mapped[str] = mapped_column(String(64))
    question_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[Any] = mapped_column(json_type(none_as_null=True), nullable=True)
    label: Mapped[str | None] = mapped_column(Text)
    survey_version: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)

    _repr_fields = ("response_id", "question_id", "kind")


class Consent(Base):
    """An append-only record of each consent decision, as evidence of what was agreed."""

    __tablename__ = "consents"
    __table_args__ = (_one_of("decision", CONSENT_DECISIONS),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(32), _participant_fk(), index=True)
    survey_id: Mapped[str] = mapped_column(String(64))
    consent_version: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)

    _repr_fields = ("survey_id", "consent_version", "decision")


class InboundMessage(Base):
    """That a provider message was received, so a redelivered webhook is handled once.

    Deliberately no body: what people write is stored only as answers.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("channel", "provider_message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    # SET NULL, not CASCADE: after erasure the id must still block a late redelivery.
    participant_id: Mapped[str | None] = mapped_column(
        String(32), _participant_fk("SET NULL"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    _repr_fields = ("channel", "provider_message_id")


class OutboxMessage(Base):
    """A message waiting to be sent, being sent, or sent: the transactional outbox.

    Replies are written in the same transaction as the answer they respond to, and a sender
    delivers them afterwards, so a crash never loses a reply nor records an answer twice.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        _one_of("status", OUTBOX_STATUSES),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(32), _participant_fk(), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: {"text": str, "choices": [[payload, label], ...], "multiple": bool,
    #:  "business_initiated": bool}
    payload: Mapped[dict[str, Any]] = mapped_column(json_type())
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: When to try next; while 'sending', when the message was claimed.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    provider_message_ids: Mapped[list[str]] = mapped_column(json_type(), default=list)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The inbound_messages.id this replies to; informational, so no foreign key.
    in_reply_to: Mapped[int | None] = mapped_column(Integer)

    _repr_fields = ("channel", "status", "attempts")


class OutboxProviderId(Base):
    """Provider message id → outbox row, so a delivery callback finds its message by index.

    A JSON list cannot be indexed portably; without this table every status callback
    would scan the whole outbox. Not unique: Telegram message ids repeat across chats.
    """

    __tablename__ = "outbox_provider_ids"

    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE"), primary_key=True
    )
    provider_message_id: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)
