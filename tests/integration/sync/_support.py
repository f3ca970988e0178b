"""Seeding the status sync's two sides by hand: a project's rows in the database and its
objects in the Kubernetes emulator (built by Slipway's own manifest builders, so they carry
its labels), without a forge or a workflow run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import SecretStr

from slipway import store
from slipway.bootstrap import App
from slipway.domain.model import ProjectStatus, ResourceStatus
from slipway.domain.names import ResourceNames
from slipway.gitops import BasicAuth, EnvironmentSpec, apply_order, environment_objects
from slipway.sandbox.kube import KubeEmulator
from slipway.sync import StatusSync

REVISION = "main@sha1:0123456789abcdef0123456789abcdef01234567"
USER = "sync-tester"


def spec(project: str, env: str, installation: str) -> EnvironmentSpec:
    return EnvironmentSpec(
        project=project,
        environment=env,
        installation=installation,
        repository_url=f"https://forge.example/team/{project}.git",
        credentials=BasicAuth(username="git", password=SecretStr("not-a-real-token")),
    )


def record_project(
    app: App,
    name: str,
    envs: Sequence[str] = ("dev",),
    *,
    status: ResourceStatus = ResourceStatus.RECONCILING,
    project_status: ProjectStatus = ProjectStatus.ACTIVE,
) -> None:
    """The project's rows as a finished creation leaves them, each resource at `status`."""
    with app.session() as session:
        project = store.create_project(
            session,
            name=name,
            slug=name,
            template="static-site",
            environments=envs,
            forge="github",
            status=project_status,
        )
        for env in store.list_environments(session, project_id=project.id):
            names = ResourceNames(name, env.name)
            for info in apply_order():
                ref = info.ref(names)
                store.upsert_gitops_resource(
                    session,
                    project_id=project.id,
                    environment_id=env.id,
                    type=ref.kind,
                    name=ref.name,
                    namespace=ref.namespace,
                    api_version=info.api_version,
                    status=status,
                )


def apply_project(
    kube: KubeEmulator,
    name: str,
    installation: str,
    envs: Sequence[str] = ("dev",),
    *,
    ready: bool = True,
) -> None:
    """The project's objects in the cluster, its Flux objects Ready (unless `ready` is
    False) as Flux would report them."""
    for env in envs:
        for obj in environment_objects(spec(name, env, installation)):
            kube.apply(obj, manager="slipway")
        if ready:
            set_ready(kube, name, env, "True", "ReconciliationSucceeded", f"Applied {REVISION}")


def set_ready(
    kube: KubeEmulator, name: str, env: str, status: str, reason: str, message: str
) -> None:
    names = ResourceNames(name, env)
    for info in apply_order():
        if info.has_ready:
            revision: dict[str, Any] = (
                {"lastAppliedRevision": REVISION}
                if info.kind == "Kustomization"
                else {
                    "artifact": {
                        "revision": REVISION,
                        "digest": "sha256:" + "0" * 64,
                        "lastUpdateTime": "2026-01-01T00:00:00Z",
                        "path": f"gitrepository/{names.namespace}/{info.name(names)}/0.tar.gz",
                        "url": "http://source-controller.flux-system.svc/artifact.tar.gz",
                    }
                }
            )
            kube.set_condition(
                info.api_version,
                info.kind,
                info.name(names),
                names.namespace,
                type="Ready",
                status=status,
                reason=reason,
                message=message,
                **revision,
            )


def resources(app: App, name: str) -> dict[str, tuple[str, str | None]]:
    """Kind -> (status, message) of the project's rows (one environment)."""
    with app.session() as session:
        project = store.require_project(session, name=name)
        rows = store.list_gitops_resources(session, project_id=project.id)
        return {
            row.type.value: (row.status.value, row.error_message or row.ready_message)
            for row in rows
        }


def environment_status(app: App, name: str, env: str = "dev") -> str:
    with app.session() as session:
        project = store.require_project(session, name=name)
        found = store.get_environment(session, project_id=project.id, name=env)
        assert found is not None
        return found.status.value


def leading(syncs: Sequence[StatusSync]) -> Callable[[], list[StatusSync]]:
    return lambda: [s for s in syncs if s.leading]
