"""Projects, environments and repositories: creation races, idempotent recording, cascades."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from slipway.domain.errors import Conflict, InvalidInput, NotFound
from slipway.domain.model import ForgeKind, ProjectStatus, ResourceKind, ResourceStatus
from slipway.store import (
    Environment,
    Project,
    SessionFactory,
    TokenCipher,
    append_event,
    delete_project,
    get_project,
    get_repository,
    list_environments,
    list_projects,
    namespace_conflict,
    project_parameters,
    record_repository,
    require_project,
    set_project_status,
    set_project_workflow,
    unit_of_work,
    upsert_environment,
    upsert_gitops_resource,
)

NewProject = Callable[..., Project]


def test_a_created_project_reads_back_with_its_spec(
    factory: SessionFactory, new_project: NewProject
) -> None:
    with unit_of_work(factory) as session:
        new_project(session, "shop", parameters={"replicas": 2, "public": False}, private=False)

    with unit_of_work(factory) as session:
        project = require_project(session, name="shop")
        assert project.status is ProjectStatus.PENDING
        assert project.forge is ForgeKind.GITHUB
        assert project.environments == ["development", "staging", "production"]
        assert project.parameters == {"replicas": 2, "public": False}
        assert project.private is False
        assert project.failed_step is None


def test_a_taken_name_is_a_conflict_and_the_session_stays_usable(
    factory: SessionFactory, new_project: NewProject
) -> None:
    with unit_of_work(factory) as session:
        new_project(session, "shop")

    with unit_of_work(factory) as session:
        with pytest.raises(Conflict, match="'shop' already exists") as caught:
            new_project(session, "shop")
        assert caught.value.http_status == 409
        new_project(session, "blog")  # the unit of work goes on after the refusal

    with unit_of_work(factory) as session:
        assert [p.name for p in list_projects(session)] == ["blog", "shop"]


def test_two_concurrent_creators_one_wins_the_other_gets_conflict(
    factory: SessionFactory, new_project: NewProject
) -> None:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create() -> None:
        barrier.wait()
        try:
            with unit_of_work(factory) as session:
                new_project(session, "race")
            outcomes.append("created")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["conflict", "created"]
    with unit_of_work(factory) as session:
        assert [p.name for p in list_projects(session)] == ["race"]


def test_status_changes_are_validated_and_recorded(
    factory: SessionFactory, new_project: NewProject
) -> None:
    with unit_of_work(factory) as session:
        project_id = new_project(session, "shop").id
        set_project_workflow(session, project_id=project_id, workflow_id="wf-1")
        set_project_status(
            session,
            project_id=project_id,
            status="failed",
            failed_step="create_repository",
            error_message="forge refused",
        )
        with pytest.raises(InvalidInput, match="'exploded' is not one of"):
            set_project_status(session, project_id=project_id, status="exploded")
        with pytest.raises(NotFound):
            set_project_status(session, project_id=project_id + 100, status="active")

    with unit_of_work(factory) as session:
        project = require_project(session, name="shop")
        assert (project.status, project.failed_step) == (ProjectStatus.FAILED, "create_repository")
        assert project.workflow_id == "wf-1"
        assert [p.name for p in list_projects(session, status=ProjectStatus.FAILED)] == ["shop"]
        assert list_projects(session, status="active") == []
        set_project_status(session, project_id=project.id, status=ProjectStatus.ACTIVE)
    with unit_of_work(factory) as session:
        project = require_project(session, name="shop")
        assert (project.status, project.failed_step, project.error_message) == (
            ProjectStatus.ACTIVE,
            None,
            None,
        )


def test_a_missing_project_is_not_found_with_a_hint(factory: SessionFactory) -> None:
    with unit_of_work(factory) as session:
        assert get_project(session, name="ghost") is None
        with pytest.raises(NotFound) as caught:
            require_project(session, name="ghost")
    assert "slipway project list" in str(caught.value)


def test_upsert_environment_is_idempotent_and_keeps_the_order(
    factory: SessionFactory, new_project: NewProject
) -> None:
    with unit_of_work(factory) as session:
        project_id = new_project(session, "shop", environments=["production", "development"]).id
        for position, env in enumerate(["production", "development"]):
            upsert_environment(
                session,
                project_id=project_id,
                name=env,
                namespace=f"project-shop-{env}",
                position=position,
            )
    with unit_of_work(factory) as session:
        again = upsert_environment(
            session,
            project_id=project_id,
            name="production",
            namespace="project-shop-production",
            position=0,
            status=ResourceStatus.READY,
        )
    with unit_of_work(factory) as session:
        environments = list_environments(session, project_id=project_id)
        assert [(e.name, e.status) for e in environments] == [
            ("production", ResourceStatus.READY),
            ("development", ResourceStatus.PENDING),
        ]
        assert environments[0].id == again.id


def test_an_environment_of_a_deleted_project_is_not_found(factory: SessionFactory) -> None:
    with pytest.raises(NotFound), unit_of_work(factory) as session:
        upsert_environment(session, project_id=999, name="dev", namespace="ns", position=0)


def test_record_repository_is_idempotent(factory: SessionFactory, new_project: NewProject) -> None:
    fields = {
        "provider": "github",
        "owner": "acme",
        "name": "shop",
        "clone_url": "https://github.example/acme/shop.git",
        "web_url": "https://github.example/acme/shop",
        "default_branch": "main",
    }
    with unit_of_work(factory) as session:
        project_id = new_project(session, "shop").id
        first = record_repository(session, project_id=project_id, **fields)
    with unit_of_work(factory) as session:  # a resumed step records it again
        second = record_repository(
            session, project_id=project_id, **fields, initial_commit_sha="a" * 40
        )
    assert second.id == first.id
    with unit_of_work(factory) as session:
        repository = get_repository(session, project_id=project_id)
        assert repository is not None
        assert (repository.provider, repository.initial_commit_sha) == (ForgeKind.GITHUB, "a" * 40)
        count = session.scalar(sa.text("SELECT count(*) FROM repositories"))
        assert count == 1


def test_unique_constraints_hold_in_the_database_itself(
    factory: SessionFactory, new_project: NewProject
) -> None:
    with unit_of_work(factory) as session:
        project_id = new_project(session, "shop").id
        upsert_environment(session, project_id=project_id, name="dev", namespace="n", position=0)

    duplicates = [
        "INSERT INTO projects (name, slug, status, template, parameters, environments, forge,"
        " private, created_at, updated_at) VALUES ('other', 'shop', 'pending', 't', '{}', '[]',"
        " 'github', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
        "INSERT INTO environments (project_id, name, namespace, status, position, created_at,"
        " updated_at) VALUES (:project_id, 'dev', 'n', 'pending', 1, CURRENT_TIMESTAMP,"
        " CURRENT_TIMESTAMP)",
    ]
    for statement in duplicates:
        with pytest.raises(IntegrityError), unit_of_work(factory) as session:
            session.execute(sa.text(statement), {"project_id": project_id})


def test_deleting_a_project_deletes_everything_recorded_under_it(
    factory: SessionFactory, new_project: NewProject
) -> None:
    with unit_of_work(factory) as session:
        doomed = new_project(session, "doomed").id
        kept = new_project(session, "kept").id
        for project_id in (doomed, kept):
            env = upsert_environment(
                session, project_id=project_id, name="dev", namespace=f"ns-{project_id}", position=0
            )
            upsert_gitops_resource(
                session,
                project_id=project_id,
                environment_id=env.id,
                type=ResourceKind.NAMESPACE,
                name="ns",
                namespace=None,
                status="ready",
            )
            record_repository(
                session,
                project_id=project_id,
                provider="gitea",
                owner="o",
                name="r",
                clone_url="c",
                web_url="w",
                default_branch="main",
            )
            append_event(
                session, project_id=project_id, step="create_project", percent=5, message="created"
            )

    with unit_of_work(factory) as session:
        assert delete_project(session, name="doomed") is True
        assert delete_project(session, name="doomed") is False

    with unit_of_work(factory) as session:
        for table in ("environments", "gitops_resources", "repositories", "project_events"):
            rows = session.execute(sa.text(f"SELECT project_id FROM {table}")).scalars().all()  # noqa: S608
            assert set(rows) == {kept}, table


def test_two_projects_whose_names_compose_into_one_namespace_cannot_both_be_recorded(
    factory: SessionFactory, new_project: NewProject
) -> None:
    """`coll` + `a-staging` and `coll-a` + `staging` are both project-coll-a-staging."""
    with unit_of_work(factory) as session:
        new_project(session, "coll", environments=["a-staging"])
    with pytest.raises(Conflict) as refused, unit_of_work(factory) as session:
        new_project(session, "coll-a", environments=["development", "staging"])
    assert "project-coll-a-staging" in refused.value.message
    assert "'coll'" in refused.value.message and "a-staging" in refused.value.message
    with unit_of_work(factory) as session:
        assert get_project(session, name="coll-a") is None
        again = namespace_conflict(
            session,
            namespaces=["project-coll-a-staging", "project-coll-a-development"],
            project="coll-a",
        )
        assert again is not None and again.message == (
            "namespace project-coll-a-staging is already environment 'a-staging' of project 'coll'"
        )


def test_the_database_itself_refuses_a_second_environment_in_one_namespace(
    factory: SessionFactory, new_project: NewProject
) -> None:
    """The unique constraint holds even for a writer that skips the query (a race)."""
    with unit_of_work(factory) as session:
        first = new_project(session, "one", environments=["dev"]).id
        second = new_project(session, "two", environments=["prod"]).id
    with pytest.raises(IntegrityError), unit_of_work(factory) as session:
        session.add(
            Environment(
                project_id=second,
                name="dev",
                namespace="project-one-dev",
                status="pending",
                position=1,
            )
        )
        session.flush()
    assert first != second


def test_secret_parameters_are_stored_only_encrypted(
    factory: SessionFactory, new_project: NewProject, engine: Engine
) -> None:
    cipher = TokenCipher(SecretStr(Fernet.generate_key().decode()))
    with unit_of_work(factory) as session:
        project = new_project(
            session,
            "vault",
            parameters={"port": 8080},
            secret_parameters={"api_key": "s3cr3t-value"},
            cipher=cipher,
        )
        assert project_parameters(project, cipher) == {"port": 8080, "api_key": "s3cr3t-value"}
    with engine.connect() as connection:
        dumped = "\n".join(
            str(row) for row in connection.execute(sa.text("SELECT * FROM projects"))
        )
    assert "s3cr3t-value" not in dumped and "api_key" not in dumped
    assert "8080" in dumped
