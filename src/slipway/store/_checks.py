"""Input checks and database-error classification shared by the query modules."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, TypeVar

from sqlalchemy.exc import IntegrityError

from slipway.domain.errors import InvalidInput
from slipway.domain.text import t
from slipway.retry import RetryPolicy

E = TypeVar("E", bound=StrEnum)

# Losing a race on a unique key is retried at once, a few times: the winner has already
# committed by the time we see the violation.
RACE_RETRY = RetryPolicy(attempts=25, base_delay=0.005, max_delay=0.1)

Violation = Literal["unique", "foreign_key", "other"]
# PostgreSQL SQLSTATEs (psycopg `sqlstate`) and SQLite extended codes (`sqlite_errorname`).
_CODES: dict[str, Violation] = {
    "23505": "unique",
    "23503": "foreign_key",
    "SQLITE_CONSTRAINT_UNIQUE": "unique",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "unique",
    "SQLITE_CONSTRAINT_FOREIGNKEY": "foreign_key",
}


def as_enum(enum_class: type[E], value: E | str, *, field: str) -> E:
    """The enum member for `value`, or InvalidInput listing the allowed values."""
    try:
        return enum_class(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_class)
        raise InvalidInput(
            field, t("'{value}' is not one of: {allowed}", value=value, allowed=allowed)
        ) from None


def violation(exc: IntegrityError) -> Violation:
    """Which kind of constraint an IntegrityError broke, from the driver's code."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "sqlite_errorname", None)
    return _CODES.get(str(code), "other")
