"""`push_files` both ways on every forge flavour, against the emulator's real git repositories:
one pack over git smart HTTP (`PushMethod.GIT`) and the REST commit APIs (`PushMethod.API`).
What arrives, how many requests it takes (the same for 10 and 1,000 files), re-runs, a branch
someone else moved, refusals and retries."""

from __future__ import annotations

import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from slipway import __version__
from slipway.domain.errors import ForgeError, NotFound, SlipwayError
from slipway.domain.model import ForgeKind, PushMethod
from slipway.forges import FORGES, Commit, Forge, ForgeClients, Repository
from slipway.forges._snapshot import snapshot
from slipway.sandbox.forge import ForgeEmulator
from slipway.sandbox.forge import _gitstore as gitstore

from ._support import (
    CREATED_AT,
    FLAVOURS,
    OUTSIDER_TOKEN,
    TOKEN,
    WRONG_TOKEN,
    Flavour,
    accepted_writes,
    assert_no_secret,
    git_requests,
    make_forge,
    shape,
)

METHODS = list(PushMethod)
FILES = {
    "README.md": "# Shop\n\nÜnïcödé text stays text.\n".encode(),
    "k8s/base/kustomization.yaml": b"resources:\n  - deployment.yaml\n",
    "static/logo.png": bytes(range(256)) * 4,  # binary: NUL bytes, not UTF-8
    "static/empty.txt": b"",
}


def template(count: int, *, binary: bool) -> dict[str, bytes]:
    """`count` files in folders of 100, every fifth one binary when `binary`."""
    files = {}
    for i in range(count):
        data = f"index: {i}\n".encode()
        if binary and i % 5 == 0:
            data = b"\x89PNG\r\n\x1a\n\x00" + i.to_bytes(4, "big")
        files[f"k8s/part-{i // 100}/file-{i}"] = data
    return files


def history(emulator: ForgeEmulator, repo: Repository) -> list[str]:
    """The default branch's commits, newest first (first parents)."""
    stored = emulator.state.repo(repo.owner, repo.name)
    assert stored is not None
    shas: list[str] = []
    sha = gitstore.get_ref(stored.path, f"refs/heads/{repo.default_branch}")
    while sha is not None:
        shas.append(sha)
        info = gitstore.read_commit(stored.path, sha)
        assert info is not None
        sha = info.parents[0] if info.parents else None
    return shas


def files_of(emulator: ForgeEmulator, repo: Repository, sha: str) -> dict[str, bytes]:
    stored = emulator.state.repo(repo.owner, repo.name)
    assert stored is not None
    info = gitstore.read_commit(stored.path, sha)
    assert info is not None
    tree = gitstore.flatten_tree(stored.path, info.tree)
    found = {path: gitstore.read_blob(stored.path, blob) for path, (_, blob) in tree.items()}
    return {path: data for path, data in found.items() if data is not None}


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


async def new_repo(forge: Forge, name: str, owner: str | None = None) -> Repository:
    return await forge.ensure_repository(
        owner=owner, name=name, project="shop", private=True, description="Shop"
    )


async def push(forge: Forge, repo: Repository, files: dict[str, bytes]) -> Commit:
    return await forge.push_files(
        repo, files, message="Template", project="shop", committed_at=CREATED_AT
    )


async def test_the_files_arrive_exactly_in_one_commit(
    pusher: Forge, emulator: ForgeEmulator, method: PushMethod, repo_name: str
) -> None:
    repo = await new_repo(pusher, repo_name)
    commit = await pusher.push_files(
        repo, FILES, message="Template", project="shop", committed_at=CREATED_AT
    )
    assert history(emulator, repo) == [commit.sha]
    assert files_of(emulator, repo, commit.sha) == FILES
    if method is PushMethod.GIT:  # known before any request: the deterministic commit
        local = snapshot(FILES, message="Template", project="shop", committed_at=CREATED_AT)
        assert (commit.sha, commit.tree_sha) == (local.sha, local.tree_sha)


async def test_a_rerun_reads_once_and_writes_nothing(
    pusher: Forge, emulator: ForgeEmulator, method: PushMethod, repo_name: str
) -> None:
    repo = await new_repo(pusher, repo_name)
    first = await push(pusher, repo, FILES)
    with emulator.recording() as log:
        again = await push(pusher, repo, FILES)
    assert again == first
    assert accepted_writes(log.requests()) == []
    if method is PushMethod.GIT:
        assert shape(log.requests()) == [("GET", "refs", 200)]  # info/refs, no POST


async def test_a_branch_at_an_earlier_slipway_commit_is_replaced(
    pusher: Forge, emulator: ForgeEmulator, flavour: Flavour, method: PushMethod, repo_name: str
) -> None:
    """Slipway's own commit for the project (an older template) is Slipway's to replace:
    over git (and GitHub's Git Data API) by one parentless commit; GitLab's and Gitea's
    commit APIs can only commit on top, so there the files are replaced, not the history.
    Someone else's commit is never replaced (test_forge_access.py)."""
    repo = await new_repo(pusher, repo_name)
    earlier = await push(pusher, repo, {"x.txt": b"x\n", "README.md": b"old\n"})
    commit = await push(pusher, repo, FILES)
    commits = history(emulator, repo)
    if method is PushMethod.GIT or flavour.kind is ForgeKind.GITHUB:
        assert commits == [commit.sha]
    else:
        assert commits == [commit.sha, earlier.sha]
    assert files_of(emulator, repo, commit.sha) == FILES


@pytest.mark.parametrize("method", METHODS, ids=[m.value for m in METHODS])
async def test_10_and_1000_files_take_the_same_requests(
    emulator: ForgeEmulator, flavour: Flavour, method: PushMethod, repo_name: str
) -> None:
    """A whole creation, repository and first commit, with the login the connection stored.
    Over git every forge takes at most 4 requests whatever the size, binary files included;
    through the REST APIs text files ride inline (GitHub uploads each binary file apart)."""
    forge = make_forge(emulator, flavour, push=method, login="alice")
    logs = []
    for count in (10, 1000):
        files = template(count, binary=method is PushMethod.GIT)
        with emulator.recording() as log:
            repo = await new_repo(forge, f"{repo_name}-{count}")
            commit = await push(forge, repo, files)
        assert files_of(emulator, repo, commit.sha) == files
        logs.append(shape(log.requests()))
    await forge.aclose()
    assert logs[0] == logs[1]
    if method is PushMethod.GIT:
        created = logs[0][:-2]
        assert logs[0][-2:] == [("GET", "refs", 200), ("POST", "git-receive-pack", 200)]
        assert len(created) == (1 if flavour.kind is ForgeKind.GITLAB else 2)
        assert len(logs[0]) <= 4


async def test_every_request_says_slipway_and_rides_one_connection(
    emulator: ForgeEmulator, flavour: Flavour, repo_name: str
) -> None:
    """REST and git alike (githubkit too) go through the connection's one kept-alive client;
    the emulator sees one client port and Slipway's User-Agent on every request (git's
    starting with `git/`, as GitHub requires for smart HTTP)."""
    clients = ForgeClients()
    first = make_forge(emulator, flavour, clients=clients)
    second = make_forge(emulator, flavour, clients=clients)
    with emulator.recording() as log:
        repo = await new_repo(first, repo_name)
        await push(first, repo, FILES)
        await first.aclose()  # borrowed: the client stays open for the next adapter
        await push(second, repo, FILES)
        await second.aclose()
    assert len(clients) == 1
    await clients.aclose()
    assert len(clients) == 0
    requests = log.requests()
    assert len(requests) >= 4 and len(git_requests(requests)) == 3
    slipway = f"slipway/{__version__}"
    assert {r.user_agent for r in git_requests(requests)} == {f"git/2.0 {slipway}"}
    assert {r.user_agent for r in requests} == {slipway, f"git/2.0 {slipway}"}
    assert len({r.peer for r in requests}) == 1


async def test_an_adapter_without_shared_clients_keeps_its_own_connection(
    emulator: ForgeEmulator, flavour: Flavour, repo_name: str
) -> None:
    forge = make_forge(emulator, flavour)
    with emulator.recording() as log:
        repo = await new_repo(forge, repo_name)
        await push(forge, repo, FILES)
    await forge.aclose()
    assert len({r.peer for r in log.requests()}) == 1


@pytest.mark.parametrize("status", [429, 502])
async def test_rate_limits_and_server_errors_are_retried(
    pusher: Forge,
    emulator: ForgeEmulator,
    flavour: Flavour,
    method: PushMethod,
    repo_name: str,
    status: int,
) -> None:
    repo = await new_repo(pusher, repo_name)
    retry_after = 1 if status == 429 else None
    faults = 2
    if method is PushMethod.GIT:
        git = f"/alice/{repo_name}.git"
        emulator.add_fault(status, path_prefix=f"{git}/info/refs", retry_after=retry_after)
        emulator.add_fault(status, path_prefix=f"{git}/git-receive-pack")
    else:
        faults = 1 if retry_after else 2
        emulator.add_fault(
            status,
            method="POST",
            path_prefix=flavour.prefix,
            count=faults,
            retry_after=retry_after,
        )

    started = time.monotonic()
    with emulator.recording() as log:
        commit = await push(pusher, repo, FILES)
    elapsed = time.monotonic() - started

    faulted = [r for r in log.requests() if r.faulted]
    assert [r.status for r in faulted] == [status] * faults
    if retry_after:
        assert elapsed >= retry_after * 0.9  # the Retry-After was waited out
    if method is PushMethod.GIT:  # each attempt reads the branch again before pushing
        assert [(m, s) for m, _, s in shape(log.requests())] == [
            ("GET", status),
            ("GET", 200),
            ("POST", status),
            ("GET", 200),
            ("POST", 200),
        ]
    assert history(emulator, repo) == [commit.sha]


async def test_not_found_right_after_creation_is_retried_briefly_through_the_api(
    emulator: ForgeEmulator, flavour: Flavour, repo_name: str
) -> None:
    forge = make_forge(emulator, flavour, push=PushMethod.API)
    repo = await new_repo(forge, repo_name)
    emulator.add_fault(
        404, method="GET", path_prefix=flavour.prefix, count=2, message="404 Project Not Found"
    )
    commit = await push(forge, repo, FILES)
    await forge.aclose()
    assert history(emulator, repo) == [commit.sha]


@pytest.mark.parametrize(
    ("token", "error", "says"),
    [
        (WRONG_TOKEN, ForgeError, "token rejected"),
        (OUTSIDER_TOKEN, ForgeError, "may not push to acme/"),
    ],
    ids=["401", "403"],
)
async def test_git_refusals_are_not_retried(
    emulator: ForgeEmulator,
    flavour: Flavour,
    repo_name: str,
    token: str,
    error: type[SlipwayError],
    says: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    owner = make_forge(emulator, flavour)
    repo = await owner.ensure_repository(
        owner="acme", name=repo_name, project="shop", private=False, description=""
    )
    await owner.aclose()
    forge = make_forge(emulator, flavour, token)
    with emulator.recording() as log, pytest.raises(error) as caught:
        await push(forge, repo, FILES)
    await forge.aclose()
    assert says in str(caught.value) and caught.value.hint
    assert len(log.requests()) == 1  # info/refs, answered for good
    assert_no_secret(caught.value, forge, caplog, capsys)


async def test_a_repository_gone_is_not_found_over_git(
    emulator: ForgeEmulator, flavour: Flavour, repo_name: str
) -> None:
    forge = make_forge(emulator, flavour)
    repo = await new_repo(forge, repo_name)
    await forge.delete_repository(repo)
    with emulator.recording() as log, pytest.raises(NotFound, match=repo.full_name):
        await push(forge, repo, FILES)
    await forge.aclose()
    assert len(log.requests()) == 1


def refuse_updates(emulator: ForgeEmulator, repo: Repository) -> None:
    """A pre-receive hook that declines every push, as a protected branch does."""
    stored = emulator.state.repo(repo.owner, repo.name)
    assert stored is not None
    hook = Path(stored.path) / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


async def test_a_refused_branch_update_is_a_clear_error(
    emulator: ForgeEmulator,
    flavour: Flavour,
    repo_name: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """receive-pack's `ng refs/heads/main <reason>` names the branch, the repository, the
    forge and the step, with what to check; it is not retried."""
    forge = make_forge(emulator, flavour)
    repo = await new_repo(forge, repo_name)
    refuse_updates(emulator, repo)
    with emulator.recording() as log, pytest.raises(ForgeError) as caught:
        await push(forge, repo, FILES)
    await forge.aclose()
    error = caught.value
    assert f"refused to update the branch main of alice/{repo_name}" in str(error)
    assert "declined" in str(error)
    assert error.step == "create_repository" and error.system == FORGES[flavour.kind].label
    assert error.hint and "branch protection" in error.hint
    assert shape(log.requests()) == [("GET", "refs", 200), ("POST", "git-receive-pack", 200)]
    assert history(emulator, repo) == []
    assert_no_secret(error, forge, caplog, capsys)


async def test_github_api_uploads_binary_files_concurrently(repo_name: str, tmp_path: Path) -> None:
    """With 200 ms on every request, eight blobs one after the other would take 1.6 s on
    their own; at once they take about one request's time."""
    github = FLAVOURS[0]
    binary = {f"img/{i}.png": b"\x89PNG\x00" + bytes([i]) for i in range(8)}
    with ForgeEmulator(tmp_path / "slow", latency_ms=200) as slow:
        slow.add_user("alice", TOKEN)
        forge = make_forge(slow, github, push=PushMethod.API, login="alice")
        repo = await new_repo(forge, repo_name)
        started = time.monotonic()
        with slow.recording() as log:
            commit = await push(forge, repo, {**binary, "a.txt": b"a\n"})
        elapsed = time.monotonic() - started
        await forge.aclose()
        blobs = [r for r in log.requests() if r.path.endswith("/git/blobs")]
        others = len(log.requests()) - len(blobs)
        assert len(blobs) == 8 and commit.sha
    # One after the other: (others + 8) x 0.2 s at least; at once: (others + 1) x 0.2 s.
    assert elapsed < (others + 8) * 0.2 - 0.6
