"""`slipway doctor`: exit 0 only when every preflight check passes; each failure names what
failed and prints the fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.cli import InProcessCli

from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import Sandbox


def doctor(cli: InProcessCli, *flags: str) -> tuple[int, str]:
    """`slipway doctor`'s exit code and stdout (the token is checked for by `cli`)."""
    done = cli("doctor", *flags)
    return done.returncode, done.stdout


@pytest.fixture
def bare_cluster(
    cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KubeEmulator]:
    """A cluster without Flux: no CRDs, no controllers; the CLI is pointed at it."""
    with KubeEmulator(install_flux_crds=False, flux_controllers="absent") as bare:
        monkeypatch.setenv("KUBECONFIG", str(bare.write_kubeconfig(tmp_path / "kubeconfig")))
        yield bare


def test_all_checks_pass_against_the_sandbox(
    cli_env: dict[str, str], sandbox: Sandbox, sandbox_cli: InProcessCli
) -> None:
    assert sandbox.kube is not None
    code, out = doctor(sandbox_cli)
    assert code == 0, out
    lines = out.splitlines()
    assert lines and all(line.startswith("ok ") for line in lines), out
    assert any(
        line.startswith("ok   Kubernetes API") and sandbox.kube.url in line for line in lines
    )
    assert any("forge github: token valid for sandbox" in line for line in lines)

    code, out = doctor(sandbox_cli, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    names = {c["name"] for c in report["checks"]}
    assert {"Kubernetes API", "Flux source-controller", "Flux kustomize-controller"} <= names
    assert any(n.startswith("RBAC ") for n in names)
    assert any(n.startswith("forge ") for n in names)
    assert all(c["ok"] and c["fix"] is None for c in report["checks"])


def test_flux_missing_exits_5_with_the_flux_fix(
    bare_cluster: KubeEmulator, sandbox: Sandbox, sandbox_cli: InProcessCli
) -> None:
    code, out = doctor(sandbox_cli)
    assert code == 5
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert any("gitrepositories.source.toolkit.fluxcd.io" in line for line in failing), out
    assert any("kustomizations.kustomize.toolkit.fluxcd.io" in line for line in failing)
    assert any("kustomize-controller" in line for line in failing)
    fixes = [line.strip() for line in out.splitlines() if line.strip().startswith("fix:")]
    assert any("flux install" in fix for fix in fixes), out
    assert any(line.startswith("ok   Kubernetes API") for line in out.splitlines())

    code, out = doctor(sandbox_cli, "--json")
    assert code == 5
    report = json.loads(out)
    assert report["ok"] is False
    failed = [c for c in report["checks"] if not c["ok"]]
    assert failed and all(c["fix"] for c in failed if c["detail"].startswith("not installed"))
    forge = next(c for c in report["checks"] if c["name"] == "forge github")
    assert forge["ok"]  # the forge is fine: only the cluster's checks fail


def test_an_unreachable_cluster_exits_5_and_names_its_url(
    cli_env: dict[str, str],
    sandbox: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sandbox_cli: InProcessCli,
) -> None:
    stopped = KubeEmulator().start()
    kubeconfig = stopped.write_kubeconfig(tmp_path / "kubeconfig-down")
    url = stopped.url
    stopped.stop()
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))

    code, out = doctor(sandbox_cli)
    assert code == 5
    lines = out.splitlines()
    assert lines[0].startswith("ok   installation: "), out
    failed = [line for line in lines if line.startswith("FAIL")]
    assert failed[0].startswith("FAIL Kubernetes API") and url in failed[0], out
    assert "fix:" in out

    code, out = doctor(sandbox_cli, "--json")
    assert code == 5
    report = json.loads(out)
    assert report["ok"] is False
    api = next(c for c in report["checks"] if c["name"] == "Kubernetes API")
    assert not api["ok"] and url in api["detail"]
    assert api["fix"]
