"""Live followers of progress events share one database read per interval (the event bell):
many idle followers cost the database what one does, a new event reaches exactly its own
project's followers, and a project deleted under its followers ends their streams."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from slipway import service, store
from slipway.bootstrap import App
from slipway.domain.errors import NotFound
from slipway.domain.model import ForgeKind, ProgressEvent, Step

FOLLOWERS = 30


@pytest.fixture
def statements(app: App) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs while the test holds this list."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    sa.event.listen(app.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(app.engine, "before_cursor_execute", record)


def _record_projects(app: App, prefix: str) -> list[str]:
    names = [f"{prefix}{i}" for i in range(FOLLOWERS)]
    with app.session() as session:
        for name in names:
            project = store.create_project(
                session,
                name=name,
                slug=name,
                template="static-site",
                environments=["development"],
                forge=ForgeKind.GITHUB,
            )
            session.flush()
            store.append_event(
                session, project_id=project.id, step=Step.CREATE_PROJECT, percent=5, message="x"
            )
    return names


async def _first_new_event(app: App, name: str) -> ProgressEvent:
    async for event in service.follow_events(app, name, after=1):
        return event
    raise AssertionError(f"{name}'s stream ended without an event")


def test_idle_followers_share_one_read_and_an_event_wakes_only_its_project(
    app: App, statements: list[str]
) -> None:
    names = _record_projects(app, "bell-")

    async def scenario() -> None:
        followers = {name: asyncio.create_task(_first_new_event(app, name)) for name in names}
        await asyncio.sleep(0.5)  # every follower has read once and waits on the bell
        statements.clear()
        await asyncio.sleep(1.0)  # about five rings
        idle_reads = [s for s in statements if "project_events" in s]
        # Each follower polling its own project would be ~5 reads each, 150 in all.
        assert 0 < len(idle_reads) < FOLLOWERS, idle_reads
        assert not any(task.done() for task in followers.values())

        with app.session() as session:
            project = store.get_project(session, name=names[7])
            assert project is not None
            store.append_event(
                session, project_id=project.id, step=Step.CREATE_PROJECT, percent=9, message="y"
            )
        event = await asyncio.wait_for(followers[names[7]], timeout=30)
        assert (event.sequence, event.percent) == (2, 9)
        await asyncio.sleep(0.5)
        assert [n for n, task in followers.items() if task.done()] == [names[7]]

        with app.session() as session:
            assert store.delete_project(session, name=names[3])
        with pytest.raises(NotFound):
            await asyncio.wait_for(followers[names[3]], timeout=30)

        for task in followers.values():
            task.cancel()
        await asyncio.gather(*followers.values(), return_exceptions=True)

    asyncio.run(scenario())
