"""What someone said: survey definitions, responses, answers and consent decisions."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, func, select, true, update
from sqlalchemy import insert as core_insert
from sqlalchemy.orm import Session

from storage.errors import SurveyVersionConflict
from storage.models import (
    ANSWER_KINDS,
    CONSENT_DECISIONS,
    RESPONSE_STATUSES,
    Answer,
    Consent,
    Response,
    SurveyDefinition,
    SurveyStatus,
)
from storage.repositories._fast import plannable
from storage.repositories._sql import (
    check_one_of,
    dialect_insert,
    execute,
    holds,
    insert,
    prepared,
    refresh_copy,
    rowcount,
    table_of,
)


class SurveyRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def store(
        self,
        survey_id: str,
        version: int,
        title: str,
        source: str,
        sha256: str,
        now: datetime,
    ) -> bool:
        """Keep a survey version's source; True if new, False if already stored as is.

        Raises SurveyVersionConflict if the version is stored with different content.
        """
        stmt = insert(self._session, SurveyDefinition).values(
            survey_id=survey_id,
            version=version,
            title=title,
            source=source,
            sha256=sha256,
            loaded_at=now,
        )
        # ON CONFLICT rather than check-then-insert: several workers load surveys at start.
        inserted = self._session.execute(
            stmt.on_conflict_do_nothing(index_elements=["survey_id", "version"]).returning(
                SurveyDefinition.version
            )
        ).first()
        if inserted is not None:
            return True
        stored = self._session.scalar(
            select(SurveyDefinition.sha256).where(
                SurveyDefinition.survey_id == survey_id, SurveyDefinition.version == version
            )
        )
        if stored != sha256:
            raise SurveyVersionConflict(survey_id, version)
        return False

    def latest_all(self) -> list[SurveyDefinition]:
        """The newest stored version of each survey, by survey id."""
        newest = (
            select(SurveyDefinition.survey_id, func.max(SurveyDefinition.version).label("version"))
            .group_by(SurveyDefinition.survey_id)
            .subquery()
        )
        return list(
            self._session.scalars(
                select(SurveyDefinition)
                .join(
                    newest,
                    (SurveyDefinition.survey_id == newest.c.survey_id)
                    & (SurveyDefinition.version == newest.c.version),
                )
                .order_by(SurveyDefinition.survey_id)
            )
        )

    def get(self, survey_id: str, version: int | None = None) -> SurveyDefinition | None:
        """A stored version, or the newest one when `version` is None."""
        if version is not None:
            return self._session.get(SurveyDefinition, (survey_id, version))
        return self._session.scalars(
            select(SurveyDefinition)
            .where(SurveyDefinition.survey_id == survey_id)
            .order_by(SurveyDefinition.version.desc())
            .limit(1)
        ).first()


    def versions(self, survey_id: str) -> list[SurveyDefinition]:
        """Every stored version of a survey, newest first."""
        return list(self._session.scalars(
            select(SurveyDefinition).where(SurveyDefinition.survey_id == survey_id)
            .order_by(SurveyDefinition.version.desc())))

    def statuses(self) -> dict[str, SurveyStatus]:
        """What organisers decided about each survey (opening, closing, archiving)."""
        return {row.survey_id: row for row in self._session.scalars(select(SurveyStatus))}

    def status(self, survey_id: str) -> SurveyStatus | None:
        return self._session.get(SurveyStatus, survey_id)

    def save_status(self, survey_id: str, *, opens_at: datetime | None,
                    closes_at: datetime | None, archived_at: datetime | None,
                    now: datetime, user_id: int | None) -> SurveyStatus:
        """Set a survey's opening and closing moments and whether it is archived."""
        row = self._session.get(SurveyStatus, survey_id)
        if row is None:
            row = SurveyStatus(survey_id=survey_id, changed_at=now)
            self._session.add(row)
        row.opens_at, row.closes_at, row.archived_at = opens_at, closes_at, archived_at
        row.changed_at, row.changed_by = now, user_id
        self._session.flush()
        return row


class ResponseRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def start(
        self,
        pid: str,
        survey_id: str,
        survey_version: int,
        channel: str,
        language: str,
        now: datetime,
        is_test: bool = False,
    ) -> int:
        table = table_of(Response)
        statement = prepared(
            self._session, "responses.start",
            lambda _dialect: core_insert(table).returning(table.c.id),
        )  # fmt: skip
        values = {
            "participant_id": pid,
            "survey_id": survey_id,
            "survey_version": survey_version,
            "channel": channel,
            "language": language,
            "status": "started",
            "started_at": now,
            "updated_at": now,
            "is_test": is_test,
        }
        response_id: int = execute(self._session, statement, values).scalar_one()
        return response_id

    def get(self, response_id: int) -> Response | None:
        return self._session.get(Response, response_id)

    def set_status(self, response_id: int, status: str, now: datetime) -> None:
        check_one_of(status, RESPONSE_STATUSES, "response status")
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "consented":
            values["consented_at"] = now
        elif status == "completed":
            values["completed_at"] = now
        self._update(response_id, values)

    def stop(self, response_id: int, now: datetime) -> bool:
        """STOP part-way: a response still going ("started" or "consented") becomes
        "stopped". Its answers stay, and so does `consented_at`, so the funnel still
        shows where they stopped. A finished or declined response is left as it is.
        True if it was still going. (Not on the hot path: only after STOP.)"""
        result = self._session.execute(
            update(Response)
            .where(Response.id == response_id, Response.status.in_(("started", "consented")))
            .values(status="stopped", updated_at=now)
        )
        return rowcount(result) == 1

    def resume(self, response_id: int, now: datetime) -> bool:
        """START after STOP: a stopped response is going again, "consented" if they had
        agreed, else "started". True if it had been stopped."""
        going = case((Response.consented_at.is_(None), "started"), else_="consented")
        result = self._session.execute(
            update(Response)
            .where(Response.id == response_id, Response.status == "stopped")
            .values(status=going, updated_at=now),
            execution_options={"synchronize_session": "fetch"},
        )
        return rowcount(result) == 1

    def set_quote_ok(self, response_id: int, allowed: bool) -> None:
        self._update(response_id, {"quote_ok": allowed})

    def set_share_back(self, response_id: int, wanted: bool) -> None:
        self._update(response_id, {"share_back": wanted})

    def _update(self, response_id: int, values: dict[str, Any]) -> None:
        """UPDATE these columns of one response (a statement built once per column set)."""
        table = table_of(Response)
        columns = tuple(sorted(values))
        statement = prepared(
            self._session, "responses.update." + ",".join(columns),
            lambda _dialect: update(table).where(table.c.id == bindparam("b_id"))
            .values({column: bindparam(f"b_{column}") for column in columns}),
        )  # fmt: skip
        params = {f"b_{column}": value for column, value in values.items()}
        execute(self._session, statement, {"b_id": response_id, **params})
        refresh_copy(self._session, Response, response_id, values)

    def count_completed(self, survey_id: str) -> int:
        count = self._session.scalar(
            select(func.count())
            .select_from(Response)
            .where(Response.survey_id == survey_id, Response.status == "completed")
        )
        return count or 0

    def counts_by_survey(self) -> dict[str, int]:
        """Completed responses per survey id (surveys with none are absent)."""
        rows = self._session.execute(
            select(Response.survey_id, func.count())
            .where(Response.status == "completed")
            .group_by(Response.survey_id)
        )
        return {survey_id: count for survey_id, count in rows}


class AnswerRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(
        self,
        response_id: int,
        pid: str,
        survey_id: str,
        question_id: str,
        kind: str,
        value: Any,
        label: str | None,
        survey_version: int,
        now: datetime,
        *,
        may_have_other: bool = True,
        free: bool | None = None,
    ) -> None:
        """Store an answer, replacing an earlier one to the same question (after BACK).

        A value and a skip for one question exclude each other, so recording one removes
        the other; media answers are kept alongside either. A caller that knows the
        response holds no answer of the other kind (no skip at all, say) passes
        `may_have_other=False` and saves the DELETE that would find nothing.
        """
        check_one_of(kind, ANSWER_KINDS, "answer kind")
        if kind in ("value", "skipped") and may_have_other:
            other = "skipped" if kind == "value" else "value"
            params = {"b_response": response_id, "b_question": question_id, "b_kind": other}
            if holds(self._session, Answer):  # the ORM removes their copy of the row too
                self._session.execute(_DELETE_OTHER_KIND, params)
            else:
                execute(self._session, _DELETE_OTHER_KIND, params)
        if free is None:  # written words have no label (an option or a number has one)
            free = kind == "value" and isinstance(value, str) and not label
        statement = prepared(self._session, "answers.record", _answer_upsert)
        changed = {"value": value, "label": label, "survey_version": survey_version,
                   "answered_at": now, "free": free}
        answer_id = execute(self._session, statement, {
            "response_id": response_id, "participant_id": pid, "survey_id": survey_id,
            "question_id": question_id, "kind": kind, **changed,
        }).scalar_one()  # fmt: skip
        # As the database hands it back: JSON has no tuples.
        changed["value"] = json.loads(json.dumps(value))
        refresh_copy(self._session, Answer, answer_id, changed)

    def for_response(self, response_id: int) -> list[Answer]:
        """The response's answers in the order questions were first answered."""
        return list(
            self._session.scalars(
                select(Answer)
                .where(Answer.response_id == response_id)
                .order_by(Answer.id)
                .execution_options(populate_existing=True)
            )
        )


class ConsentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(
        self,
        pid: str,
        survey_id: str,
        consent_version: int,
        decision: str,
        channel: str,
        now: datetime,
    ) -> None:
        check_one_of(decision, CONSENT_DECISIONS, "consent decision")
        statement = prepared(
            self._session, "consents.record",
            lambda _dialect: core_insert(table_of(Consent)),
        )  # fmt: skip
        execute(self._session, statement, {
            "participant_id": pid, "survey_id": survey_id, "consent_version": consent_version,
            "decision": decision, "channel": channel, "decided_at": now,
        })  # fmt: skip


_DELETE_OTHER_KIND = plannable(delete(Answer).where(
    Answer.response_id == bindparam("b_response"),
    Answer.question_id == bindparam("b_question"),
    Answer.kind == bindparam("b_kind"),
))


def _answer_upsert(dialect: str) -> Any:
    """INSERT ... SELECT the response's facets (channel, language, start, test), which the
    answer carries for the tallies' triggers (migration 1770), ON CONFLICT replace."""
    table = table_of(Answer)
    given = ["response_id", "participant_id", "survey_id", "question_id", "kind", "value",
             "label", "survey_version", "answered_at", "free"]
    facets = ["channel", "language", "started_at", "is_test"]
    # One scalar subquery per facet, not a join: an answer to no response still makes a
    # row, and the foreign key refuses it (IntegrityError) as before.
    responses = table_of(Response)
    row = select(
        *[bindparam(name, type_=table.c[name].type) for name in given],
        *[select(responses.c[name]).where(responses.c.id == bindparam("response_id"))
          .scalar_subquery() for name in facets],
    ).where(true())
    stmt = dialect_insert(dialect, Answer).from_select([*given, *facets], row)
    return stmt.on_conflict_do_update(
        index_elements=["response_id", "question_id", "kind"],
        set_={
            "value": stmt.excluded.value,
            "label": stmt.excluded.label,
            "survey_version": stmt.excluded.survey_version,
            "answered_at": stmt.excluded.answered_at,
            "free": stmt.excluded.free,
        },
    ).returning(table.c.id)
