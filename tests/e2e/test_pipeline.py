"""The initialization pipeline end to end, in-process: sandbox forge, cluster and Flux, a real
worker (DBOS on SQLite), and the state checked on every system afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.conftest import sandbox_settings
from tests.e2e.helpers import assert_progress_monotonic, assert_project_complete, clone
from tests.support.commands import git
from tests.support.waiting import wait_until

from slipway import service, store
from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.domain.errors import Conflict
from slipway.pipeline.runtime import Worker
from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import Sandbox

EACH_ENVIRONMENT = "{% yield env from environments %}{{ env }}{% endyield %}"


def wait_final(app: App, name: str, timeout: float = 120, *, expect: str = "completed") -> str:
    """The project's final event kind once it has one; a final other than `expect` fails the
    test with the project's story (`describe_run`), so a CI log says why."""

    def final() -> str | None:
        events = service.project_events(app, name)
        return events[-1].final if events else None

    found = wait_until(final, message=f"{name} to finish", timeout=timeout, interval=0.2)
    assert found == expect, f"{name} ended {found!r}, expected {expect!r}\n" + describe_run(
        app, name
    )
    return found


def describe_run(app: App, name: str) -> str:
    """The project's failed step and error, and every event (step, level, message) in order."""
    view = service.show_project(app, name)
    lines = [f"status={view.status} failed_step={view.failed_step} error={view.error_message}"]
    lines += [
        f"  [{e.step}] {e.level.value}: {e.message}" for e in service.project_events(app, name)
    ]
    return "\n".join(lines)


def create(app: App, request: service.CreateRequest, worker: Worker) -> service.ProjectView:
    """`create_project` as the CLI runs it with `--wait`: handed to this process's worker."""
    return asyncio.run(service.create_project(app, request, worker=worker))


@pytest.fixture
def worker(app: App) -> Iterator[Worker]:
    running = Worker(app).start()
    yield running
    running.stop()


def test_create_project_end_to_end(
    app: App, worker: Worker, sandbox: Sandbox, tmp_path: Path
) -> None:
    view = create(app, service.CreateRequest(name="shop", template="static-site"), worker)
    assert view.status in ("pending", "initializing")
    assert wait_final(app, "shop") == "completed"
    assert_project_complete(app, sandbox, "shop", tmp_path)
    shown = service.show_project(app, "shop")
    assert shown.progress == 100
    assert {r.status for r in shown.resources} == {"ready"}
    assert all(r.revision for r in shown.resources if r.kind == "Kustomization")

    # While Flux works, each environment is reported as it turns Ready, between 90 and 100 %.
    sha = shown.repository.initial_commit_sha if shown.repository else None
    settling = [e for e in service.project_events(app, "shop") if e.step == "finalize"][1:-1]
    assert sorted(e.message for e in settling) == sorted(
        f"{env}: Ready at main@sha1:{sha}" for env in ("development", "staging", "production")
    )
    assert [e.percent for e in settling] == [92, 95, 98]


def test_second_submission_attaches_to_the_first_run(
    app: App, worker: Worker, sandbox: Sandbox, tmp_path: Path
) -> None:
    request = service.CreateRequest(name="twice", template="fastapi", environments=("dev", "prod"))
    create(app, request, worker)
    with pytest.raises(Conflict, match="already exists"):
        create(app, request, worker)
    with app.session() as session:
        project_id = store.require_project(session, name="twice").id
    assert worker.submit(project_id) == worker.submit(project_id)
    assert wait_final(app, "twice") == "completed"
    assert_project_complete(app, sandbox, "twice", tmp_path)


def test_many_projects_initialize_concurrently(
    app: App, worker: Worker, sandbox: Sandbox, tmp_path: Path
) -> None:
    names = [f"batch-{i}" for i in range(5)]
    for name in names:
        create(app, service.CreateRequest(name=name, template="static-site"), worker)
    for name in names:
        assert wait_final(app, name) == "completed"
    for name in names:
        assert_project_complete(app, sandbox, name, tmp_path)


def _degraded_run(
    settings: Settings, name: str, template: str = "static-site"
) -> tuple[App, service.ProjectView]:
    """The cluster breaks between the request (whose preflight passed, so it was recorded)
    and the run: recorded as `create` records it, then run by this process's worker."""
    app = bootstrap(settings)
    running = Worker(app).start()
    try:
        spec = asyncio.run(service.plan_project(app, service.CreateRequest(name, template)))
        project_id = service.record_project(app, spec, connection_id=None)
        running.submit(project_id)
        wait_final(app, name, expect="degraded")
        return app, service.show_project(app, name)
    finally:
        running.stop()


def test_cluster_down_degrades_and_keeps_the_repository(sandbox: Sandbox, tmp_path: Path) -> None:
    stopped = KubeEmulator().start()
    kubeconfig = stopped.write_kubeconfig(tmp_path / "kubeconfig-down")
    url = stopped.url
    stopped.stop()
    settings = sandbox_settings(sandbox, tmp_path / "data", kubeconfig=kubeconfig)
    app, view = _degraded_run(settings, "offline")
    try:
        assert view.status == "degraded"
        assert view.failed_step == "gitops_resources"
        assert view.error_message is not None and url in view.error_message
        assert "KUBECONFIG" in view.error_message or "kubeconfig" in view.error_message
        assert view.repository is not None
        checkout = clone(sandbox, "offline", tmp_path / "clone")
        assert git(checkout, "rev-list", "--count", "HEAD") == "1"
        assert {r.status for r in view.resources} == {"pending"}
        assert {e.status for e in view.environments} == {"failed"}
        with app.session() as session:
            project_id = store.require_project(session, name="offline").id
        assert_progress_monotonic(app, project_id, final="degraded")
    finally:
        app.close()


def test_flux_missing_degrades_with_the_flux_fix(sandbox: Sandbox, tmp_path: Path) -> None:
    with KubeEmulator(install_flux_crds=False, flux_controllers="absent") as bare:
        kubeconfig = bare.write_kubeconfig(tmp_path / "kubeconfig-bare")
        settings = sandbox_settings(sandbox, tmp_path / "data", kubeconfig=kubeconfig)
        app, view = _degraded_run(settings, "no-flux")
        try:
            assert view.status == "degraded"
            assert view.error_message is not None
            assert "flux install" in view.error_message or "flux bootstrap" in view.error_message
            assert view.repository is not None
            namespaces = [n["metadata"]["name"] for n in bare.list("v1", "Namespace")]
            assert not any(n.startswith("project-no-flux") for n in namespaces)
        finally:
            app.close()


def test_a_kustomize_error_degrades_only_that_project(sandbox: Sandbox, tmp_path: Path) -> None:
    template = tmp_path / "templates" / "broken"
    overlay = template / "k8s" / "overlays" / EACH_ENVIRONMENT
    overlay.mkdir(parents=True)
    (template / "copier.yml").write_text(
        "_templates_suffix: .jinja\n_slipway:\n  description: overlay refers to a missing base\n"
        "project_name:\n  type: str\n  when: false\nenvironments:\n  type: yaml\n  when: false\n"
    )
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
        "  - ../../base\n"
    )
    settings = sandbox_settings(
        sandbox,
        tmp_path / "data",
        templates_path=[tmp_path / "templates"],
        environments=("dev",),
    )
    app, view = _degraded_run(settings, "broken-app", template="broken")
    try:
        kustomization = next(r for r in view.resources if r.kind == "Kustomization")
        assert kustomization.status == "failed"
        assert kustomization.message and "base" in kustomization.message
        source = next(r for r in view.resources if r.kind == "GitRepository")
        assert source.status == "ready"
        assert view.error_message and "dev" in view.error_message
        warned = [e for e in service.project_events(app, "broken-app") if e.level == "warning"]
        assert warned[0].message.startswith("dev: not Ready: Kustomization broken-app-dev: failed")
        assert warned[0].final is None and warned[-1].final == "degraded"
    finally:
        app.close()


@pytest.mark.postgres
def test_create_project_on_postgresql(
    fresh_postgres_url: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    """The production set-up: Slipway's tables and DBOS's system schema in one PostgreSQL."""
    settings = sandbox_settings(sandbox, tmp_path / "data", database_url=fresh_postgres_url)
    app = bootstrap(settings)
    running = Worker(app).start()
    try:
        create(app, service.CreateRequest(name="pg-shop", template="static-site"), running)
        assert wait_final(app, "pg-shop") == "completed"
        assert_project_complete(app, sandbox, "pg-shop", tmp_path)
        assert not (tmp_path / "data" / "workflows.db").exists()
    finally:
        running.stop()
        app.close()


def test_two_simultaneous_requests_for_one_name_one_wins(
    app: App, worker: Worker, sandbox: Sandbox, tmp_path: Path
) -> None:
    import threading

    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def request() -> None:
        barrier.wait()
        try:
            outcomes.append(
                create(app, service.CreateRequest(name="race", template="static-site"), worker)
            )
        except Conflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(conflicts) == 1 and "already exists" in str(conflicts[0])
    assert wait_final(app, "race") == "completed"
    assert_project_complete(app, sandbox, "race", tmp_path)
