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

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
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
OUTBOX_KINDS = ("reply", "invitation", "reminder", "shareback", "alert")
SANDBOX_DIRECTIONS = ("out", "in")
ROLES = ("organiser", "reviewer", "lead")
ERASURE_SOURCES = ("participant", "organiser", "retention")
INVITATION_STATUSES = ("scheduled", "queued", "cancelled")
STATEMENT_STATUSES = ("pending", "approved", "rejected")
VOTES = ("agree", "disagree", "pass")


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


class SurveyStatus(Base):
    """What an organiser decided about a survey (or consultation), whatever its version:
    its opening and closing moments, which replace those in the file, and whether it is
    archived. No row: the file's `opens` and `closes` hold."""

    __tablename__ = "survey_status"

    survey_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )


class Participant(Base):
    """A person, known only by a pseudonym derived from their channel and address."""

    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    language: Mapped[str | None] = mapped_column(String(8))
    #: When prompts suit them: "morning", "afternoon", "evening", "night" or an hour "07".
    preferred_time: Mapped[str | None] = mapped_column(String(16))
    #: Last time they wrote to us: WhatsApp's 24-hour window and retention count from it.
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

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
    #: When a reminder falls due, if one should be sent (the scheduler polls this index).
    next_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class Response(Base):
    """One participant taking one survey version, from start to completion or stop."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_survey_id_status", "survey_id", "status"),
        # The filter choices, funnel and responses over time, from the index alone.
        Index("ix_responses_survey_id_channel_language", "survey_id", "channel", "language",
              "is_test", "status", "consented_at", "started_at"),
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
    #: May their words be quoted (without their name)? None until asked.
    quote_ok: Mapped[bool | None] = mapped_column(Boolean)
    #: Do they want to hear what was learned? None until asked.
    share_back: Mapped[bool | None] = mapped_column(Boolean)
    #: A rehearsal in the sandbox (an organiser answering as a cohort member): test data,
    #: left out of figures and exports unless asked for.
    is_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    _repr_fields = ("survey_id", "survey_version", "status")


class Answer(Base):
    """One answer (or skip, or media) to one question within a response."""

    __tablename__ = "answers"
    __table_args__ = (
        # Re-answering after BACK replaces the row instead of adding a second one.
        UniqueConstraint("response_id", "question_id", "kind"),
        Index("ix_answers_survey_id_question_id", "survey_id", "question_id"),
        # The survey page's counts, read in order from the index alone (migration 1730).
        # SQLite only: PostgreSQL hashes instead, and a long written answer would not fit
        # in one of its B-tree index entries.
        Index("ix_answers_survey_id_question_id_kind_value", "survey_id", "question_id",
              "kind", "value", "response_id").ddl_if(dialect="sqlite"),
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
    #: Written words (free text or a transcript), counted but never tallied by value.
    free: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Copied from the response when the answer is written (they never change there), so
    # the tallies below can be kept by triggers even while a cascade deletes the response.
    channel: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(8))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_test: Mapped[bool | None] = mapped_column(Boolean)

    _repr_fields = ("response_id", "question_id", "kind")


class AnswerTally(Base):
    """How many answers there are with each (question, kind, value), by the facets a
    results page narrows by: the survey page's counts, read without touching the answers.

    Kept by database triggers on `answers` in the same transaction as every insert,
    change and delete (cascades included; migration 1770, `storage/tallies.py`), so it can
    never disagree with the answers. `value_key` is the value's JSON text for a coded
    answer, "" for written words, skips and media.
    """

    __tablename__ = "answer_tallies"
    __table_args__ = {"sqlite_with_rowid": False}

    survey_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value_key: Mapped[str] = mapped_column(Text, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    started_on: Mapped[date] = mapped_column(Date, primary_key=True)
    is_test: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class AnswerPairTally(Base):
    """`AnswerTally` split by the coded answer each response gave to one question
    (`by_question`, `by_value`: an option, a number, or the options ticked): every pair
    of answers within a response, so a page narrowed to "those who said X to Q" (or
    ticked X) is a sum over this table. Kept by the same triggers."""

    __tablename__ = "answer_pair_tallies"
    __table_args__ = {"sqlite_with_rowid": False}

    survey_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    by_question: Mapped[str] = mapped_column(String(64), primary_key=True)
    by_value: Mapped[str] = mapped_column(Text, primary_key=True)
    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value_key: Mapped[str] = mapped_column(Text, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    started_on: Mapped[date] = mapped_column(Date, primary_key=True)
    is_test: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


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
        _one_of("kind", OUTBOX_KINDS),
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
    #: Why it is sent: a reply, or something we start (invitation, reminder, share-back).
    kind: Mapped[str] = mapped_column(String(16), default="reply", server_default="reply")
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL"), index=True
    )
    #: While 'sending': which sender claimed it (`Sender.identity`), so a new leader can
    #: tell a dead sender's claims from its own and put them back at once.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    #: While 'sending': when that sender began handing it to the provider, committed
    #: before the request. Unset means the provider certainly never saw it.
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

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


# --- Dashboard: accounts, audit, themes and notes ------------------------------------------


class User(Base):
    """An organiser or reviewer (a coproduction group member) who signs in to the dashboard."""

    __tablename__ = "users"
    __table_args__ = (_one_of("role", ROLES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Raised to end every open session of the account at once (disabled, password reset):
    #: a session remembers the number it signed in with and stops at its next click.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: A temporary password was given out: the first sign-in must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False,
                                                       server_default=false())
    #: The two-factor (TOTP) secret, encrypted with the contact vault's keys. Set but not
    #: yet confirmed while totp_enabled_at is empty.
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The last 30-second step whose code was accepted, so a code works only once.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    _repr_fields = ("role",)


class AccountInvite(Base):
    """A one-time link for a new account to choose its password. Only a hash of the token
    is kept, so the table cannot be used to sign in."""

    __tablename__ = "account_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DashboardSetting(Base):
    """A setting an organiser changes in the dashboard (e.g. two-factor for everyone)."""

    __tablename__ = "dashboard_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(json_type())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    _repr_fields = ("value",)


class LoginAttempt(Base):
    """Recent sign-in attempts, so rate limiting holds across several web workers."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: A hash of the email address or client address being limited.
    key: Mapped[str] = mapped_column(String(64), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEvent(Base):
    """Who exported, erased or asked for contact, when and why. Never an address."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(json_type(), default=dict)

    _repr_fields = ("action", "subject")


class Theme(Base):
    """A theme the coproduction group tags free-text answers with, per survey."""

    __tablename__ = "themes"
    __table_args__ = (UniqueConstraint("survey_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(80))
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AnswerTheme(Base):
    __tablename__ = "answer_themes"

    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True
    )
    theme_id: Mapped[int] = mapped_column(
        ForeignKey("themes.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    tagged_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    tagged_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ThemeRejection(Base):
    """A suggested theme a reviewer rejected for an answer: it is not suggested for that
    answer again. The theme is named (folded to lower case), not referenced, because a
    suggested theme may not exist yet."""

    __tablename__ = "theme_rejections"

    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    rejected_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    rejected_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Note(Base):
    """A reviewer's note on an answer."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- Privacy and safeguarding ---------------------------------------------------------------


class Erasure(Base):
    """That an erasure happened, and how much it removed. Deliberately no identifier."""

    __tablename__ = "erasures"
    __table_args__ = (_one_of("source", ERASURE_SOURCES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))
    responses: Mapped[int] = mapped_column(Integer, default=0)
    answers: Mapped[int] = mapped_column(Integer, default=0)


class SafeguardingFlag(Base):
    """A message that may disclose harm, for the safeguarding lead (bot.services.safeguarding).

    `words` is the message, redacted, with the rules it matched: encrypted with the vault's
    keys (it is about harm, so it is kept like an address), never exported or logged, and
    the flag's own copy, so BACK and a new answer never change what was flagged.
    """

    __tablename__ = "safeguarding_flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(32), _participant_fk(), index=True)
    answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("answers.id", ondelete="SET NULL"), index=True
    )
    #: Where they were: none of these for someone's very first message.
    survey_id: Mapped[str | None] = mapped_column(String(64))
    question_id: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[str | None] = mapped_column(String(8))
    words: Mapped[bytes | None] = mapped_column(LargeBinary)
    categories: Mapped[list[str]] = mapped_column(json_type(), default=list)
    #: When, at the pause after the signposting, they asked for someone to contact them.
    contact_wanted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the lead was emailed about the flag, and about the request to be contacted.
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    note: Mapped[str | None] = mapped_column(Text)

    _repr_fields = ("survey_id", "question_id")


class ContactRequest(Base):
    """A safeguarding lead asked to see someone's contact details, with a reason."""

    __tablename__ = "contact_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flag_id: Mapped[int] = mapped_column(
        ForeignKey("safeguarding_flags.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- Outreach ---------------------------------------------------------------------------------


class Cohort(Base):
    """A named group of people to invite (e.g. "carers-leeds"); members by pseudonym."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CohortMember(Base):
    __tablename__ = "cohort_members"

    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[str] = mapped_column(
        String(32), _participant_fk(), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Invitation(Base):
    """A survey invitation to a cohort, sent at (or after) `scheduled_at`."""

    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_status_scheduled_at", "status", "scheduled_at"),
        _one_of("status", INVITATION_STATUSES),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[str] = mapped_column(String(64))
    cohort_id: Mapped[int] = mapped_column(
        ForeignKey("cohorts.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ShareBack(Base):
    """ "What we heard, and what happens next": sent to those who asked to hear."""

    __tablename__ = "sharebacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- Consultations ------------------------------------------------------------------------


class Statement(Base):
    """A short statement people vote on: written by organisers (seed) or participants."""

    __tablename__ = "statements"
    __table_args__ = (
        Index("ix_statements_consultation_id_question_id_status",
              "consultation_id", "question_id", "status"),
        _one_of("status", STATEMENT_STATUSES),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[str] = mapped_column(String(64))
    question_id: Mapped[str] = mapped_column(String(64))
    author_id: Mapped[str | None] = mapped_column(
        String(32), _participant_fk("SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    seed: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    moderated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    moderated_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    duplicate_of: Mapped[int | None] = mapped_column(Integer)

    _repr_fields = ("consultation_id", "question_id", "status")


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (_one_of("vote", VOTES),)

    statement_id: Mapped[int] = mapped_column(
        ForeignKey("statements.id", ondelete="CASCADE"), primary_key=True
    )
    participant_id: Mapped[str] = mapped_column(
        String(32), _participant_fk(), primary_key=True, index=True
    )
    vote: Mapped[str] = mapped_column(String(8))
    voted_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- Voice notes and photos -------------------------------------------------------------------

MEDIA_STATUSES = ("pending", "fetching", "stored", "failed", "expired")
MEDIA_KINDS = ("audio", "image")


class MediaItem(Base):
    """A voice note or photo sent as an answer: what it is and where its encrypted bytes
    are, never the bytes themselves (those are in the media store, encrypted with the
    vault's keys; see bot/services/media.py).

    It is also the fetch job: 'pending' until the fetcher claims it ('fetching'), then
    'stored' or 'failed' (with `problem`, a short code the dashboard explains). Retention
    turns a stored one 'expired': the file and its hash go, the transcript stays.
    """

    __tablename__ = "media_items"
    __table_args__ = (
        Index("ix_media_items_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_media_items_survey_id_question_id", "survey_id", "question_id"),
        _one_of("status", MEDIA_STATUSES),
        _one_of("kind", MEDIA_KINDS),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(32), _participant_fk(), index=True)
    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), index=True
    )
    survey_id: Mapped[str] = mapped_column(String(64))
    question_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    #: Where the provider keeps it (a Twilio MediaUrl, a Telegram file id), encrypted with
    #: the vault key; removed once it is stored or has failed.
    source: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The content type the provider claimed, and the one the bytes turned out to be.
    claimed_type: Mapped[str | None] = mapped_column(String(100))
    content_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    #: SHA-256 of the stored (cleaned, unencrypted) bytes, to check a read.
    sha256: Mapped[str | None] = mapped_column(String(64))
    #: The random name of its encrypted file in the media store.
    storage_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Why the last attempt failed, in our words (never the provider's, which may quote
    #: the URL), and for a final failure a short code: too_large, wrong_type,
    #: foreign_host, timeout, corrupt, not_found, refused, gave_up.
    last_error: Mapped[str | None] = mapped_column(String(200))
    problem: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: What a reviewer heard, redacted like free text (and copied into the answers as
    #: the question's words, so figures, themes, quotes and exports use it).
    transcript: Mapped[str | None] = mapped_column(Text)
    transcript_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    transcript_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    _repr_fields = ("kind", "status", "problem")


class MediaDeletion(Base):
    """An encrypted file whose record has gone (erasure, retention): the media job deletes
    it from the store, then this row. The key is random: it says nothing about anyone."""

    __tablename__ = "media_deletions"

    storage_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxMessage(Base):
    """A message on a channel with no provider, kept for an organiser to read instead of
    sent: the sandbox inbox (`bot/services/sandbox.py`). "out" is what WithUs sent a
    person; "in" is what an organiser replied as them. Erasing the person deletes them.
    """

    __tablename__ = "sandbox_messages"
    __table_args__ = (_one_of("direction", SANDBOX_DIRECTIONS),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(32), _participant_fk(), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(3))
    #: The outbox kind of an "out" message: reply, invitation, reminder, shareback, alert.
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    #: [[payload, label], ...], as in the outbox.
    choices: Mapped[list[Any]] = mapped_column(json_type(), default=list)
    #: The outbox row it came from, so an invitation's progress can say "sandbox".
    outbox_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: When a real phone would have got it (after quiet hours or the person's chosen
    #: time), if later than it arrived here.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    _repr_fields = ("channel", "direction", "kind")


# --- Words kept, and promises kept ------------------------------------------------------------


class OtherReply(Base):
    """A message that was neither an answer nor a keyword, kept redacted so that nobody's
    words are thrown away (surveys.keeping), with the question or stage it arrived at.
    Reviewers read them beside the answers; exports carry them."""

    __tablename__ = "other_replies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[str] = mapped_column(String(32), _participant_fk(), index=True)
    #: The response they were in (or had just finished); none before any survey.
    response_id: Mapped[int | None] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    survey_id: Mapped[str | None] = mapped_column(String(64))
    #: A question id, or a stage: "consent", "quote", "shareback", "menu", "done",
    #: "stopped", "idle", ...
    question_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    _repr_fields = ("survey_id", "question_id")


class ErasureNotice(Base):
    """Someone who had opted out by SMS (so no message can reach them until START) asked
    for everything to be deleted with DELETE YES: it was, at once. This row, holding only
    the pseudonym, lets the next START tell them so, and is removed then (or after
    `ERASURE_NOTICE_DAYS`)."""

    __tablename__ = "erasure_notices"

    participant_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
