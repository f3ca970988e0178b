"""`slipway project delete`: everything Slipway created goes and nothing else; an object in the
project's namespace that is not Slipway's stops it before anything is deleted; the name is
free again; `--delete-repo` deletes the repository on every forge flavour, but never one
another installation owns; a delete killed mid-run is finished by running it again."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.helpers import FLUX_KUSTOMIZE, FLUX_SOURCE
from tests.support.cli import InProcessCli, SlipwayProcesses

from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.domain.model import ForgeKind, Step
from slipway.domain.names import ResourceNames
from slipway.pipeline.workflow import KILL_AT_STEP_ENV
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

ENVIRONMENTS = ("development", "staging", "production")
LABELLED = [
    ("v1", "Secret"),
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    (FLUX_SOURCE, "GitRepository"),
    (FLUX_KUSTOMIZE, "Kustomization"),
]


@pytest.fixture
def cli_app(cli_env: dict[str, str]) -> App:
    """The database the CLI processes use, opened from the test (closed by the process end)."""
    return bootstrap(Settings())


def create(slipway_process: SlipwayProcesses, name: str, **env: str) -> None:
    done = slipway_process("project", "create", name, "-t", "static-site", "--wait", env=env)
    assert done.returncode == 0, done.stderr


def delete(slipway_process: SlipwayProcesses, name: str, *flags: str, **env: str) -> dict[str, Any]:
    done = slipway_process("project", "delete", name, "--yes", "--json", *flags, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    result: dict[str, Any] = done.json()
    return result


def left_on_cluster(sandbox: Sandbox, name: str) -> list[str]:
    """Every object of the project still in the cluster (its namespaces, anything labelled
    for it, and the workloads Flux deployed), as `Kind name`."""
    assert sandbox.kube is not None
    found = []
    for env in ENVIRONMENTS:
        names = ResourceNames(name, env)
        if sandbox.kube.get("v1", "Namespace", names.namespace) is not None:
            found.append(f"Namespace {names.namespace}")
        for api_version, kind in [*LABELLED, ("apps/v1", "Deployment")]:
            found += [
                f"{kind} {o['metadata']['name']}"
                for o in sandbox.kube.list(api_version, kind, names.namespace)
            ]
    return found


def repository(sandbox: Sandbox, name: str) -> object:
    assert sandbox.forge is not None
    return sandbox.forge.state.repo(SANDBOX_USER, name)


def test_delete_removes_what_slipway_created_and_nothing_else_and_frees_the_name(
    slipway_process: SlipwayProcesses, sandbox: Sandbox, cli_app: App
) -> None:
    assert sandbox.kube is not None and sandbox.forge is not None
    name = "del-full"
    create(slipway_process, name)
    dev = ResourceNames(name, "development").namespace
    assert sandbox.kube.list("apps/v1", "Deployment", dev), "Flux deployed the workload"
    sandbox.kube.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "del-unrelated"}}
    )
    sandbox.kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "keep", "namespace": "del-unrelated"},
        }
    )
    repo = repository(sandbox, name)
    assert repo is not None and sandbox.forge.state.deploy_keys(repo)  # type: ignore[arg-type]

    outcome = delete(slipway_process, name)

    assert outcome["outcome"] == "deleted" and outcome["project"] == name
    assert left_on_cluster(sandbox, name) == []
    assert sandbox.kube.get("v1", "ConfigMap", "keep", "del-unrelated") is not None
    kept = repository(sandbox, name)
    assert kept is not None, "without --delete-repo the repository stays"
    assert sandbox.forge.state.deploy_keys(kept) == []  # type: ignore[arg-type]
    shown = slipway_process("project", "show", name)
    assert shown.returncode == 3, shown.stderr

    # The name is free again: the same project is created anew (its repository reused).
    create(slipway_process, name)
    again = slipway_process.json("project", "show", name)
    assert again["status"] == "active"


def test_an_unlabelled_object_in_a_project_namespace_stops_delete_before_anything_goes(
    slipway_process: SlipwayProcesses, sandbox: Sandbox
) -> None:
    assert sandbox.kube is not None
    name = "del-stray"
    create(slipway_process, name)
    staging = ResourceNames(name, "staging").namespace
    sandbox.kube.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "notes", "namespace": staging},
        },
        manager="kubectl",
    )
    before = left_on_cluster(sandbox, name)

    refused = slipway_process("project", "delete", name, "--yes")

    assert refused.returncode == 4, refused.stderr
    assert f"ConfigMap {staging}/notes" in refused.stderr
    assert "nothing was deleted" in refused.stderr
    assert f"slipway project delete {name}" in refused.stderr
    assert left_on_cluster(sandbox, name) == before
    assert slipway_process.json("project", "show", name)["status"] == "active"


@pytest.mark.parametrize("forge", list(ForgeKind), ids=lambda kind: kind.value)
def test_delete_repo_deletes_the_repository_on_every_forge(
    slipway_process: SlipwayProcesses, sandbox: Sandbox, forge: ForgeKind
) -> None:
    name = f"del-repo-{forge.value}"
    create(slipway_process, name, SLIPWAY_FORGE=forge.value)
    assert repository(sandbox, name) is not None

    outcome = delete(slipway_process, name, "--delete-repo", SLIPWAY_FORGE=forge.value)

    assert outcome["outcome"] == "deleted" and outcome["delete_repo"] is True
    assert repository(sandbox, name) is None
    assert left_on_cluster(sandbox, name) == []


def test_a_repository_another_installation_owns_is_not_deleted(
    slipway_process: SlipwayProcesses, sandbox: Sandbox
) -> None:
    name = "del-theirs"
    create(slipway_process, name)
    repo = repository(sandbox, name)
    assert repo is not None
    other = "fedcba9876543210"
    repo.description = f"[slipway:project={name} installation={other}]"  # type: ignore[attr-defined]

    failed = slipway_process("project", "delete", name, "--yes", "--delete-repo", "--json")

    assert failed.returncode == 1, failed.stderr
    assert repository(sandbox, name) is not None
    stuck = slipway_process.json("project", "list", "--status", "deleting")
    assert [(p["name"], p["failed_step"]) for p in stuck] == [(name, Step.DELETE_REPOSITORY.value)]
    assert other in stuck[0]["error_message"]
    # Without --delete-repo the delete finishes, and the repository stays theirs.
    assert delete(slipway_process, name)["outcome"] == "deleted"
    assert repository(sandbox, name) is not None


def test_a_delete_killed_mid_run_is_finished_by_running_it_again(
    slipway_process: SlipwayProcesses, sandbox: Sandbox
) -> None:
    name = "del-crash"
    create(slipway_process, name)

    killed = slipway_process(
        "project", "delete", name, "--yes", env={KILL_AT_STEP_ENV: Step.DELETE_OBJECTS.value}
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert slipway_process.json("project", "show", name)["status"] == "deleting"
    assert delete(slipway_process, name)["outcome"] == "deleted"
    assert left_on_cluster(sandbox, name) == []
    assert slipway_process("project", "show", name).returncode == 3


def test_delete_without_yes_and_without_a_terminal_is_refused(
    sandbox_cli: InProcessCli, tmp_path: Path
) -> None:
    refused = sandbox_cli("project", "delete", "anything", stdin="anything\n")
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
