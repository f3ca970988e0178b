"""git over SSH to the forge emulator with the real OpenSSH client, as Flux uses a deploy key:
a repository's read-only key clones that repository and nothing else, cannot push, and the
client verifies the emulator's host key against known_hosts."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.support.commands import git, git_refused

from slipway.sandbox.forge import ForgeEmulator

from ._support import TOKEN

AUTH = {"Authorization": f"token {TOKEN}"}
READ_ONLY = "ERROR: The key you are authenticating with has been marked as read only."


@dataclass(frozen=True)
class Key:
    private: Path
    public: str


def keygen(folder: Path, name: str) -> Key:
    """A fresh ed25519 key pair made by ssh-keygen, without a passphrase."""
    path = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)], check=True
    )
    return Key(path, path.with_suffix(".pub").read_text())


def ssh_env(key: Key, known_hosts: Path) -> dict[str, str]:
    """git's environment with the exact OpenSSH command the task prescribes (plus BatchMode, so a
    refusal can never turn into a prompt)."""
    command = (
        f"ssh -i {key.private} -o IdentitiesOnly=yes -o UserKnownHostsFile={known_hosts} "
        "-o StrictHostKeyChecking=yes -o BatchMode=yes -F /dev/null"
    )
    return {**os.environ, "GIT_SSH_COMMAND": command, "GIT_TERMINAL_PROMPT": "0"}


def run_git(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def new_repo(emulator: ForgeEmulator) -> str:
    """A private repository of alice's with one commit (GitHub's auto_init README)."""
    name = f"ssh-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{emulator.url}/user/repos",
        json={"name": name, "private": True, "auto_init": True},
        headers=AUTH,
    )
    assert created.status_code == 201, created.text
    return name


def add_deploy_key(emulator: ForgeEmulator, name: str, key: Key, *, read_only: bool) -> int:
    added = httpx.post(
        f"{emulator.url}/repos/alice/{name}/keys",
        json={"title": "flux", "key": key.public, "read_only": read_only},
        headers=AUTH,
    )
    assert added.status_code == 201, added.text
    key_id: int = added.json()["id"]
    return key_id


def branch_head(emulator: ForgeEmulator, name: str, branch: str = "main") -> str | None:
    found = httpx.get(f"{emulator.url}/repos/alice/{name}/git/ref/heads/{branch}", headers=AUTH)
    return str(found.json()["object"]["sha"]) if found.status_code == 200 else None


@pytest.fixture
def known_hosts(emulator: ForgeEmulator, tmp_path: Path) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(emulator.ssh_known_hosts())
    return path


def test_read_only_deploy_key_clones_its_repository_and_the_log_records_the_session(
    emulator: ForgeEmulator, tmp_path: Path, known_hosts: Path
) -> None:
    name = new_repo(emulator)
    key = keygen(tmp_path, "flux")
    add_deploy_key(emulator, name, key, read_only=True)
    url = emulator.ssh_clone_url("alice", name)
    assert url == f"ssh://git@127.0.0.1:{emulator.ssh_port}/alice/{name}.git"

    with emulator.recording() as log:
        cloned = run_git(ssh_env(key, known_hosts), "clone", url, str(tmp_path / "work"))

    assert cloned.returncode == 0, cloned.stderr
    assert (tmp_path / "work" / "README.md").read_text() == f"# {name}\n"
    assert git(tmp_path / "work", "rev-parse", "HEAD") == branch_head(emulator, name)
    [session] = log.requests()
    assert (session.method, session.path, session.query, session.status) == (
        "SSH",
        f"/alice/{name}.git",
        "git-upload-pack",
        0,
    )
    assert session.user_agent.startswith("SSH-2.0-OpenSSH")
    listed = httpx.get(f"{emulator.url}/repos/alice/{name}/keys", headers=AUTH).json()
    assert listed[0]["last_used"] is not None


def test_push_with_a_read_only_key_is_refused_with_githubs_message(
    emulator: ForgeEmulator, tmp_path: Path, known_hosts: Path
) -> None:
    name = new_repo(emulator)
    key = keygen(tmp_path, "flux")
    add_deploy_key(emulator, name, key, read_only=True)
    env = ssh_env(key, known_hosts)
    work = tmp_path / "work"
    assert run_git(env, "clone", emulator.ssh_clone_url("alice", name), str(work)).returncode == 0
    before = branch_head(emulator, name)
    (work / "change.txt").write_text("change\n")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "change")

    with emulator.recording() as log:
        pushed = run_git(env, "-C", str(work), "push", "origin", "HEAD:main")

    assert pushed.returncode != 0
    assert READ_ONLY in pushed.stderr
    assert branch_head(emulator, name) == before
    assert [(r.method, r.query, r.status) for r in log.requests()] == [
        ("SSH", "git-receive-pack", 1)
    ]


def test_a_read_write_deploy_key_pushes(
    emulator: ForgeEmulator, tmp_path: Path, known_hosts: Path
) -> None:
    name = new_repo(emulator)
    key = keygen(tmp_path, "writer")
    add_deploy_key(emulator, name, key, read_only=False)
    env = ssh_env(key, known_hosts)
    work = tmp_path / "work"
    assert run_git(env, "clone", emulator.ssh_clone_url("alice", name), str(work)).returncode == 0
    (work / "change.txt").write_text("change\n")
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "change")

    pushed = run_git(env, "-C", str(work), "push", "origin", "HEAD:main")

    assert pushed.returncode == 0, pushed.stderr
    assert branch_head(emulator, name) == git(work, "rev-parse", "HEAD")


def test_a_deploy_key_cannot_clone_another_repository(
    emulator: ForgeEmulator, tmp_path: Path, known_hosts: Path
) -> None:
    own, other = new_repo(emulator), new_repo(emulator)
    key = keygen(tmp_path, "flux")
    add_deploy_key(emulator, own, key, read_only=True)

    cloned = run_git(
        ssh_env(key, known_hosts),
        "clone",
        emulator.ssh_clone_url("alice", other),
        str(tmp_path / "work"),
    )

    assert cloned.returncode != 0
    assert "ERROR: Repository not found." in cloned.stderr
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize("how", ["on no repository", "deleted", "repository deleted"])
def test_a_key_that_is_no_deploy_key_is_refused_at_authentication(
    emulator: ForgeEmulator, tmp_path: Path, known_hosts: Path, how: str
) -> None:
    name = new_repo(emulator)
    key = keygen(tmp_path, "stray")
    if how == "deleted":
        key_id = add_deploy_key(emulator, name, key, read_only=True)
        deleted = httpx.delete(f"{emulator.url}/repos/alice/{name}/keys/{key_id}", headers=AUTH)
        assert deleted.status_code == 204
    elif how == "repository deleted":
        add_deploy_key(emulator, name, key, read_only=True)
        assert httpx.delete(f"{emulator.url}/repos/alice/{name}", headers=AUTH).status_code == 204
        name = new_repo(emulator)  # a repository to ask for; the key is on none

    work = tmp_path / "work"
    cloned = run_git(
        ssh_env(key, known_hosts), "clone", emulator.ssh_clone_url("alice", name), str(work)
    )

    assert cloned.returncode != 0
    assert "Permission denied (publickey)" in cloned.stderr
    assert not work.exists()


def test_a_host_key_other_than_the_emulators_fails_verification(
    emulator: ForgeEmulator, tmp_path: Path
) -> None:
    name = new_repo(emulator)
    key = keygen(tmp_path, "flux")
    add_deploy_key(emulator, name, key, read_only=True)
    impostor = keygen(tmp_path, "impostor").public.split()[:2]
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"[127.0.0.1]:{emulator.ssh_port} {' '.join(impostor)}\n")
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    url = emulator.ssh_clone_url("alice", name)

    mismatch = run_git(ssh_env(key, wrong), "clone", url, str(tmp_path / "a"))
    unknown = run_git(ssh_env(key, empty), "clone", url, str(tmp_path / "b"))

    assert mismatch.returncode != 0 and unknown.returncode != 0
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in mismatch.stderr
    assert "Host key verification failed." in mismatch.stderr
    assert "Host key verification failed." in unknown.stderr


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ((), "does not provide shell access"),
        (("ls", "-la"), "ERROR: Invalid command: ls -la"),
        (("git-upload-pack",), "ERROR: Invalid command: git-upload-pack"),
    ],
    ids=["shell", "other-command", "no-repository"],
)
def test_anything_but_git_is_refused_without_a_shell(
    emulator: ForgeEmulator,
    tmp_path: Path,
    known_hosts: Path,
    command: tuple[str, ...],
    expected: str,
) -> None:
    name = new_repo(emulator)
    key = keygen(tmp_path, "flux")
    add_deploy_key(emulator, name, key, read_only=True)

    done = subprocess.run(
        [
            "ssh",
            "-F",
            "/dev/null",
            "-T",
            "-i",
            str(key.private),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-p",
            str(emulator.ssh_port),
            "git@127.0.0.1",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        check=False,
    )

    assert done.returncode == 1
    assert expected in done.stderr
    assert done.stdout == ""


def test_repository_json_gives_the_ssh_url_on_every_flavour(emulator: ForgeEmulator) -> None:
    name = new_repo(emulator)
    expected = emulator.ssh_clone_url("alice", name)

    github = httpx.get(f"{emulator.url}/repos/alice/{name}", headers=AUTH).json()
    enterprise = httpx.get(f"{emulator.url}/api/v3/repos/alice/{name}", headers=AUTH).json()
    gitlab = httpx.get(f"{emulator.url}/api/v4/projects/alice%2F{name}", headers=AUTH).json()
    gitea = httpx.get(f"{emulator.url}/api/v1/repos/alice/{name}", headers=AUTH).json()

    assert github["ssh_url"] == enterprise["ssh_url"] == expected
    assert gitlab["ssh_url_to_repo"] == gitea["ssh_url"] == expected


def test_the_host_key_is_kept_under_the_root_across_restarts(tmp_path: Path) -> None:
    with ForgeEmulator(tmp_path / "forge") as first:
        before = first.ssh_known_hosts().split(" ", 1)[1]
    with ForgeEmulator(tmp_path / "forge") as second:
        after, port = second.ssh_known_hosts(), second.ssh_port

    assert after == f"[127.0.0.1]:{port} {before}"
    assert after.split()[1] == "ssh-ed25519"
    key_files = [p for p in (tmp_path / "forge").rglob("*") if p.is_file()]
    assert len(key_files) == 1
    assert key_files[0].stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" in key_files[0].read_text()


def test_a_refused_session_is_recorded_with_the_path_asked_for(
    emulator: ForgeEmulator, tmp_path: Path, known_hosts: Path
) -> None:
    own = new_repo(emulator)
    key = keygen(tmp_path, "flux")
    add_deploy_key(emulator, own, key, read_only=True)
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "--quiet")
    git(work, "config", "core.sshCommand", ssh_env(key, known_hosts)["GIT_SSH_COMMAND"])

    with emulator.recording() as log:
        stderr = git_refused(work, "ls-remote", emulator.ssh_clone_url("alice", "nope"))

    assert "ERROR: Repository not found." in stderr
    assert [(r.method, r.path, r.query, r.status) for r in log.requests()] == [
        ("SSH", "/alice/nope.git", "git-upload-pack", 1)
    ]
