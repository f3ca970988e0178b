"""source-controller over SSH: a GitRepository with an `ssh://` URL and a Secret holding a
deploy key (`identity`, `identity.pub`, `known_hosts`, what `flux create secret git` writes)
fetches from the forge emulator's SSH endpoint through the real OpenSSH client, and its
failures read as source-controller (go-git) words them."""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.waiting import wait_until

from slipway.sandbox.flux._git import GitFetchError, SshAuth, fetch_branch
from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

from ._support import SECRET, GitRepo, condition, git_repository, wait_ready


def keygen(folder: Path, name: str) -> tuple[str, str]:
    """(private key, public key) of a fresh ed25519 pair made by ssh-keygen."""
    path = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True
    )
    return path.read_text(), path.with_suffix(".pub").read_text()


def add_deploy_key(sandbox: Sandbox, repo: GitRepo, public: str) -> None:
    assert sandbox.forge is not None
    added = httpx.post(
        f"{sandbox.forge.url}/repos/{SANDBOX_USER}/{repo.name}/keys",
        json={"title": "flux", "key": public, "read_only": True},
        headers={"Authorization": f"token {sandbox.forge_token}"},
    )
    assert added.status_code == 201, added.text


def ssh_secret(namespace: str, **fields: str) -> dict[str, Any]:
    data = {
        k.replace("_pub", ".pub"): base64.b64encode(v.encode()).decode() for k, v in fields.items()
    }
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET, "namespace": namespace},
        "type": "Opaque",
        "data": data,
    }


def ssh_url(sandbox: Sandbox, repo: GitRepo) -> str:
    assert sandbox.forge is not None
    return sandbox.forge.ssh_clone_url(SANDBOX_USER, repo.name)


def test_a_deploy_key_secret_makes_the_ssh_source_ready_at_the_pushed_commit(
    sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo, tmp_path: Path
) -> None:
    assert sandbox.forge is not None
    private, public = keygen(tmp_path, "flux")
    add_deploy_key(sandbox, repo, public)
    known_hosts = sandbox.forge.ssh_known_hosts()
    kube.apply(
        ssh_secret(namespace, identity=private, identity_pub=public, known_hosts=known_hosts),
        manager="slipway",
    )

    with sandbox.forge.recording() as log:
        kube.apply(git_repository("app", namespace, ssh_url(sandbox, repo)), manager="slipway")
        obj = wait_ready(kube, "GitRepository", "app", namespace, "True")

    revision = f"main@sha1:{repo.head}"
    assert (condition(obj)["reason"], condition(obj)["message"]) == (
        "Succeeded",
        f"stored artifact for revision '{revision}'",
    )
    assert obj["status"]["artifact"]["revision"] == revision
    sessions = [r for r in log.requests() if r.method == "SSH"]
    assert sessions and {(r.path, r.query, r.status) for r in sessions} == {
        (f"/{SANDBOX_USER}/{repo.name}.git", "git-upload-pack", 0)
    }
    assert not [r for r in log.requests() if r.method != "SSH"]  # no HTTP fetch
    assert private not in json.dumps(obj)


def test_a_known_hosts_with_another_host_key_fails_with_the_mismatch(
    sandbox: Sandbox, kube: KubeEmulator, namespace: str, repo: GitRepo, tmp_path: Path
) -> None:
    assert sandbox.forge is not None
    private, public = keygen(tmp_path, "flux")
    add_deploy_key(sandbox, repo, public)
    impostor = keygen(tmp_path, "impostor")[1].split()[:2]
    wrong = f"[127.0.0.1]:{sandbox.forge.ssh_port} {' '.join(impostor)}\n"
    kube.apply(ssh_secret(namespace, identity=private, known_hosts=wrong), manager="slipway")
    url = ssh_url(sandbox, repo)

    kube.apply(git_repository("app", namespace, url), manager="slipway")
    failed = wait_ready(kube, "GitRepository", "app", namespace, "False")

    ready = condition(failed)
    assert ready["reason"] == "GitOperationFailed"
    assert ready["message"] == (
        f"failed to checkout and determine revision: unable to clone '{url}': "
        "ssh: handshake failed: knownhosts: key mismatch"
    )
    assert condition(failed, "FetchFailed")["status"] == "True"
    assert "artifact" not in failed["status"]


@pytest.mark.parametrize("missing", ["identity", "known_hosts", "secret"])
def test_an_ssh_source_without_identity_or_known_hosts_is_an_authentication_failure(
    sandbox: Sandbox,
    kube: KubeEmulator,
    namespace: str,
    repo: GitRepo,
    tmp_path: Path,
    missing: str,
) -> None:
    assert sandbox.forge is not None
    private = keygen(tmp_path, "flux")[0]
    fields = {"identity": private, "known_hosts": sandbox.forge.ssh_known_hosts()}
    fields.pop(missing, None)
    if missing != "secret":
        kube.apply(ssh_secret(namespace, **fields), manager="slipway")
    secret_name = None if missing == "secret" else SECRET
    source = git_repository("app", namespace, ssh_url(sandbox, repo), secret_name=secret_name)

    kube.apply(source, manager="slipway")
    failed = wait_ready(kube, "GitRepository", "app", namespace, "False")

    required = "identity" if missing == "secret" else missing
    assert (condition(failed)["reason"], condition(failed)["message"]) == (
        "AuthenticationFailed",
        "failed to configure authentication options: "
        f"invalid 'ssh' auth option: '{required}' is required",
    )


def test_fetch_maps_openssh_failures_to_go_git_and_leaves_no_key_file(
    sandbox: Sandbox, repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown host, refused key, another repository: go-git's words; the identity file lives
    in a private folder that is gone after each fetch, failed or not."""
    assert sandbox.forge is not None
    private, public = keygen(tmp_path, "flux")
    stray = keygen(tmp_path, "stray")[0]
    add_deploy_key(sandbox, repo, public)
    known_hosts = sandbox.forge.ssh_known_hosts()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    url = ssh_url(sandbox, repo)
    other = sandbox.forge.ssh_clone_url(SANDBOX_USER, "no-such-repo")

    def no_key_left() -> None:
        # The sandbox's Flux emulator fetches for other tests in this process meanwhile, and
        # its folders land here too while they last: wait for theirs, never for ours.
        wait_until(
            lambda: not list(scratch.iterdir()) or None,
            message="every private key folder removed",
            timeout=10,
        )

    def failure(url: str, auth: SshAuth) -> str:
        with pytest.raises(GitFetchError) as failed:
            fetch_branch(url, "main", tmp_path / "checkout", auth=auth, timeout=30)
        no_key_left()
        return str(failed.value)

    assert failure(url, SshAuth(private, "")) == (
        f"unable to clone '{url}': ssh: handshake failed: knownhosts: key is unknown"
    )
    assert failure(url, SshAuth(stray, known_hosts)) == (
        f"unable to clone '{url}': ssh: handshake failed: ssh: unable to authenticate, "
        "attempted methods [none publickey], no supported methods remain"
    )
    assert failure(other, SshAuth(private, known_hosts)) == (
        f"unable to clone '{other}': repository not found"
    )
    checkout = fetch_branch(
        url, "main", tmp_path / "checkout", auth=SshAuth(private, known_hosts), timeout=30
    )
    assert checkout.sha == repo.head
    no_key_left()
    assert "PRIVATE KEY" not in repr(SshAuth(private, known_hosts))
