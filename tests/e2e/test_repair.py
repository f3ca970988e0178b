"""Repair and retries (issue 11, items 1 and 4), as a user runs them against the sandbox:
an outage inside a step is retried with progress events and ends active; a failed creation
is no dead end; a namespace deleted out of band comes back; repairing a healthy project
changes nothing in the cluster or the repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.e2e.conftest import forge_faulted
from tests.support.cli import SlipwayProcesses
from tests.support.commands import git

from slipway.domain.names import ResourceNames
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

KINDS = [
    ("v1", "Namespace"),
    ("v1", "Secret"),
    ("v1", "ServiceAccount"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("source.toolkit.fluxcd.io/v1", "GitRepository"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
]


def _versions(sandbox: Sandbox, slug: str) -> dict[tuple[str, str, str], str]:
    """Every object Slipway applied for the project, by kind, namespace and name: its
    resourceVersion (any write, even a no-op one that touched managedFields, changes it)."""
    assert sandbox.kube is not None
    found: dict[tuple[str, str, str], str] = {}
    selector = f"slipway.dev/project={slug}"
    for api_version, kind in KINDS:
        for obj in sandbox.kube.list(api_version, kind, label_selector=selector):
            meta: dict[str, Any] = obj["metadata"]
            key = (kind, meta.get("namespace") or "", meta["name"])
            found[key] = meta["resourceVersion"]
    return found


def _head(sandbox: Sandbox, name: str, tmp: Path) -> str:
    assert sandbox.forge is not None
    url = sandbox.forge.clone_url(SANDBOX_USER, name).replace(
        "http://", f"http://{SANDBOX_USER}:{sandbox.forge_token}@"
    )
    return git(tmp, "ls-remote", url, "HEAD").split()[0]


def _events(run: SlipwayProcesses, name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = run.json("project", "events", name)
    return events


def test_repairing_a_healthy_project_changes_nothing(
    slipway_process: SlipwayProcesses, sandbox: Sandbox, tmp_path: Path
) -> None:
    created = slipway_process("project", "create", "rep-healthy", "--wait", "--json")
    assert created.returncode == 0, created.stderr
    before = _versions(sandbox, "rep-healthy")
    assert len(before) == 3 * 6  # three environments, six objects each
    head = _head(sandbox, "rep-healthy", tmp_path)

    repaired = slipway_process("project", "repair", "rep-healthy", "--wait", "--json")

    assert repaired.returncode == 0, repaired.stderr
    assert repaired.json()["status"] == "active"
    assert _versions(sandbox, "rep-healthy") == before
    assert _head(sandbox, "rep-healthy", tmp_path) == head
    second = [e for e in _events(slipway_process, "rep-healthy") if e["run"] == 2]
    assert second[0]["percent"] == 0 and second[-1]["percent"] == 100
    assert second[-1]["final"] == "completed"
    percents = [e["percent"] for e in second]
    assert percents == sorted(percents)


def test_a_namespace_deleted_out_of_band_comes_back_with_repair(
    slipway_process: SlipwayProcesses, sandbox: Sandbox
) -> None:
    assert slipway_process("project", "create", "rep-ns", "--wait").returncode == 0
    assert sandbox.kube is not None
    namespace = ResourceNames("rep-ns", "staging").namespace
    sandbox.kube.delete("v1", "Namespace", namespace)

    repaired = slipway_process("project", "repair", "rep-ns", "--wait", "--json")

    assert repaired.returncode == 0, repaired.stderr
    view = repaired.json()
    assert view["status"] == "active"
    assert {e["name"]: e["status"] for e in view["environments"]}["staging"] == "ready"
    assert sandbox.kube.get("v1", "Namespace", namespace) is not None
    kustomization = sandbox.kube.get(
        "kustomize.toolkit.fluxcd.io/v1", "Kustomization", "rep-ns-staging", namespace
    )
    assert kustomization is not None


def test_a_failed_creation_is_no_dead_end(
    slipway_process: SlipwayProcesses, sandbox: Sandbox
) -> None:
    with forge_faulted(sandbox, 503, path_prefix="/user/repos", method="POST", count=50):
        failed = slipway_process("project", "create", "rep-failed", "--wait")
    assert failed.returncode == 1
    shown = slipway_process.json("project", "show", "rep-failed")
    assert shown["status"] == "failed" and shown["failed_step"] == "create_repository"
    assert "slipway project repair rep-failed" not in (shown["error_message"] or "")

    repaired = slipway_process("project", "repair", "rep-failed", "--wait", "--json")

    assert repaired.returncode == 0, repaired.stderr
    assert repaired.json()["status"] == "active"


def test_an_outage_inside_a_step_is_retried_with_progress_events(
    slipway_process: SlipwayProcesses, sandbox: Sandbox
) -> None:
    # 5 answers per attempt are spent by the client's own retries: the step itself must try
    # again twice more before the forge answers.
    env = {"SLIPWAY_RETRY_WINDOW": "120"}
    with forge_faulted(sandbox, 503, path_prefix="/user/repos", method="POST", count=12):
        created = slipway_process("project", "create", "rep-outage", "--wait", "--json", env=env)

    assert created.returncode == 0, created.stderr
    assert created.json()["status"] == "active"
    retries = [
        e["message"]
        for e in _events(slipway_process, "rep-outage")
        if e["step"] == "create_repository" and "retrying in" in e["message"]
    ]
    assert len(retries) >= 2
    assert "attempt 2" in retries[0] and "attempt 3" in retries[1]


def test_repair_is_refused_while_a_run_is_under_way(slipway_process: SlipwayProcesses) -> None:
    queued = slipway_process("project", "create", "rep-busy", "--json")
    assert queued.returncode == 0, queued.stderr  # queued: no worker runs it yet

    refused = slipway_process("project", "repair", "rep-busy", "--json")

    assert refused.returncode == 4
    error = json.loads(refused.stdout)["error"]
    assert error["type"] == "Conflict" and "run in progress" in error["message"]
    assert "slipway worker" in error["hint"]
    shown = slipway_process.json("project", "show", "rep-busy")
    assert (shown["status"], shown["run"]) == ("pending", 1)  # nothing was started
    nobody = slipway_process("project", "repair", "rep-nobody")
    assert nobody.returncode == 3
    both = slipway_process("project", "repair", "rep-busy", "--all-stuck")
    assert both.returncode == 2 and "NAME" in both.stderr
