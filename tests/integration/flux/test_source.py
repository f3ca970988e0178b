"""source-controller behaviour: the GitRepository is fetched over git smart HTTP with the
Secret's credentials, and its status reads the way Flux writes it."""

from __future__ import annotations

import json
from typing import Any

from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

from ._support import (
    SOURCE_V1,
    GitRepo,
    condition,
    git_repository,
    secret,
    wait_for,
    wait_ready,
)

WRONG_PASSWORD = "wrong-password-7f3c9a1e5b2d4c6f"


def test_valid_secret_makes_the_source_ready_at_the_pushed_commit(
    sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo
) -> None:
    kube.apply(secret("git-auth", namespace, SANDBOX_USER, sandbox.forge_token), manager="slipway")
    kube.apply(git_repository("app", namespace, repo.clone_url), manager="slipway")

    obj = wait_ready(kube, "GitRepository", "app", namespace, "True")

    revision = f"main@sha1:{repo.head}"
    status = obj["status"]
    ready = condition(obj)
    assert (ready["reason"], ready["message"]) == (
        "Succeeded",
        f"stored artifact for revision '{revision}'",
    )
    assert ready["observedGeneration"] == obj["metadata"]["generation"]
    assert condition(obj, "ArtifactInStorage")["status"] == "True"
    assert [c["type"] for c in status["conditions"]] == ["Ready", "ArtifactInStorage"]
    assert status["observedGeneration"] == obj["metadata"]["generation"] == 1
    assert status["artifact"]["revision"] == revision
    assert status["artifact"]["path"] == f"gitrepository/{namespace}/app/{repo.head}.tar.gz"
    assert status["artifact"]["digest"].startswith("sha256:")
    assert sandbox.forge_token not in json.dumps(obj)


def test_wrong_password_fails_without_leaking_it_then_a_fixed_secret_recovers(
    sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo
) -> None:
    kube.apply(secret("git-auth", namespace, SANDBOX_USER, WRONG_PASSWORD), manager="slipway")
    kube.apply(git_repository("app", namespace, repo.clone_url), manager="slipway")

    failed = wait_ready(kube, "GitRepository", "app", namespace, "False")

    ready = condition(failed)
    assert ready["reason"] == "GitOperationFailed"
    assert ready["message"].startswith(
        f"failed to checkout and determine revision: unable to clone '{repo.clone_url}': "
    )
    # The credentials went with the first request and drew a 401: go-git's wording for it
    assert ready["message"].endswith("': authentication required")
    assert WRONG_PASSWORD not in json.dumps(failed)
    assert condition(failed, "FetchFailed")["status"] == "True"
    reconciling = condition(failed, "Reconciling")
    assert (reconciling["status"], reconciling["reason"]) == ("True", "ProgressingWithRetry")
    # source-controller records observedGeneration only for a successful reconciliation
    assert failed["status"]["observedGeneration"] == -1
    assert "artifact" not in failed["status"]

    kube.apply(secret("git-auth", namespace, SANDBOX_USER, sandbox.forge_token), manager="slipway")
    recovered = wait_ready(kube, "GitRepository", "app", namespace, "True", timeout=12)
    assert recovered["status"]["artifact"]["revision"] == f"main@sha1:{repo.head}"
    assert {c["type"] for c in recovered["status"]["conditions"]} == {
        "Ready",
        "ArtifactInStorage",
    }


def test_missing_secret_is_named_in_the_failure(
    kube: KubeEmulator, namespace: str, repo: GitRepo
) -> None:
    kube.apply(
        git_repository("app", namespace, repo.clone_url, secret_name="absent"), manager="slipway"
    )

    failed = wait_ready(kube, "GitRepository", "app", namespace, "False")

    ready = condition(failed)
    assert ready["reason"] == "AuthenticationFailed"
    assert ready["message"] == (
        f"failed to get secret '{namespace}/absent': secrets \"absent\" not found"
    )


def test_missing_branch_and_anonymous_access_to_a_private_repository_fail(
    sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo
) -> None:
    kube.apply(secret("git-auth", namespace, SANDBOX_USER, sandbox.forge_token), manager="slipway")
    kube.apply(
        git_repository("branch", namespace, repo.clone_url, ref={"branch": "nope"}),
        manager="slipway",
    )
    kube.apply(
        git_repository("anonymous", namespace, repo.clone_url, secret_name=None),
        manager="slipway",
    )

    for name, words in (
        ("branch", 'couldn\'t find remote ref "refs/heads/nope"'),
        ("anonymous", f"unable to clone '{repo.clone_url}': authentication required"),
    ):
        failed = wait_ready(kube, "GitRepository", name, namespace, "False")
        assert condition(failed)["reason"] == "GitOperationFailed"
        assert words in condition(failed)["message"]


def test_a_requested_reconcile_is_answered(
    sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo
) -> None:
    """`flux reconcile source git` sets the annotation; the controller echoes it in status."""
    kube.apply(secret("git-auth", namespace, SANDBOX_USER, sandbox.forge_token), manager="slipway")
    body = git_repository("app", namespace, repo.clone_url, interval="1h")
    kube.apply(body, manager="slipway")
    wait_ready(kube, "GitRepository", "app", namespace, "True")

    new_head = repo.commit({"README.md": "hello\n"}, "docs")
    body["metadata"]["annotations"] = {"reconcile.fluxcd.io/requestedAt": "2025-01-01T00:00:00Z"}
    kube.apply(body, manager="flux-cli")

    def handled() -> dict[str, Any] | None:
        obj = kube.get(SOURCE_V1, "GitRepository", "app", namespace) or {}
        done = obj.get("status", {}).get("lastHandledReconcileAt") == "2025-01-01T00:00:00Z"
        return obj if done else None

    answered = wait_for(handled, "status.lastHandledReconcileAt")
    assert answered["status"]["artifact"]["revision"] == f"main@sha1:{new_head}"
