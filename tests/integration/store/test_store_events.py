"""Progress events: gapless sequences and a percent that never goes backwards, even with
several writers at once; replay after a sequence for SSE and `--follow`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from slipway.domain.errors import InvalidInput, NotFound
from slipway.domain.model import EventLevel, Step
from slipway.store import (
    Project,
    SessionFactory,
    append_event,
    events_after,
    latest_event,
    start_run,
    unit_of_work,
)

NewProject = Callable[..., Project]


@pytest.fixture
def project_id(factory: SessionFactory, new_project: NewProject) -> int:
    with unit_of_work(factory) as session:
        return new_project(session, "shop").id


def test_events_are_numbered_and_percent_never_goes_backwards(
    factory: SessionFactory, project_id: int
) -> None:
    with unit_of_work(factory) as session:
        for step, percent in [(Step.CREATE_PROJECT, 10), (Step.LOAD_TEMPLATE, 20)]:
            append_event(session, project_id=project_id, step=step, percent=percent, message="ok")
        late = append_event(
            session,
            project_id=project_id,
            step="gitops_resources",
            percent=15,
            level="warning",
            message="a retried step reports a lower percent",
        )
        assert (late.sequence, late.percent, late.level) == (3, 20, EventLevel.WARNING)
    with unit_of_work(factory) as session:
        done = append_event(
            session,
            project_id=project_id,
            step=Step.FINALIZE,
            percent=100,
            message="done",
            final="completed",
        )
    assert (done.sequence, done.percent, done.final) == (4, 100, "completed")
    assert done.created_at.tzinfo is not None


def test_a_new_run_climbs_from_zero_again_and_keeps_the_sequence(
    factory: SessionFactory, project_id: int
) -> None:
    with unit_of_work(factory) as session:
        append_event(
            session,
            project_id=project_id,
            step=Step.FINALIZE,
            percent=100,
            message="done",
            final="degraded",
        )
        run = start_run(session, project_id=project_id, status="initializing", workflow_id="r")
        first = append_event(
            session, project_id=project_id, step=Step.CREATE_PROJECT, percent=10, message="again"
        )
        back = append_event(
            session, project_id=project_id, step=Step.CREATE_PROJECT, percent=5, message="late"
        )

    assert run == 2
    assert (first.run, first.sequence, first.percent) == (2, 2, 10)
    assert (back.run, back.percent) == (2, 10)  # still never backwards within the run


def test_events_after_replays_what_a_client_has_not_seen(
    factory: SessionFactory, project_id: int, new_project: NewProject
) -> None:
    with unit_of_work(factory) as session:
        other = new_project(session, "blog").id
        for i in range(5):
            append_event(session, project_id=project_id, step="s", percent=i * 10, message=f"{i}")
            append_event(session, project_id=other, step="s", percent=0, message="other")

    with unit_of_work(factory) as session:
        assert [e.sequence for e in events_after(session, project_id=project_id)] == [1, 2, 3, 4, 5]
        replay = events_after(session, project_id=project_id, after_sequence=3)
        assert [(e.sequence, e.message) for e in replay] == [(4, "3"), (5, "4")]
        assert events_after(session, project_id=project_id, after_sequence=5) == []
        assert len(events_after(session, project_id=project_id, limit=2)) == 2
        latest = latest_event(session, project_id=project_id)
        assert latest is not None
        domain = latest.to_progress_event("shop")
        assert (domain.project, domain.sequence, domain.percent) == ("shop", 5, 40)


def test_concurrent_writers_get_gapless_sequences_and_monotonic_percent(
    factory: SessionFactory, project_id: int
) -> None:
    writers, per_writer = 4, 25
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        barrier.wait()
        try:
            for i in range(per_writer):
                with unit_of_work(factory) as session:
                    append_event(
                        session,
                        project_id=project_id,
                        step="gitops_resources",
                        percent=(i * 4 + worker) % 101,
                        message=f"worker {worker} event {i}",
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    with unit_of_work(factory) as session:
        events = events_after(session, project_id=project_id)
    assert [e.sequence for e in events] == list(range(1, writers * per_writer + 1))
    percents = [e.percent for e in events]
    assert percents == sorted(percents)
    assert len({e.message for e in events}) == writers * per_writer


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"percent": 101}, "percent"),
        ({"percent": -1}, "percent"),
        ({"level": "loud"}, "level"),
        ({"final": "exploded"}, "final"),
    ],
)
def test_invalid_events_are_refused(
    factory: SessionFactory, project_id: int, changes: dict[str, object], field: str
) -> None:
    arguments: dict[str, Any] = {"step": "s", "percent": 1, "message": "m", **changes}
    with pytest.raises(InvalidInput) as caught, unit_of_work(factory) as session:
        append_event(session, project_id=project_id, **arguments)
    assert caught.value.field == field


def test_an_event_for_a_missing_project_is_not_found(factory: SessionFactory) -> None:
    with pytest.raises(NotFound), unit_of_work(factory) as session:
        append_event(session, project_id=12345, step="s", percent=1, message="m")
