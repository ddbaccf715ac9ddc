"""The unit of work: one transaction, shared by all repositories, committed explicitly.

Handling one inbound message touches several tables (the dedupe record, the conversation,
answers, the outbox). They must change together or not at all, so the service layer does
all of it inside one `with UnitOfWork(...) as uow:` block and calls `uow.commit()` at the
end. Leaving the block without committing, normally or by an exception, rolls back.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from storage.repositories import (
    AnswerRepository,
    ConsentRepository,
    ConversationRepository,
    InboundRepository,
    OutboxRepository,
    ParticipantRepository,
    ResponseRepository,
    SurveyRepository,
    VaultRepository,
)
from storage.vault import ContactVault


class UnitOfWork:
    session: Session
    participants: ParticipantRepository
    vault: VaultRepository
    conversations: ConversationRepository
    responses: ResponseRepository
    answers: AnswerRepository
    consents: ConsentRepository
    inbound: InboundRepository
    outbox: OutboxRepository
    surveys: SurveyRepository

    def __init__(self, sessions: sessionmaker[Session], vault: ContactVault) -> None:
        self._sessions = sessions
        self._contact_vault = vault

    def __enter__(self) -> UnitOfWork:
        self.session = session = self._sessions()
        self.participants = ParticipantRepository(session)
        self.vault = VaultRepository(session, self._contact_vault)
        self.conversations = ConversationRepository(session)
        self.responses = ResponseRepository(session)
        self.answers = AnswerRepository(session)
        self.consents = ConsentRepository(session)
        self.inbound = InboundRepository(session)
        self.outbox = OutboxRepository(session)
        self.surveys = SurveyRepository(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Whatever was not committed is discarded; after commit() this is a no-op.
        try:
            self.session.rollback()
        finally:
            self.session.close()

    @property
    def contact_vault(self) -> ContactVault:
        """The vault's cipher, for other encrypted columns (safeguarding flags' words)."""
        return self._contact_vault

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
