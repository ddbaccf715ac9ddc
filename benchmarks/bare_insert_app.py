"""The yardstick for the webhook benchmark: a bare Flask endpoint that does one INSERT.

A webhook's requests per second mean little on their own: they depend on the machine, the
web server, the number of workers and the database. So `webhook_load.py` runs this app in
the same way (gunicorn, same worker count, same port range) against the same database,
and reports the WithUs webhook as a ratio to it. The app does the least any webhook must
do: parse the form, open a transaction, INSERT one row and commit. It uses the project's
own `make_engine`, so SQLite gets the same WAL, synchronous=NORMAL and BEGIN IMMEDIATE
settings as WithUs and the comparison is between code paths, not database tunings.

Run by `webhook_load.py` as `gunicorn --chdir benchmarks 'bare_insert_app:create_app()'`
with BARE_DATABASE_URL set; `ensure_table` must have created the table first, so two
workers starting together never race to create it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from flask import Flask, Response, request
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, insert, select

from storage.db import make_engine

URL_VARIABLE = "BARE_DATABASE_URL"
#: The same path as the Twilio SMS webhook, so the load generator is identical for both.
PATH = "/webhooks/twilio/sms"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

metadata = MetaData()
bare_rows = Table(
    "bench_bare_insert",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("message_sid", String(64), nullable=False),
    Column("body", String(2000), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)


def ensure_table(url: str) -> None:
    """Create the (empty) table in the database at `url`, replacing an earlier one."""
    engine = make_engine(url)
    try:
        metadata.drop_all(engine)
        metadata.create_all(engine)
    finally:
        engine.dispose()


def count_rows(url: str) -> int:
    """How many rows the endpoint stored: the benchmark checks none was lost."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(bare_rows)) or 0)
    finally:
        engine.dispose()


def create_app(url: str | None = None) -> Flask:
    """The app; each gunicorn worker calls this after the fork, so each has its own pool."""
    engine = make_engine(url or os.environ[URL_VARIABLE])
    app = Flask(__name__)

    @app.post(PATH)
    def insert_one() -> Response:
        form = request.form
        with engine.begin() as connection:
            connection.execute(
                insert(bare_rows).values(
                    message_sid=form.get("MessageSid", "")[:64],
                    body=form.get("Body", "")[:2000],
                    received_at=datetime.now(UTC),
                )
            )
        return Response(EMPTY_TWIML, status=200, mimetype="text/xml")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok", mimetype="text/plain")

    return app
