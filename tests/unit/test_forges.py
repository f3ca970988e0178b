"""Pure parts of the forge adapters: the marker scheme, local tree ids, the first commit and
the git wire format, change plans, error classification, token kinds, the registry, the
factory and the shared clients. No network."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from dulwich.errors import GitProtocolError
from dulwich.protocol import pkt_line
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from slipway.domain.errors import Conflict, ForgeError, InvalidInput
from slipway.domain.model import ForgeKind
from slipway.forges import FORGES, ForgeClients, build_forge, forge_info
from slipway.forges._clients import Connection
from slipway.forges._errors import Site, classify
from slipway.forges._git_http import parse_advertisement, parse_report, update_request
from slipway.forges._marker import (
    CommitMark,
    commit_mark,
    commit_message,
    mark_description,
    project_from_description,
)
from slipway.forges._owner import unknown_owner
from slipway.forges._snapshot import snapshot
from slipway.forges._tree import blob_sha, check_paths, is_text, plan_changes, tree_sha
from slipway.forges.base import Forge, TokenKind
from slipway.forges.github import token_kind
from slipway.retry import Retryable

SITE = Site(ForgeKind.GITHUB, "https://ghe.example.com/api/v3", "push_template")
SECRET = "ghp_UnitTestSecret0123456789abcdefghijkl"


@given(st.from_regex(r"[a-z0-9][a-z0-9-]{0,30}", fullmatch=True), st.text(max_size=80))
def test_description_marker_round_trips_and_replaces_an_old_one(
    project: str, description: str
) -> None:
    marked = mark_description(mark_description(description, "old"), project)
    assert project_from_description(marked) == project
    assert marked.count("slipway:project=") == 1


def test_description_without_marker_names_no_project() -> None:
    assert project_from_description("A shop, by hand") is None
    assert project_from_description(None) is None


def test_commit_trailers_identify_slipway_commits() -> None:
    tree = "a" * 40
    message = commit_message("Template\n", project="shop", tree_sha=tree)
    assert message.startswith("Template\n\n")
    assert commit_mark(message) == CommitMark("shop", tree)
    assert commit_mark("Initial commit") is None


def test_tree_sha_matches_git_for_known_content() -> None:
    # `printf 'hello\n' | git hash-object --stdin`, and `git mktree` of that blob as hello.txt
    assert blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert tree_sha({"hello.txt": b"hello\n"}) == "aaa96ced2d9a1c8e72c56b253a0e2fe78393feb7"


def test_tree_sha_ignores_order_and_nests_folders() -> None:
    files = {"b/c.txt": b"c", "a.txt": b"a", "b/d/e.txt": b"e"}
    assert tree_sha(files) == tree_sha(dict(reversed(list(files.items()))))
    assert tree_sha(files) != tree_sha({**files, "a.txt": b"changed"})


@pytest.mark.parametrize(
    "files",
    [
        {},
        {"/abs": b""},
        {"a/../b": b""},
        {"a//b": b""},
        {".git/config": b""},
        {"a": b"", "a/b": b""},
    ],
)
def test_bad_file_sets_are_rejected_before_any_call(files: dict[str, bytes]) -> None:
    with pytest.raises(InvalidInput):
        check_paths(files)
        tree_sha(files)


def test_text_and_binary_are_told_apart() -> None:
    assert is_text("Ünïcödé\r\n".encode())
    assert not is_text(b"\x89PNG\r\n\x1a\n\x00")
    assert not is_text(b"\xff\xfe")


def test_change_plan_turns_a_tree_into_exactly_the_files() -> None:
    existing = {"same": blob_sha(b"1"), "changed": blob_sha(b"old"), "gone": blob_sha(b"x")}
    create, update, delete = plan_changes(existing, {"same": b"1", "changed": b"new", "new": b""})
    assert (create, update, delete) == (["new"], ["changed"], ["gone"])


@pytest.mark.parametrize(
    ("status", "headers", "expected_wait"),
    [
        (429, {"retry-after": "3"}, 3.0),
        (403, {"retry-after": "2"}, 2.0),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"}, 0.0),
        (502, {}, None),
        (503, {}, None),
    ],
)
def test_transient_answers_are_retryable_with_the_servers_wait(
    status: int, headers: dict[str, str], expected_wait: float | None
) -> None:
    result = classify(status, headers, site=SITE, action="create the repository")
    assert isinstance(result, Retryable)
    assert result.retry_after == expected_wait
    assert result.error.system == "GitHub" and result.error.step == "push_template"


def test_permanent_answers_name_the_forge_and_what_to_do() -> None:
    rejected = classify(401, {}, site=SITE, action="read the account")
    assert isinstance(rejected, ForgeError)
    assert "token rejected by GitHub at https://ghe.example.com/api/v3" in str(rejected)
    assert rejected.hint and "slipway forge connect github" in rejected.hint
    scope = classify(403, {}, site=SITE, action="create the repository", scope="repo")
    assert isinstance(scope, ForgeError) and "`repo` scope" in str(scope)
    taken = Conflict("taken")
    assert classify(422, {}, site=SITE, action="create", conflict=taken) is taken


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        ("ghp_x", TokenKind.PERSONAL),
        ("github_pat_x", TokenKind.FINE_GRAINED),
        ("gho_x", TokenKind.OAUTH),
        ("ghs_x", TokenKind.APP),
        ("ghu_x", TokenKind.APP),
        ("something", TokenKind.UNKNOWN),
    ],
)
def test_github_token_kind_comes_from_its_prefix(token: str, kind: TokenKind) -> None:
    assert token_kind(token) is kind


@pytest.mark.parametrize(
    ("kind", "token", "username"),
    [
        (ForgeKind.GITHUB, "ghs_" + SECRET, "x-access-token"),
        (ForgeKind.GITHUB, SECRET, "git"),
        (ForgeKind.GITLAB, SECRET, "oauth2"),
        (ForgeKind.GITEA, SECRET, "git"),
    ],
)
async def test_factory_builds_each_adapter_without_exposing_the_token(
    kind: ForgeKind, token: str, username: str
) -> None:
    forge = build_forge(kind, base_url="https://forge.example.com", token=SecretStr(token))
    assert isinstance(forge, Forge)
    assert forge.kind is kind
    assert SECRET not in repr(forge) and SECRET not in str(vars(forge))
    assert forge.git_credentials().username == username
    assert SECRET not in repr(forge.git_credentials())
    await forge.aclose()


# --- the registry --------------------------------------------------------------------------
def test_registry_entries_and_the_messages_that_derive_from_them() -> None:
    entries = {
        k: (i.label, i.default_url, i.group_word, i.nested_owners) for k, i in FORGES.items()
    }
    assert entries == {
        ForgeKind.GITHUB: ("GitHub", "https://api.github.com", "organization", False),
        ForgeKind.GITLAB: ("GitLab", "https://gitlab.com", "group", True),
        ForgeKind.GITEA: ("Gitea", None, "organization", False),
    }
    assert {k: (i.required_scopes, i.image_host) for k, i in FORGES.items()} == {
        ForgeKind.GITHUB: (("repo",), "ghcr.io"),
        ForgeKind.GITLAB: (("api",), "registry.gitlab.com"),
        ForgeKind.GITEA: (("write:repository",), "ghcr.io"),  # no registry of its own
    }
    for kind, info in FORGES.items():
        refusal = unknown_owner(Site(kind, "https://f.example"), "nobody", "alice").rule
        assert f"not a user or {info.group_word} on {info.label} at https://f.example" in refusal


@pytest.mark.parametrize(
    ("kind", "token", "login", "username"),
    [
        (ForgeKind.GITHUB, TokenKind.APP, "alice", "x-access-token"),
        (ForgeKind.GITHUB, TokenKind.OAUTH, "alice", "git"),
        (ForgeKind.GITLAB, TokenKind.OAUTH, "alice", "oauth2"),
        (ForgeKind.GITEA, TokenKind.PERSONAL, "alice", "alice"),
        (ForgeKind.GITEA, TokenKind.PERSONAL, None, "git"),
    ],
)
def test_git_username_rule_per_forge(
    kind: ForgeKind, token: TokenKind, login: str | None, username: str
) -> None:
    assert forge_info(kind).git_username(token, login) == username


# --- the first commit, built locally, and the git smart HTTP wire format ---------------------
def test_the_first_commit_is_the_same_for_the_same_inputs_and_only_then() -> None:
    files = {"README.md": b"# shop\n", "k8s/a.yaml": b"a: 1\n", "logo.png": b"\x89PNG\x00"}
    when = datetime(2026, 3, 1, 12, tzinfo=UTC)
    first = snapshot(files, message="Template", project="shop", committed_at=when)
    again = snapshot(
        dict(reversed(files.items())),
        message="Template",
        project="shop",
        committed_at=when.replace(tzinfo=None),
    )  # naive: taken as UTC
    assert first.sha == again.sha and first.tree_sha == tree_sha(files)
    later = snapshot(files, message="Template", project="shop", committed_at=when.replace(hour=13))
    other = snapshot(files, message="Template", project="other", committed_at=when)
    assert len({first.sha, later.sha, other.sha}) == 3
    commit = first.commit
    assert commit.author == commit.committer == b"Slipway <slipway@users.noreply.invalid>"
    assert commit.commit_time == int(when.timestamp()) and commit.commit_timezone == 0
    assert commit_mark(commit.message.decode()) == CommitMark("shop", first.tree_sha)
    # blobs, the two trees and the commit, each once
    assert sorted(o.type_name for o in first.objects) == [b"blob"] * 3 + [b"commit"] + [b"tree"] * 2


def test_a_pack_holds_every_object_once() -> None:
    first = snapshot(
        {"a": b"1", "b/a": b"1"},
        message="m",
        project="p",
        committed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    pack = first.pack()
    assert pack[:4] == b"PACK" and int.from_bytes(pack[8:12], "big") == len(first.objects) == 4


EMPTY_REPOSITORY = (
    b"001f# service=git-receive-pack\n0000"
    + pkt_line(b"0" * 40 + b" capabilities^{}\0report-status delete-refs agent=git/2.47\n")
    + b"0000"
)


def test_an_empty_repository_advertises_no_branch() -> None:
    advertised = parse_advertisement(EMPTY_REPOSITORY)
    assert advertised.refs == {}
    assert b"report-status" in advertised.capabilities


def test_an_advertisement_lists_every_branch() -> None:
    main, dev = "a" * 40, "b" * 40
    body = (
        pkt_line(b"# service=git-receive-pack\n")
        + b"0000"
        + pkt_line(f"{main} refs/heads/main\0report-status\n".encode())
        + pkt_line(f"{dev} refs/heads/dev\n".encode())
        + b"0000"
    )
    assert parse_advertisement(body).refs == {"refs/heads/main": main, "refs/heads/dev": dev}


def test_the_update_asks_only_for_what_the_server_offers_then_carries_the_pack() -> None:
    old, new = "0" * 40, "c" * 40
    body = update_request("refs/heads/main", old, new, b"PACK...", frozenset({b"report-status"}))
    assert body == pkt_line(f"{old} {new} refs/heads/main\0report-status".encode()) + b"0000PACK..."


def test_the_report_tells_each_branch_apart() -> None:
    body = pkt_line(b"unpack ok\n") + pkt_line(b"ng refs/heads/main pre-receive hook declined\n")
    report = parse_report(body + pkt_line(b"ok refs/heads/dev\n") + b"0000")
    assert report.unpack == "ok"
    assert report.refs == {"refs/heads/main": "pre-receive hook declined", "refs/heads/dev": None}
    with pytest.raises(GitProtocolError):
        parse_report(b"0000")


# --- one client per connection --------------------------------------------------------------
def test_a_connection_is_told_apart_by_a_fingerprint_never_the_token() -> None:
    one = Connection.of(ForgeKind.GITHUB, "https://api.github.com/", SecretStr(SECRET))
    assert one == Connection.of(ForgeKind.GITHUB, "https://api.github.com", SecretStr(SECRET))
    assert one != Connection.of(ForgeKind.GITHUB, "https://api.github.com", SecretStr("ghp_x"))
    assert one != Connection.of(ForgeKind.GITEA, "https://api.github.com", SecretStr(SECRET))
    assert SECRET not in repr(one) and SECRET[:8] not in one.fingerprint


def test_shared_clients_serve_one_event_loop_at_a_time() -> None:
    clients = ForgeClients()
    connection = Connection.of(ForgeKind.GITEA, "https://gitea.example.com", SecretStr(SECRET))

    async def use() -> httpx.AsyncClient:
        first = clients.client(connection, httpx.AsyncClient)
        assert clients.client(connection, httpx.AsyncClient) is first
        return first

    async def close() -> None:
        await clients.aclose()

    client = asyncio.run(use())
    with pytest.raises(RuntimeError, match="another event loop"):
        asyncio.run(use())
    assert not client.is_closed
    asyncio.run(close())
    assert client.is_closed and len(clients) == 0
    asyncio.run(use())  # closed, it may serve another loop
    asyncio.run(close())
    assert SECRET not in repr(clients)
