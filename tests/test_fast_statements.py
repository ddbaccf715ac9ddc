"""The hot path's statements run on the driver's cursor (storage/repositories/_fast.py).

A planned statement must behave exactly as `Connection.execute` would: the same values
stored, the same values read back (aware UTC datetimes, decoded JSON), the same
SQLAlchemy exceptions without their parameters, and a lost PostgreSQL connection
invalidated rather than handed to the next request. Each test runs the real repositories
on SQLite and PostgreSQL, once through the plan and once with a statement listener
attached, which makes `_fast.plan_for` step aside, and compares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, event, insert, text
from sqlalchemy.exc import IntegrityError, OperationalError

from storage.repositories import _fast
from storage.repositories._sql import execute, prepared
from storage.uow import UnitOfWork

NOW = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
PID = "pabcdefghijklmnopqrstuvwx"
UowFactory = Callable[[], UnitOfWork]


@contextmanager
def ordinary_execution(engine: Engine) -> Iterator[list[str]]:
    """Every statement through SQLAlchemy's own execution (a listener is attached)."""
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def conversation_story(uow: UnitOfWork) -> dict[str, Any]:
    """What a first message and an answer store and read back, through the repositories."""
    opted_out, arrival = uow.participants.arrive_and_read(PID, "sms", NOW)
    if arrival is None:
        uow.inbound.claim("sms", "SM1", PID, NOW)
        arrival = uow.conversations.arrival(PID, NOW)
    uow.vault.refresh(PID, "sms", "+447700900123", NOW, arrival.vault)
    response = uow.responses.start(PID, "fft", 3, "sms", "en", NOW)
    uow.answers.record(response, PID, "fft", "why", "value", "Kind but rushed £ ŵ", None, 3,
                       NOW, may_have_other=True)
    uow.responses.set_status(response, "consented", NOW + timedelta(seconds=1))
    state = {"survey": "fft", "stage": "asking", "asked": ["overall", "why"], "n": 2}
    uow.conversations.save(PID, state, response, NOW, NOW + timedelta(hours=24))
    again = uow.conversations.arrival(PID, NOW + timedelta(minutes=1))
    outbox = uow.outbox.add(PID, "sms", {"text": "Thank you", "choices": []}, NOW)
    claimed = uow.inbound.claim("sms", "SM2", PID, NOW)
    duplicate = uow.inbound.claim("sms", "SM2", PID, NOW)
    assert again.conversation is not None and again.conversation.response_id == response
    # Ids come from sequences, which a rollback does not rewind on PostgreSQL.
    again = replace(again, conversation=replace(again.conversation, response_id=None))
    return {"opted_out": opted_out, "arrival": again, "outbox": outbox > 0,
            "claimed": claimed is not None, "duplicate": duplicate}


def test_planned_statements_store_and_read_what_sqlalchemy_does(
    uow_factory: UowFactory, engine: Engine
) -> None:
    with uow_factory() as uow:  # rolled back on leaving
        fast = conversation_story(uow)
    with ordinary_execution(engine) as seen, uow_factory() as uow:
        ordinary = conversation_story(uow)
    assert seen  # the listener really was in the way
    assert fast == ordinary
    arrival = fast["arrival"]
    assert arrival.conversation.state["asked"] == ["overall", "why"]
    assert arrival.vault.last_seen_at == NOW and arrival.vault.last_seen_at.tzinfo is not None
    assert fast["claimed"] is True and fast["duplicate"] is None


def test_the_plan_is_used_when_nothing_listens(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.participants.arrive_and_read(PID, "sms", NOW)
        statement = prepared(uow.session, "conversations.save", _conversation_upsert())
        connection = uow.session.connection()
        keys = {"participant_id", "state", "response_id", "updated_at", "next_reminder_at"}
        uow.conversations.save(PID, {"a": 1}, None, NOW)
        plan = _fast.plan_for(statement, connection, dict.fromkeys(keys))
        assert plan is not None and "conversations" in plan.sql


def _conversation_upsert() -> Callable[[str], Any]:
    from storage.repositories.people import _conversation_upsert

    return _conversation_upsert


def test_a_constraint_error_is_sqlalchemys_and_does_not_quote_the_row(
    uow_factory: UowFactory,
) -> None:
    with uow_factory() as uow:
        uow.participants.arrive_and_read(PID, "sms", NOW)
        secret = "Pauline hits me, call her on 07700 900456"
        with pytest.raises(IntegrityError) as raised:  # no response 999999: foreign key
            uow.answers.record(999_999, PID, "fft", "why", "value", secret, None, 1, NOW,
                               may_have_other=False)
        message = str(raised.value)
        assert "Pauline" not in message and "900456" not in message and PID not in message


def test_statements_with_python_side_defaults_are_not_planned(engine: Engine) -> None:
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True),
                  Column("name", String(10), default="x"))
    statement = _fast.plannable(insert(table))
    with engine.connect() as connection:
        assert _fast.plan_for(statement, connection, {"id": 1}) is None
        assert _fast.plan_for(statement, connection, {"id": 1, "name": "y"}) is not None


def test_a_lost_postgresql_connection_is_invalidated(
    uow_factory: UowFactory, engine: Engine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to lose")
    with uow_factory() as uow:
        uow.participants.arrive(PID, "sms", NOW)
        connection = uow.session.connection()
        backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            admin.commit()
        with pytest.raises(OperationalError):
            uow.conversations.arrival(PID, NOW)
        assert connection.invalidated
    with uow_factory() as uow:  # the pool hands out a working connection again
        uow.participants.arrive(PID, "sms", NOW)
        assert uow.conversations.arrival(PID, NOW).conversation is None


def test_execute_returns_rows_with_named_columns(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.participants.arrive(PID, "sms", NOW)
        from storage.repositories.people import _PEEK

        uow.conversations.save(PID, {"stage": "asking"}, None, NOW)
        row = execute(uow.session, _PEEK, {"b_pid": PID}).one()
        assert row.state == {"stage": "asking"} and row.response_id is None


def test_only_the_same_datetime_reuses_its_converted_value() -> None:
    calls: list[Any] = []

    def convert(value: Any) -> str:
        calls.append(value)
        return repr(value)

    process = _fast._remembering(convert)
    later = NOW + timedelta(seconds=1)
    assert [process(NOW), process(NOW), process(later), process(NOW)] == \
        [repr(NOW), repr(NOW), repr(later), repr(NOW)]
    assert calls == [NOW, later, NOW]  # the repeat of one object was not converted again
    state = {"stage": "asking"}
    assert process(state) == "{'stage': 'asking'}"
    state["stage"] = "done"  # a dict can change between statements: never remembered
    assert process(state) == "{'stage': 'done'}"
