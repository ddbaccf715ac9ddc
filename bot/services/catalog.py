"""The surveys participants can reach, compiled once and refreshed cheaply.

Survey definitions live in the database (published by `withus surveys load` or the
dashboard), with what organisers decided about opening and closing, so every web
worker and the scheduler see the same versions. Parsing YAML on every message would be
wasteful, so each (id, version, sha256) is compiled once and the list of latest versions
is re-read at most every few seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.services.surveys import closed_moments, with_status
from storage.repositories import SurveyRepository
from surveys.consultation import Consultation
from surveys.engine import Catalog
from surveys.loader import load_text
from surveys.model import Survey

REFRESH = timedelta(seconds=5)


class CatalogCache:
    def __init__(self, sessions: sessionmaker[Session], default_survey: str | None,
                 clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._default = default_survey
        self._clock = clock
        self._compiled: dict[tuple[str, int, str], Survey | Consultation] = {}
        self._catalog: Catalog | None = None
        self._checked: datetime | None = None
        self._lock = threading.Lock()

    def get(self) -> Catalog:
        now = self._clock()
        with self._lock:
            if self._catalog is None or self._checked is None or now - self._checked > REFRESH:
                self._catalog = self._load()
                self._checked = now
            return self._catalog

    def invalidate(self) -> None:
        with self._lock:
            self._catalog = None

    def _load(self) -> Catalog:
        with self._sessions() as session:
            repo = SurveyRepository(session)
            definitions = repo.latest_all()
            statuses = repo.statuses()
        surveys: dict[str, Survey] = {}
        consultations: dict[str, Consultation] = {}
        for d in definitions:
            key = (d.survey_id, d.version, d.sha256)
            if key not in self._compiled:
                self._compiled[key] = load_text(d.source, f"{d.survey_id} v{d.version}")
            compiled = with_status(self._compiled[key], statuses.get(d.survey_id))
            if isinstance(compiled, Consultation):
                consultations[d.survey_id] = compiled
            else:
                surveys[d.survey_id] = compiled
        closed = closed_moments({**surveys, **consultations}, statuses)
        return Catalog(surveys, self._default, consultations, closed)
