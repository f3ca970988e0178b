"""`newest_sequences`: what the event bell reads each interval for every followed project."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from slipway.domain.model import Step
from slipway.store import (
    Project,
    SessionFactory,
    append_event,
    delete_project,
    newest_sequences,
    unit_of_work,
)

NewProject = Callable[..., Project]


def test_each_projects_newest_sequence_in_one_read(
    factory: SessionFactory, new_project: NewProject
) -> None:
    with unit_of_work(factory) as session:
        busy = new_project(session, "busy")
        quiet = new_project(session, "quiet")
        gone = new_project(session, "gone")
        session.flush()
        for percent in (5, 10, 15):
            _event(session, busy.id, percent)
        _event(session, gone.id, 5)
        ids = (busy.id, quiet.id, gone.id)
    with unit_of_work(factory) as session:
        assert delete_project(session, name="gone")
    with unit_of_work(factory) as session:
        assert newest_sequences(session, ids) == {ids[0]: 3, ids[1]: 0}
        assert newest_sequences(session, []) == {}


def _event(session: Session, project_id: int, percent: int) -> None:
    append_event(
        session, project_id=project_id, step=Step.CREATE_PROJECT, percent=percent, message="m"
    )
