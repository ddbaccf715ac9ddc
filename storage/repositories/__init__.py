"""Thin data access for the service layer: one repository per table, no business rules.

Repositories share the unit of work's session and never commit. Where two processes can
race (webhooks redelivered in parallel, several senders, workers starting together) the
statement itself is made race-safe with INSERT ... ON CONFLICT, row locks or
SKIP LOCKED, because a check-then-insert in Python would not be. The same code runs on
SQLite, where BEGIN IMMEDIATE (see storage.db) serialises writers instead and the
PostgreSQL-only FOR UPDATE clauses compile to nothing.
"""

from storage.errors import SurveyVersionConflict
from storage.repositories._sql import safe_error
from storage.repositories.messages import InboundRepository, OutboxRepository
from storage.repositories.people import (
    ConversationRepository,
    ParticipantRepository,
    VaultRepository,
)
from storage.repositories.responses import (
    AnswerRepository,
    ConsentRepository,
    ResponseRepository,
    SurveyRepository,
)

__all__ = [
    "AnswerRepository",
    "ConsentRepository",
    "ConversationRepository",
    "InboundRepository",
    "OutboxRepository",
    "ParticipantRepository",
    "ResponseRepository",
    "SurveyRepository",
    "SurveyVersionConflict",
    "VaultRepository",
    "safe_error",
]
