"""How the Flux emulator follows the cluster, as controller-runtime does: one list, then a
watch per kind that resumes from its last resourceVersion when it drops and lists again only
when the server has forgotten that version (410); each object is requeued after its
spec.interval instead of everything being listed again on a timer."""

from __future__ import annotations

from pathlib import Path

from slipway.sandbox.flux import FluxEmulator
from slipway.sandbox.kube import KubeEmulator, KubeRequest
from slipway.sandbox.runner import FLUX_USER, SANDBOX_USER, Sandbox

from ._support import GitRepo, git_repository, secret, wait_for, wait_ready

SOURCE_AGENT = "flux-sandbox-source-controller/"


def _flux(requests: list[KubeRequest], verb: str) -> list[KubeRequest]:
    return [r for r in requests if r.user == FLUX_USER and r.verb == verb]


def test_a_source_is_requeued_after_its_interval_and_nothing_is_listed_again(
    sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo
) -> None:
    kube.apply(secret("git-auth", namespace, SANDBOX_USER, sandbox.forge_token), manager="slipway")
    with kube.recording() as log:
        kube.apply(git_repository("app", namespace, repo.clone_url, interval="1s"))

        def secret_reads() -> list[KubeRequest] | None:
            # Flux reads the Secret on every reconcile (it does not cache Secrets)
            reads = [r for r in _flux(log.requests(), "get") if r.resource == "secrets"]
            return reads if len([r for r in reads if r.namespace == namespace]) >= 3 else None

        wait_for(secret_reads, "three reconciles of the GitRepository, 1 s apart")

    flux = log.requests(user=FLUX_USER)
    assert _flux(flux, "list") == [] and _flux(flux, "watch") == []  # the watch stayed open
    own = [r for r in flux if r.namespace == namespace]
    assert {(r.verb, r.resource, r.subresource) for r in own} == {
        ("get", "secrets", ""),
        ("patch", "gitrepositories", ""),  # once: source-controller's finalizer
        ("patch", "gitrepositories", "status"),
    }
    assert len([r for r in own if (r.verb, r.subresource) == ("patch", "")]) == 1
    assert all(r.user_agent.startswith(SOURCE_AGENT) for r in own)
    assert {r.status for r in own} == {200}


def test_a_dropped_watch_resumes_from_its_resource_version_without_listing(
    sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo
) -> None:
    assert sandbox.flux is not None
    informers = (sandbox.flux.source_informer, sandbox.flux.kustomization_informer)
    lists = [informer.lists for informer in informers]
    with kube.recording() as log:
        kube.server.drop_connections()  # every open connection is cut, the watches with them
        kube.apply(secret("git-auth", namespace, SANDBOX_USER, sandbox.forge_token))
        kube.apply(git_repository("app", namespace, repo.clone_url))
        wait_ready(kube, "GitRepository", "app", namespace, "True")
        wait_for(
            lambda: len(_flux(log.requests(), "watch")) >= 2,
            "both informers watching again",
        )

    watches = _flux(log.requests(), "watch")
    assert sorted(r.resource for r in watches) == ["gitrepositories", "kustomizations"]
    assert all("resourceVersion=" in r.query and r.status == 200 for r in watches)
    assert _flux(log.requests(), "list") == []
    assert [informer.lists for informer in informers] == lists


def test_a_watch_from_a_forgotten_version_lists_again_and_keeps_reconciling(
    tmp_path: Path,
) -> None:
    with KubeEmulator(tls=False, watch_history=5) as kube:
        kube.add_user("flux-token", FLUX_USER)
        with FluxEmulator(kube.url, "flux-token", workdir=tmp_path) as flux:
            wait_for(
                lambda: flux.synced() and kube.state.open_watches() >= 2,
                "the Flux emulator listing and watching",
            )
            for index in range(8):  # more writes than the server remembers
                kube.apply(
                    {
                        "apiVersion": "v1",
                        "kind": "ConfigMap",
                        "metadata": {"name": f"churn-{index}", "namespace": "default"},
                    }
                )
            with kube.recording() as log:
                kube.state.close_watches()  # the watches end; resuming finds the version gone
                wait_for(
                    lambda: flux.source_informer.lists == flux.kustomization_informer.lists == 2,
                    "both informers to list again after 410 Expired",
                )
                unreachable = "http://127.0.0.1:9/nowhere.git"
                kube.apply(git_repository("app", "default", unreachable, secret_name=None))
                wait_ready(kube, "GitRepository", "app", "default", "False")

    calls = [(r.verb, r.resource) for r in log.requests(user=FLUX_USER) if r.verb != "get"]
    for resource in ("gitrepositories", "kustomizations"):
        # the resumed watch (answered with an ERROR event), the list, the watch from it
        assert [c for c in calls if c[1] == resource][:3] == [
            ("watch", resource),
            ("list", resource),
            ("watch", resource),
        ]
