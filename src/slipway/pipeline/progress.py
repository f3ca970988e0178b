"""Persisted progress: every step reports here, and the CLI bar, the SSE stream and the web
page all read the same rows back. Percent never goes backwards (the store enforces it)."""

from __future__ import annotations

from slipway import store
from slipway.bootstrap import App
from slipway.domain.model import EventLevel, Step, step_progress


def report(
    app: App,
    project_id: int,
    step: Step,
    fraction: float,
    message: str,
    *,
    level: EventLevel = EventLevel.INFO,
    final: str | None = None,
) -> None:
    """Records that `step` is `fraction` of the way done; `final` marks the last event."""
    with app.session() as session:
        store.append_event(
            session,
            project_id=project_id,
            step=step,
            percent=step_progress(step, fraction),
            level=level,
            message=message,
            final=final,
        )
