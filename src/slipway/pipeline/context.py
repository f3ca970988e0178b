"""The application a worker's steps run against. DBOS calls steps by name in its own threads,
so the wiring is reached through this one process-wide slot, set when a worker starts."""

from __future__ import annotations

from slipway.bootstrap import App

_current: App | None = None


def set_current_app(app: App | None) -> None:
    global _current
    _current = app


def current_app() -> App:
    if _current is None:
        raise RuntimeError("no Slipway worker is running in this process")
    return _current
