"""Whether this process can serve: its database answers and holds the schema this version of
Slipway expects (a rolling upgrade's new pods wait until the migration has run)."""

from __future__ import annotations

from dataclasses import dataclass

from slipway import store
from slipway.bootstrap import App


@dataclass(frozen=True)
class Readiness:
    database: str  # "ok", or why it cannot be reached (the error's type: never a URL)
    schema_revision: str | None
    expected_revision: str

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.schema_revision == self.expected_revision


def readiness(app: App) -> Readiness:
    expected = store.head_revision()
    try:
        current = store.current_revision(app.engine)
    except Exception as exc:  # any driver error means "not ready", never a 500
        return Readiness(f"unreachable ({type(exc).__name__})", None, expected)
    return Readiness("ok", current, expected)
