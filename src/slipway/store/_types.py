"""Column types that behave the same on SQLite and PostgreSQL: aware UTC timestamps and
status strings checked against the domain enums (plain strings in the schema, not DB enums)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

E = TypeVar("E", bound=StrEnum)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Always hands back an aware UTC datetime; refuses naive ones so no local time slips in.

    SQLite has no time zones, so the value is stored there as naive UTC text.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware (UTC) datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StrEnumType(TypeDecorator[E], Generic[E]):
    """A VARCHAR holding a domain `StrEnum` value; reading gives the enum member back."""

    impl = sa.String
    cache_ok = True

    def __init__(self, enum_class: type[E], length: int = 32) -> None:
        super().__init__(length)
        self.enum_class = enum_class
        self.length = length

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return str(self.enum_class(value).value)

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        if value is None:
            return None
        return self.enum_class(value)

    @property
    def python_type(self) -> type[E]:
        return self.enum_class
