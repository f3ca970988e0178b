"""Listing many projects costs a fixed number of queries; executor leases hand a dead
worker's runs to exactly one survivor."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from slipway.domain.model import ProjectStatus, ResourceKind, ResourceStatus
from slipway.store import (
    ExecutorLease,
    Project,
    SessionFactory,
    append_event,
    leases,
    project_overviews,
    record_repository,
    set_project_status,
    unit_of_work,
    upsert_environment,
    upsert_gitops_resource,
)

NewProject = Callable[..., Project]


@contextmanager
def counted_queries(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def _project_with_rows(factory: SessionFactory, new_project: NewProject, name: str) -> None:
    with unit_of_work(factory) as session:
        project = new_project(session, name, slug=name, environments=["development", "production"])
        for position, env in enumerate(("development", "production")):
            row = upsert_environment(
                session,
                project_id=project.id,
                name=env,
                namespace=f"project-{name}-{env}",
                position=position,
            )
            upsert_gitops_resource(
                session,
                project_id=project.id,
                environment_id=row.id,
                type=ResourceKind.NAMESPACE,
                name=f"project-{name}-{env}",
                namespace=None,
                status=ResourceStatus.READY,
            )
        record_repository(
            session,
            project_id=project.id,
            provider="github",
            owner="acme",
            name=name,
            clone_url=f"https://example.test/acme/{name}.git",
            web_url=f"https://example.test/acme/{name}",
            default_branch="main",
        )
        for percent in (0, 40, 70):
            append_event(session, project_id=project.id, step="push", percent=percent, message="m")


def test_listing_costs_the_same_queries_for_one_project_or_many(
    engine: Engine, factory: SessionFactory, new_project: NewProject
) -> None:
    _project_with_rows(factory, new_project, "one")
    with counted_queries(engine) as few, unit_of_work(factory) as session:
        assert len(project_overviews(session)) == 1
    for index in range(6):
        _project_with_rows(factory, new_project, f"more-{index}")
    with counted_queries(engine) as many, unit_of_work(factory) as session:
        overviews = project_overviews(session)
    assert len(overviews) == 7
    assert len(many) == len(few) <= 6, many


def test_overviews_carry_each_projects_own_rows(
    factory: SessionFactory, new_project: NewProject
) -> None:
    for name in ("alpha", "beta"):
        _project_with_rows(factory, new_project, name)
    with unit_of_work(factory) as session:
        alpha = session.scalars(sa.select(Project).where(Project.name == "alpha")).one()
        set_project_status(session, project_id=alpha.id, status=ProjectStatus.ACTIVE)
    with unit_of_work(factory) as session:
        rows = {r.project.name: r for r in project_overviews(session)}
        active = project_overviews(session, status=ProjectStatus.ACTIVE)
        named = project_overviews(session, names=["beta"])
    assert [r.project.name for r in active] == ["alpha"]
    assert [r.project.name for r in named] == ["beta"]
    beta = rows["beta"]
    assert [e.name for e in beta.environments] == ["development", "production"]
    assert {r.name for r in beta.resources} == {
        "project-beta-development",
        "project-beta-production",
    }
    assert beta.repository is not None and beta.repository.name == "beta"
    assert beta.latest_event is not None and beta.latest_event.sequence == 3


def _expire(factory: SessionFactory, executor_id: str) -> None:
    with unit_of_work(factory) as session:
        lease = session.get_one(ExecutorLease, executor_id)
        lease.expires_at = datetime.now(UTC) - timedelta(seconds=1)


def test_a_live_lease_cannot_be_claimed(factory: SessionFactory) -> None:
    with unit_of_work(factory) as session:
        leases.acquire(session, "alive", ttl=30)
    with unit_of_work(factory) as session:
        assert leases.claim(session, "alive", ttl=30) is False
        assert leases.live_executors(session) == {"alive"}


def test_a_dead_executor_is_claimed_by_exactly_one_of_many_survivors(
    factory: SessionFactory,
) -> None:
    with unit_of_work(factory) as session:
        leases.acquire(session, "dead", ttl=30)
    _expire(factory, "dead")
    start = threading.Barrier(6)
    won: list[bool] = []

    def survivor() -> None:
        start.wait()
        with unit_of_work(factory) as session:
            won.append(leases.claim(session, "dead", ttl=30))

    threads = [threading.Thread(target=survivor) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(won) == [False] * 5 + [True]


def test_a_claim_lapses_when_the_claimer_dies_too(factory: SessionFactory) -> None:
    with unit_of_work(factory) as session:
        assert leases.claim(session, "never-leased", ttl=30) is True
    with unit_of_work(factory) as session:
        assert leases.claim(session, "never-leased", ttl=30) is False  # held by the claimer
    _expire(factory, "never-leased")  # the claimer died before finishing the takeover
    with unit_of_work(factory) as session:
        assert leases.claim(session, "never-leased", ttl=30) is True


def test_a_released_lease_is_gone_and_a_handed_over_one_is_claimable(
    factory: SessionFactory,
) -> None:
    with unit_of_work(factory) as session:
        leases.acquire(session, "idle", ttl=30)
        leases.acquire(session, "busy", ttl=30)
    with unit_of_work(factory) as session:
        leases.release(session, "idle", hand_over=False)
        leases.release(session, "busy", hand_over=True)
    with unit_of_work(factory) as session:
        assert session.get(ExecutorLease, "idle") is None
        assert leases.live_executors(session) == set()
        assert leases.claim(session, "busy", ttl=30) is True
