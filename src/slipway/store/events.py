"""Progress events: an append-only log per project, numbered 1, 2, 3… without gaps, whose
percent never goes backwards. The CLI bar, the web page and the SSE stream all replay it."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from slipway.domain.errors import Conflict, InvalidInput, NotFound
from slipway.domain.model import EventLevel, Step
from slipway.domain.text import Text, t, to_json
from slipway.retry import Retryable, retry_sync
from slipway.store._checks import RACE_RETRY, as_enum, violation
from slipway.store._types import UTCDateTime, utcnow
from slipway.store.models import FINAL_STATES, Project, ProjectEvent

_E = ProjectEvent


def append_event(
    session: Session,
    *,
    project_id: int,
    step: Step | str,
    percent: int,
    level: EventLevel | str = EventLevel.INFO,
    message: str,
    final: str | None = None,
) -> ProjectEvent:
    """Appends the project's next event and returns it.

    The sequence is the previous one plus one; the run is the project's current run, and a
    percent below the highest recorded so far in that run is raised to it. Concurrent
    appenders never share a sequence: one that loses the race retries with the next number.
    """
    if not 0 <= percent <= 100:
        raise InvalidInput("percent", t("{percent} is not between 0 and 100", percent=percent))
    if final is not None and final not in FINAL_STATES:
        raise InvalidInput(
            "final",
            t(
                "'{final}' is not one of: {final_states}",
                final=final,
                final_states=", ".join(FINAL_STATES),
            ),
        )
    checked_level = as_enum(EventLevel, level, field="level")
    statement = _insert_next(
        project_id, str(step), percent, checked_level, message, final
    ).returning(_E.id)

    def attempt() -> int:
        try:
            with session.begin_nested():
                return int(session.execute(statement).scalar_one())
        except IntegrityError as exc:
            if violation(exc) == "foreign_key":
                raise NotFound(
                    t("no project with id {project_id}", project_id=project_id), system="database"
                ) from None
            if violation(exc) != "unique":
                raise
            raise Retryable(
                Conflict(
                    t("could not number a progress event: too many concurrent writers"),
                    system="database",
                    hint=t("try again"),
                )
            ) from None

    return session.get_one(ProjectEvent, retry_sync(attempt, policy=RACE_RETRY))


def _insert_next(
    project_id: int,
    step: str,
    percent: int,
    level: EventLevel,
    message: str,
    final: str | None,
) -> sa.Insert:
    template, params = message_template(message)
    # One statement reads the run, the last sequence and the run's top percent and inserts
    # after them, so on SQLite (one writer at a time) it cannot collide, and on PostgreSQL a
    # collision is a unique error. No project row: no run, no insert, a foreign-key error.
    run = sa.select(Project.run).where(Project.id == project_id).scalar_subquery()
    last_sequence = sa.func.coalesce(sa.func.max(_E.sequence), 0)
    in_run = sa.case((_E.run == run, _E.percent), else_=0)
    top_percent = sa.func.coalesce(sa.func.max(in_run), 0)
    wanted = sa.literal(percent, sa.Integer())
    source = sa.select(
        sa.literal(project_id, sa.Integer()),
        sa.func.coalesce(run, 0),
        last_sequence + 1,
        sa.case((top_percent > wanted, top_percent), else_=wanted),
        sa.literal(step, sa.String()),
        sa.literal(level.value, sa.String()),
        sa.literal(str(message), sa.Text()),
        sa.literal(template, sa.Text()),
        sa.literal(params, sa.JSON()),
        sa.literal(final, sa.String()),
        sa.literal(utcnow(), UTCDateTime()),
    ).where(_E.project_id == project_id)
    columns = [
        *("project_id", "run", "sequence", "percent", "step", "level", "message"),
        *("message_template", "message_params", "final"),
    ]
    return sa.insert(ProjectEvent).from_select([*columns, "created_at"], source)


def message_template(message: str | None) -> tuple[str | None, dict[str, object] | None]:
    """A Text's template and its parameters as JSON (nested Texts keep theirs); a plain
    message has none and is shown as it is."""
    if not isinstance(message, Text):
        return None, None
    return message.template, {key: to_json(value) for key, value in message.params.items()}


def events_after(
    session: Session, *, project_id: int, after_sequence: int = 0, limit: int | None = None
) -> list[ProjectEvent]:
    """The events with a sequence above `after_sequence`, oldest first: what a reconnecting
    SSE client (Last-Event-ID) or `project events --follow` has not seen yet."""
    query = (
        sa.select(ProjectEvent)
        .where(ProjectEvent.project_id == project_id, ProjectEvent.sequence > after_sequence)
        .order_by(ProjectEvent.sequence)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def newest_sequences(session: Session, project_ids: Collection[int]) -> dict[int, int]:
    """Each of these projects' newest event sequence (0 before its first event), in one query
    for any number of projects; a project that is gone is absent. Live followers are woken by
    this rather than each polling its own project."""
    if not project_ids:
        return {}
    rows = session.execute(
        sa.select(Project.id, sa.func.coalesce(sa.func.max(_E.sequence), 0))
        .outerjoin(_E, _E.project_id == Project.id)
        .where(Project.id.in_(sorted(set(project_ids))))
        .group_by(Project.id)
    )
    return {project_id: int(sequence) for project_id, sequence in rows}


def latest_event(session: Session, *, project_id: int) -> ProjectEvent | None:
    """The newest event: its percent is the progress of its run, its `final` whether that run
    ended (compare its `run` with the project's: a run just started has no event yet)."""
    return session.scalars(
        sa.select(ProjectEvent)
        .where(ProjectEvent.project_id == project_id)
        .order_by(ProjectEvent.sequence.desc())
        .limit(1)
    ).first()
