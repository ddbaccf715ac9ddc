"""Responses for the dashboard tests, stored through the repositories.

The conversation itself is tested elsewhere (tests/test_service.py); here what matters
is rows exactly like the ones the service writes, in numbers chosen to sit either side
of the suppression threshold.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.dashboard.auth import hash_password
from bot.services.runtime import Runtime
from storage.repositories.dashboard import DashboardRepository
from storage.uow import UnitOfWork
from surveys.model import QuestionType

#: Skip this question (as SKIP does).
SKIP = object()
#: Send only a photo for this question.
PHOTO = object()
PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


@dataclass
class Person:
    answers: Mapping[str, Any] = field(default_factory=dict)
    channel: str = "sms"
    language: str = "en"
    status: str = "completed"
    quote_ok: bool | None = None
    address: str | None = None


def seed(runtime: Runtime, survey_id: str, people: Iterable[Person],
         when: datetime | None = None) -> list[str]:
    """Store each person's response; returns their addresses (kept only in the vault)."""
    survey = runtime.catalog.get().surveys[survey_id]
    now = when or runtime.clock()
    addresses = []
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        for person in people:
            address = person.address or f"+44770090{next(_numbers):04d}"
            addresses.append(address)
            pid = runtime.pseudonymiser(person.channel, address)
            uow.participants.ensure(pid, person.channel, now)
            uow.vault.store(pid, person.channel, address, now)
            rid = uow.responses.start(pid, survey.id, survey.version, person.channel,
                                      person.language, now)
            if person.status == "declined":
                uow.consents.record(pid, survey.id, survey.consent_version, "declined",
                                    person.channel, now)
                uow.responses.set_status(rid, "declined", now)
                continue
            if person.status == "started":
                continue
            uow.consents.record(pid, survey.id, survey.consent_version, "given",
                                person.channel, now)
            uow.responses.set_status(rid, "consented", now)
            for qid, value in person.answers.items():
                question = survey.question(qid)
                assert question is not None, qid
                if value is PHOTO:
                    uow.answers.record(rid, pid, survey.id, qid, "media", {"media": "photo"},
                                       None, survey.version, now)
                    continue
                if value is SKIP:
                    uow.answers.record(rid, pid, survey.id, qid, "skipped", None, None,
                                       survey.version, now)
                    continue
                uow.answers.record(rid, pid, survey.id, qid, "value", value,
                                   _label(question, value), survey.version, now)
            if person.quote_ok is not None:
                uow.responses.set_quote_ok(rid, person.quote_ok)
            if person.status != "consented":
                uow.responses.set_status(rid, person.status, now)
        uow.commit()
    return addresses


def _label(question: Any, value: Any) -> str:
    if question.type is QuestionType.FREE_TEXT:
        return ""
    codes = value if isinstance(value, list) else [value]
    labels = []
    for code in codes:
        option = question.option(str(code))
        labels.append(option.label.get() if option else str(code))
    return "; ".join(labels)


def add_user(runtime: Runtime, email: str, role: str, password: str = PASSWORD) -> int:
    with runtime.sessions() as session:
        user = DashboardRepository(session).add_user(email, hash_password(password), role,
                                                     runtime.clock())
        session.commit()
        return user.id


#: Twelve people answer FFT: enough to show their words, with "poor" under the threshold.
FFT_PEOPLE = [
    *[Person({"overall": "very_good", "why": f"The carers were kind, visit {n}."})
      for n in range(8)],
    Person({"overall": "very_good", "why": "Staff listened to my mum."}, quote_ok=True),
    Person({"overall": "very_good", "why": "=HYPERLINK(\"http://example.invalid\",\"x\")"}),
    Person({"overall": "poor", "why": "Nobody came on Sunday."}, channel="whatsapp"),
    Person({"overall": "poor", "why": SKIP}, channel="whatsapp"),
]
