"""Status reads, connection failures, retries and kubeconfig lookup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slipway.config import Settings
from slipway.domain.errors import ClusterError
from slipway.domain.model import ResourceKind, ResourceStatus
from slipway.gitops import KINDS, ClusterClient, run_preflight
from slipway.sandbox._server import ServerThread
from slipway.sandbox.kube import KubeEmulator, write_kubeconfig

from ._support import FAST_RETRY, ASGIApp, Receive, Scope, Send, make_spec

KS_API = "kustomize.toolkit.fluxcd.io/v1"
REPO_API = "source.toolkit.fluxcd.io/v1"


async def test_read_status_follows_the_ready_condition(
    kube: KubeEmulator, cluster: ClusterClient
) -> None:
    spec = make_spec("india")
    ns = spec.names.namespace
    await cluster.apply_environment(spec)

    fresh = await cluster.read_status(ResourceKind.KUSTOMIZATION, "india-development", ns)
    assert fresh.exists and fresh.status is ResourceStatus.RECONCILING and fresh.ready is None

    kube.set_condition(
        KS_API,
        "Kustomization",
        "india-development",
        ns,
        type="Ready",
        status="True",
        reason="ReconciliationSucceeded",
        message="Applied revision: main@sha1:0123abc",
        lastAppliedRevision="main@sha1:0123abc",
    )
    ready = await cluster.read_status("Kustomization", "india-development", ns)
    assert ready.status is ResourceStatus.READY
    assert ready.revision == "main@sha1:0123abc"
    assert ready.ready is not None and ready.ready.reason == "ReconciliationSucceeded"
    assert ready.observed_generation == ready.generation == 1

    kube.set_condition(
        REPO_API,
        "GitRepository",
        "india-repo",
        ns,
        type="Ready",
        status="False",
        reason="GitOperationFailed",
        message="failed to checkout and determine revision: authentication required",
    )
    failed = await cluster.read_status(ResourceKind.GIT_REPOSITORY, "india-repo", ns)
    assert failed.status is ResourceStatus.FAILED
    assert "authentication required" in failed.message

    namespace = await cluster.read_status(ResourceKind.NAMESPACE, ns)
    assert namespace.exists and namespace.status is ResourceStatus.READY

    missing = await cluster.read_status(ResourceKind.KUSTOMIZATION, "nope", ns)
    assert not missing.exists and missing.status is ResourceStatus.PENDING


@pytest.fixture
def closed_server(tmp_path: Path) -> tuple[str, Path]:
    """A kubeconfig for an API server that was running and has been stopped."""
    stopped = KubeEmulator(tls=False).start()
    url = stopped.url
    config = stopped.write_kubeconfig(tmp_path / "kubeconfig")
    stopped.stop()
    return url, config


async def test_cluster_down_names_the_url(closed_server: tuple[str, Path]) -> None:
    url, config = closed_server
    async with ClusterClient.from_kubeconfig(config, retry_policy=FAST_RETRY) as client:
        with pytest.raises(ClusterError) as caught:
            await client.apply_environment(make_spec("mike"))
        assert url in caught.value.message
        assert caught.value.hint is not None and "KUBECONFIG" in caught.value.hint

        checks = await run_preflight(client)
    api, *rest = checks
    assert not api.ok and url in api.detail and api.fix is not None
    assert rest and all(not c.ok and c.detail.startswith("not checked") for c in rest)
    assert all(c.fix is None for c in rest)


def _flaky(app: ASGIApp, *, failures: int, status: int, path_part: str) -> ASGIApp:
    """The emulator behind a proxy that answers `status` (a JSON Status) `failures` times."""
    remaining = [failures]

    async def proxy(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and path_part in scope["path"] and remaining[0] > 0:
            remaining[0] -= 1
            body = json.dumps(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "message": "etcdserver: request timed out",
                    "reason": "InternalError" if status >= 500 else "TooManyRequests",
                    "code": status,
                }
            ).encode()
            headers = [(b"content-type", b"application/json"), (b"retry-after", b"0")]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return proxy


@pytest.mark.parametrize(("status", "failures", "succeeds"), [(503, 2, True), (429, 5, False)])
async def test_server_errors_are_retried_then_reported(
    kube: KubeEmulator, tmp_path: Path, status: int, failures: int, succeeds: bool
) -> None:
    app = _flaky(kube.app, failures=failures, status=status, path_part="/gitrepositories/")
    with ServerThread(app) as server:
        config = write_kubeconfig(tmp_path / "kubeconfig", server.url, kube.token)
        async with ClusterClient.from_kubeconfig(config, retry_policy=FAST_RETRY) as client:
            spec = make_spec(f"november{status}")
            if succeeds:
                applied = await client.apply_environment(spec)
                assert len(applied) == len(KINDS)
            else:
                with pytest.raises(ClusterError) as caught:
                    await client.apply_environment(spec)
                assert f"({status} TooManyRequests)" in caught.value.message
                assert server.url in caught.value.message


async def test_settings_lookup_order(
    kube: KubeEmulator,
    kubeconfig: Path,
    closed_server: tuple[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    down_url, down_config = closed_server

    monkeypatch.setenv("KUBECONFIG", str(down_config))
    monkeypatch.setenv("K3S_KUBECONFIG_PATH", str(kubeconfig))
    client = ClusterClient.from_settings(Settings())
    assert client.server == kube.url
    await client.aclose()

    monkeypatch.delenv("K3S_KUBECONFIG_PATH")
    client = ClusterClient.from_settings(Settings())
    assert client.server == down_url
    await client.aclose()

    monkeypatch.delenv("KUBECONFIG")
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(kubeconfig.read_text())
    monkeypatch.setenv("HOME", str(home))
    client = ClusterClient.from_settings(Settings())
    assert client.server == kube.url
    await client.aclose()

    monkeypatch.setenv("K3S_KUBECONFIG_PATH", str(tmp_path / "missing.yaml"))
    with pytest.raises(ClusterError, match=r"missing\.yaml does not exist"):
        ClusterClient.from_settings(Settings())
    monkeypatch.delenv("K3S_KUBECONFIG_PATH")
    (home / ".kube" / "config").unlink()
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ClusterError, match="no Kubernetes configuration found"):
        ClusterClient.from_settings(Settings())


async def test_broken_kubeconfig_does_not_echo_its_contents(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text("users:\n- name: x\n  user: {token: 'sup3r-secret-token\n")
    with pytest.raises(ClusterError) as caught:
        ClusterClient.from_kubeconfig(config)
    assert "not valid YAML" in caught.value.message
    assert "sup3r-secret-token" not in str(caught.value)
    with pytest.raises(ClusterError, match="Context 'other' not found"):
        ClusterClient.from_kubeconfig(
            write_kubeconfig(tmp_path / "ok", "http://127.0.0.1:1", "t"), context="other"
        )
