"""What Slipway may touch on a forge, and how Flux gets in, on every forge flavour against the
emulator: the installation in the repository marker (reuse, conflict, `adopt`), a branch
holding someone else's commit never rewritten (both push methods), read-only deploy keys
(idempotent add and remove, a key of another repository refused), the SSH host's known_hosts,
and a clone by the real OpenSSH client with the generated key."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest
from tests.support.commands import git, git_refused

from slipway.domain.errors import Conflict, ForgeError, InvalidInput, SlipwayError
from slipway.domain.model import ForgeKind, PushMethod
from slipway.forges import (
    Commit,
    DeployKey,
    Forge,
    Repository,
    SSHKeyPair,
    generate_deploy_key,
    scan_known_hosts,
    ssh_clone_url,
)
from slipway.forges._ssh import forget_known_hosts
from slipway.sandbox.forge import ForgeEmulator
from slipway.sandbox.forge import _gitstore as gitstore
from slipway.sandbox.forge._common import commit_files, commit_initial_readme

from ._support import (
    CREATED_AT,
    OUTSIDER_TOKEN,
    Flavour,
    accepted_writes,
    api_calls,
    assert_no_secret,
    git_requests,
    make_forge,
    working_tree,
)

HERE = "0123456789abcdef"  # this installation
OTHER = "fedcba9876543210"  # another installation, on the same forge
FILES = {"README.md": b"# shop\n", "k8s/kustomization.yaml": b"resources: []\n"}
METHODS = list(PushMethod)


async def ensure(
    forge: Forge,
    name: str,
    *,
    installation: str | None = HERE,
    adopt: bool = False,
    project: str = "shop",
) -> Repository:
    return await forge.ensure_repository(
        owner=None,
        name=name,
        project=project,
        private=True,
        description="Shop",
        installation=installation,
        adopt=adopt,
    )


def stored_description(emulator: ForgeEmulator, name: str) -> str:
    stored = emulator.state.repo("alice", name)
    assert stored is not None
    return stored.description


def branch_head(emulator: ForgeEmulator, repo: Repository) -> str | None:
    stored = emulator.state.repo(repo.owner, repo.name)
    assert stored is not None
    return gitstore.get_ref(stored.path, f"refs/heads/{repo.default_branch}")


def history(emulator: ForgeEmulator, repo: Repository) -> list[str]:
    stored = emulator.state.repo(repo.owner, repo.name)
    assert stored is not None
    shas: list[str] = []
    sha = branch_head(emulator, repo)
    while sha is not None:
        shas.append(sha)
        info = gitstore.read_commit(stored.path, sha)
        assert info is not None
        sha = info.parents[0] if info.parents else None
    return shas


# --- the installation in the marker -------------------------------------------------------------
async def test_the_marker_names_the_installation_and_a_rerun_reuses_it(
    forge: Forge, emulator: ForgeEmulator, repo_name: str
) -> None:
    repo = await ensure(forge, repo_name)
    assert (repo.project, repo.installation) == ("shop", HERE)
    assert repo.ssh_url == emulator.ssh_clone_url("alice", repo_name)
    assert (
        stored_description(emulator, repo_name)
        == f"Shop [slipway:project=shop installation={HERE}]"
    )
    emulator.clear_requests()
    assert await ensure(forge, repo_name) == repo
    assert accepted_writes(api_calls(emulator)) == []


@pytest.mark.parametrize(
    ("marker", "named"),
    [
        (f"[slipway:project=shop installation={OTHER}]", OTHER),
        ("[slipway:project=shop]", "its marker predates installation ids"),
    ],
    ids=["other-installation", "old-marker"],
)
async def test_another_installations_repository_is_a_conflict_until_adopted(
    forge: Forge, emulator: ForgeEmulator, repo_name: str, marker: str, named: str
) -> None:
    emulator.state.create_repo("alice", repo_name, description=f"Theirs {marker}")
    emulator.clear_requests()
    with pytest.raises(Conflict) as caught:
        await ensure(forge, repo_name)
    error = caught.value
    assert "belongs to project shop of another Slipway installation" in error.message
    assert named in error.message and HERE in error.message
    assert error.hint and "--adopt" in error.hint
    assert accepted_writes(api_calls(emulator)) == []
    assert stored_description(emulator, repo_name) == f"Theirs {marker}"

    emulator.clear_requests()
    adopted = await ensure(forge, repo_name, adopt=True)
    assert (adopted.project, adopted.installation) == ("shop", HERE)
    assert stored_description(emulator, repo_name) == (
        f"Theirs [slipway:project=shop installation={HERE}]"
    )
    assert len(accepted_writes(api_calls(emulator))) == 1  # the description, once
    assert await ensure(forge, repo_name) == adopted  # now ours: no adopt needed


@pytest.mark.parametrize(
    "description", ["By hand", f"[slipway:project=other installation={OTHER}]"]
)
async def test_adopt_never_takes_another_projects_or_an_unmarked_repository(
    forge: Forge, emulator: ForgeEmulator, repo_name: str, description: str
) -> None:
    emulator.state.create_repo("alice", repo_name, description=description)
    emulator.clear_requests()
    with pytest.raises(Conflict, match=f"alice/{repo_name} already exists"):
        await ensure(forge, repo_name, adopt=True)
    assert accepted_writes(api_calls(emulator)) == []
    assert stored_description(emulator, repo_name) == description


async def test_an_installation_id_that_would_not_read_back_is_refused(
    forge: Forge, emulator: ForgeEmulator, repo_name: str
) -> None:
    with pytest.raises(InvalidInput, match="installation"):
        await ensure(forge, repo_name, installation="Not-Hex")
    assert emulator.state.repo("alice", repo_name) is None


# --- never rewrite a commit Slipway did not write -------------------------------------------------
@pytest.fixture(params=METHODS, ids=[m.value for m in METHODS])
def method(request: pytest.FixtureRequest) -> PushMethod:
    chosen: PushMethod = request.param
    return chosen


@pytest.fixture
async def pusher(
    emulator: ForgeEmulator, flavour: Flavour, method: PushMethod
) -> AsyncIterator[Forge]:
    emulator.clear_faults()
    forge = make_forge(emulator, flavour, push=method, login="alice")
    yield forge
    await forge.aclose()


async def push(forge: Forge, repo: Repository, *, adopt: bool = False) -> Commit:
    return await forge.push_files(
        repo, FILES, message="Template", project="shop", committed_at=CREATED_AT, adopt=adopt
    )


@pytest.mark.parametrize("where", ["instead", "on-top"])
async def test_someone_elses_commit_is_kept_and_the_push_refused(
    pusher: Forge, emulator: ForgeEmulator, repo_name: str, where: str
) -> None:
    repo = await ensure(pusher, repo_name)
    stored = emulator.state.repo("alice", repo_name)
    assert stored is not None
    base = None
    if where == "on-top":
        await push(pusher, repo)
        base = branch_head(emulator, repo)
    theirs = commit_files(
        stored,
        branch="main",
        changes={"mine.txt": b"mine\n"},
        message="mine",
        author="bob",
        base=base,
    )
    before = history(emulator, repo)
    with emulator.recording() as log, pytest.raises(Conflict) as caught:
        await push(pusher, repo)
    error = caught.value
    assert error.message == (
        f"the branch main of alice/{repo_name} holds commit {theirs[:12]} that Slipway did "
        "not write; Slipway never rewrites it"
    )
    assert error.hint and "yourself" in error.hint and "--adopt" in error.hint
    assert history(emulator, repo) == before
    assert accepted_writes(log.requests()) == []
    assert [r for r in git_requests(log.requests()) if r.method == "POST"] == []


async def test_adopt_keeps_someone_elses_branch_and_returns_its_head(
    pusher: Forge, emulator: ForgeEmulator, repo_name: str
) -> None:
    repo = await ensure(pusher, repo_name)
    stored = emulator.state.repo("alice", repo_name)
    assert stored is not None
    theirs = commit_files(
        stored,
        branch="main",
        changes={"a/b.txt": b"b\n", "c.txt": b"c\n"},
        message="mine",
        author="bob",
        base=None,
    )
    info = gitstore.read_commit(stored.path, theirs)
    assert info is not None
    commit = await push(pusher, repo, adopt=True)
    assert commit == Commit(sha=theirs, tree_sha=info.tree, kept=True)
    assert history(emulator, repo) == [theirs]


async def test_the_forges_own_initial_commit_is_replaced(
    pusher: Forge, emulator: ForgeEmulator, flavour: Flavour, method: PushMethod, repo_name: str
) -> None:
    """A repository created with auto_init holds the forge's parentless "Initial commit":
    over git (and GitHub's Git Data API) it is replaced; GitLab's and Gitea's commit APIs
    commit on top of it, replacing its files."""
    stored = emulator.state.create_repo(
        "alice", repo_name, description=f"[slipway:project=shop installation={HERE}]"
    )
    readme = commit_initial_readme(stored, author="alice")
    repo = await ensure(pusher, repo_name)
    commit = await push(pusher, repo)
    on_top = method is PushMethod.API and flavour.kind is not ForgeKind.GITHUB
    assert history(emulator, repo) == ([commit.sha, readme] if on_top else [commit.sha])
    info = gitstore.read_commit(stored.path, commit.sha)
    assert info is not None
    files = gitstore.flatten_tree(stored.path, info.tree)
    assert {path: gitstore.read_blob(stored.path, blob) for path, (_, blob) in files.items()} == (
        FILES
    )


# --- deploy keys ---------------------------------------------------------------------------------
async def test_a_deploy_key_is_added_once_listed_and_removed_idempotently(
    forge: Forge, emulator: ForgeEmulator, repo_name: str
) -> None:
    repo = await ensure(forge, repo_name)
    pair = generate_deploy_key(f"slipway:{repo_name}")
    first = await forge.add_deploy_key(repo, title="flux", public_key=pair.public_key)
    again = await forge.add_deploy_key(repo, title="flux", public_key=pair.public_key)
    assert again == first
    assert first.read_only and first.title == "flux"
    assert first.public_key.split()[:2] == pair.public_key.split()[:2]
    assert await forge.list_deploy_keys(repo) == [first]

    await forge.remove_deploy_key(repo, first.id)
    await forge.remove_deploy_key(repo, first.id)
    assert await forge.list_deploy_keys(repo) == []


async def test_a_key_serving_another_accounts_repository_is_a_conflict_where_not_shared(
    forge: Forge,
    emulator: ForgeEmulator,
    flavour: Flavour,
    repo_name: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GitHub lets a key serve one repository; GitLab shares one only among projects the
    user manages; Gitea shares keys freely, so there the key is simply added."""
    bob = make_forge(emulator, flavour, OUTSIDER_TOKEN)
    theirs = await ensure(bob, f"{repo_name}-bob")
    pair = generate_deploy_key("shared")
    await bob.add_deploy_key(theirs, title="flux", public_key=pair.public_key)
    await bob.aclose()
    mine = await ensure(forge, repo_name)
    if flavour.kind is ForgeKind.GITEA:
        added = await forge.add_deploy_key(mine, title="flux", public_key=pair.public_key)
        assert await forge.list_deploy_keys(mine) == [added]
        return
    with pytest.raises(Conflict, match=f"deploy key flux for alice/{repo_name}") as caught:
        await forge.add_deploy_key(mine, title="flux", public_key=pair.public_key)
    assert caught.value.hint
    assert await forge.list_deploy_keys(mine) == []
    assert_private_key_hidden(caught.value, pair)
    assert_no_secret(caught.value, forge, caplog, capsys)


async def test_a_forge_refusing_deploy_keys_points_at_token_auth(
    forge: Forge,
    emulator: ForgeEmulator,
    flavour: Flavour,
    repo_name: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A token that may push but not administer the repository (GitHub hides the keys with a
    404, GitLab and Gitea answer 403)."""
    repo = await forge.ensure_repository(
        owner="acme", name=repo_name, project="shop", private=False, description=""
    )
    outsider = make_forge(emulator, flavour, OUTSIDER_TOKEN)
    pair = generate_deploy_key("flux")
    for call in (
        outsider.add_deploy_key(repo, title="flux", public_key=pair.public_key),
        outsider.list_deploy_keys(repo),
    ):
        with pytest.raises(ForgeError) as caught:
            await call
        assert f"refused to manage the deploy keys of acme/{repo_name}" in caught.value.message
        assert caught.value.hint and "--git-auth token" in caught.value.hint
        assert_private_key_hidden(caught.value, pair)
        assert_no_secret(caught.value, outsider, caplog, capsys)
    await outsider.aclose()


def assert_private_key_hidden(error: BaseException, pair: SSHKeyPair) -> None:
    secret = pair.private_key.get_secret_value()
    body = "".join(secret.splitlines()[1:-1])  # the base64 lines, without the PEM frame
    for text in (str(error), repr(error), repr(pair)):
        assert secret not in text and body[:40] not in text
    if isinstance(error, SlipwayError):
        assert body[:40] not in str(error.to_dict())


def test_the_key_pair_is_openssh_ed25519_and_its_repr_hides_the_private_key() -> None:
    pair = generate_deploy_key("slipway:shop")
    assert pair.public_key.startswith("ssh-ed25519 AAAA") and pair.public_key.endswith(
        " slipway:shop"
    )
    secret = pair.private_key.get_secret_value()
    assert secret.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert secret not in repr(pair) and secret.splitlines()[1] not in repr(pair)
    assert generate_deploy_key("x").public_key != generate_deploy_key("x").public_key


# --- SSH: known_hosts and a clone by OpenSSH ------------------------------------------------------
async def test_known_hosts_are_the_forges_host_key(
    forge: Forge, emulator: ForgeEmulator, repo_name: str
) -> None:
    forget_known_hosts()
    repo = await ensure(forge, repo_name)
    scanned = await forge.ssh_known_hosts(repo)
    assert scanned.strip() == emulator.ssh_known_hosts().strip()


async def test_a_host_is_scanned_once_per_process() -> None:
    """A second scan of the same host and port reuses the first: an SSH server of the
    test's own counts the connections."""
    connections: list[object] = []

    class Counting(asyncssh.SSHServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            connections.append(conn)

    host_key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(Counting, "127.0.0.1", 0, server_host_keys=[host_key])
    port = server.sockets[0].getsockname()[1]
    url = f"ssh://git@127.0.0.1:{port}/o/r.git"
    try:
        forget_known_hosts()
        first = await scan_known_hosts(url, timeout=5)
        seen = len(connections)
        assert await scan_known_hosts(url, timeout=5) == first
        assert len(connections) == seen > 0
    finally:
        server.close()
    public = host_key.export_public_key("openssh").decode().split()[:2]
    assert first == f"[127.0.0.1]:{port} {' '.join(public)}\n"


@pytest.mark.parametrize(
    ("given", "flux"),
    [
        ("git@github.com:acme/shop.git", "ssh://git@github.com/acme/shop.git"),
        ("git@ghe.example.com:acme/shop.git", "ssh://git@ghe.example.com/acme/shop.git"),
        ("ssh://git@127.0.0.1:2222/acme/shop.git", "ssh://git@127.0.0.1:2222/acme/shop.git"),
        ("", ""),
    ],
)
def test_scp_like_clone_urls_become_flux_ssh_urls(given: str, flux: str) -> None:
    assert ssh_clone_url(given) == flux


async def test_an_unreachable_ssh_host_is_a_forge_error_naming_it() -> None:
    with pytest.raises(ForgeError, match=r"could not read the SSH host key of 127\.0\.0\.1:9"):
        await scan_known_hosts("ssh://git@127.0.0.1:9/o/r.git", timeout=2)


async def test_flux_can_clone_with_the_deploy_key_over_openssh(
    forge: Forge, repo_name: str, tmp_path: Path
) -> None:
    repo = await ensure(forge, repo_name)
    await forge.push_files(repo, FILES, message="Template", project="shop", committed_at=CREATED_AT)
    pair = generate_deploy_key(f"slipway:{repo_name}")
    key_file = tmp_path / "id_ed25519"
    key_file.write_text(pair.private_key.get_secret_value())
    key_file.chmod(stat.S_IRUSR | stat.S_IWUSR)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(await forge.ssh_known_hosts(repo))
    ssh = (
        f"ssh -F /dev/null -i {key_file} -o IdentitiesOnly=yes -o BatchMode=yes "
        f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"
    )
    clone = tmp_path / "clone"
    # Before the key is on the repository, the forge turns it away.
    git_refused(tmp_path, "-c", f"core.sshCommand={ssh}", "clone", repo.ssh_url, str(clone))

    key: DeployKey = await forge.add_deploy_key(repo, title="flux", public_key=pair.public_key)
    git(tmp_path, "-c", f"core.sshCommand={ssh}", "clone", repo.ssh_url, str(clone))
    assert working_tree(clone) == FILES
    await forge.remove_deploy_key(repo, key.id)
