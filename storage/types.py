"""Column types that behave the same on SQLite and PostgreSQL.

SQLite has no time zone support: it hands back naive datetimes, which cannot be compared
with the aware UTC datetimes the rest of the application uses. `UTCDateTime` stores UTC
and always returns aware UTC, so code never has to know which database it runs on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

#: The largest id an Integer column holds on both databases (PostgreSQL's integer). A
#: bigger number from a URL or a form names nothing, and would overflow SQLite's driver.
MAX_ID = 2**31 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that accepts only aware datetimes and returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive datetime is ambiguous (local? UTC?); refusing it catches a forgotten
            # time zone at the first write instead of as a subtle off-by-an-hour later.
            raise ValueError("naive datetime given to the database; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite's DATETIME storage format has no offset; store UTC wall-clock time.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_type(*, none_as_null: bool = False) -> TypeEngine[Any]:
    """Portable JSON: JSONB on PostgreSQL (comparable, indexable, compact), JSON elsewhere.

    `none_as_null=True` stores Python None as SQL NULL rather than the JSON literal null,
    which is what a nullable column means.
    """
    return JSON(none_as_null=none_as_null).with_variant(
        JSONB(none_as_null=none_as_null), "postgresql"
    )
