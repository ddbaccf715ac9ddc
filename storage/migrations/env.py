"""Alembic environment for WithUs.

Normally run through `storage.db.upgrade(url)`, which passes an open connection in
`config.attributes`. For developers, the Alembic CLI also works:

    alembic -c storage/alembic.ini -x url=sqlite:///dev.db revision --autogenerate -m "..."
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection

from storage.db import migration_engine, normalise_url
from storage.models import Base

#: Arbitrary but fixed key for the PostgreSQL advisory lock that serialises upgrades.
MIGRATION_LOCK_KEY = 0x57_69_74_68_55_73  # "WithUs"

config = context.config
if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> URL:
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or use storage.db.upgrade()")
    return normalise_url(url)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two processes upgrading at once (e.g. several web workers starting) would
            # both try to CREATE TABLE; the second waits here, then finds nothing to do.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Enforcement is off while migrating (see storage.db.migration_engine), so check
            # now; raising rolls the whole upgrade back.
            violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if violations:
                tables = sorted({row[0] for row in violations})
                raise RuntimeError(f"migration broke foreign keys in: {', '.join(tables)}")


def run_offline() -> None:
    """Emit SQL instead of running it (`alembic upgrade head --sql`)."""
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = migration_engine(_url())
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
