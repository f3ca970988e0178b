"""Step-level retries: an outage (a forge or the cluster unreachable, a 5xx or 429 that
outlived the call's own retries) does not end a run. The step is run again, whole (steps are
idempotent), with capped exponential backoff and jitter, for up to `SLIPWAY_RETRY_WINDOW`;
each wait is a progress event, so whoever watches sees why the bar stopped. Anything that is
not an outage (401, 403, 404, 422, a conflict) is raised at once."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Final, TypeVar

import structlog

from slipway import metrics, store
from slipway.bootstrap import App
from slipway.domain.errors import SlipwayError
from slipway.domain.model import DELETE_STEPS, ROTATE_STEPS, EventLevel, Step
from slipway.domain.text import Text, join, t
from slipway.pipeline.progress import report

T = TypeVar("T")
FIRST_DELAY: Final = 1.0
MAX_DELAY: Final = 30.0
log = structlog.get_logger(__name__)


def backoff(attempt: int) -> float:
    """Seconds before attempt `attempt + 1`: doubling from FIRST_DELAY, capped at MAX_DELAY,
    with up to half of it taken off at random so retries of many runs spread out."""
    ceiling = min(MAX_DELAY, FIRST_DELAY * 2 ** (attempt - 1))
    return float(ceiling * random.uniform(0.5, 1.0))


def with_retries(
    app: App,
    project_id: int,
    step: Step,
    call: Callable[[], T],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()` until it succeeds, fails for good, or outages outlast the window."""
    window = app.settings.retry_window
    started = time.monotonic()
    attempt = 1
    while True:
        try:
            return call()
        except SlipwayError as exc:
            if not exc.transient:
                raise
            delay = backoff(attempt)
            spent = time.monotonic() - started
            if spent + delay > window:
                if attempt > 1:
                    exc.hint = _after_window(app, project_id, step, exc.hint, spent)
                raise
            attempt += 1
            where = exc.system or "a service"
            log.warning("step retrying", step=step.value, system=where, attempt=attempt)
            metrics.count_retry(step.value, exc.system)
            report(
                app,
                project_id,
                step,
                0.0,
                t(
                    "{where} unreachable ({message}); retrying in {delay:.0f} s, attempt {attempt}",
                    where=where,
                    message=exc.message,
                    delay=delay,
                    attempt=attempt,
                ),
                level=EventLevel.WARNING,
            )
            sleep(delay)


def _after_window(app: App, project_id: int, step: Step, hint: str | None, spent: float) -> Text:
    with app.session() as session:
        project = store.get_project_by_id(session, project_id=project_id)
    name = project.name if project else "NAME"
    again = (
        "delete"
        if step in DELETE_STEPS
        else "rotate-credentials"
        if step in ROTATE_STEPS
        else "repair"
    )
    tried = t("Slipway retried for {spent:.0f} s (SLIPWAY_RETRY_WINDOW)", spent=spent)
    fix = t(
        "once it answers, `slipway project {again} {name}` carries on from this step",
        again=again,
        name=name,
    )
    return join("; ", [p for p in (hint, tried, fix) if p])
