"""The emulator itself, seen from plain HTTP: real-looking 404s for unknown routes, the
request log, the fault API and latency."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from slipway.sandbox.forge import ForgeEmulator

from ._support import FLAVOURS, TOKEN, make_forge

CREATED_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/no/such/route", {"message": "Not Found"}),
        ("/repos/alice", {"message": "Not Found"}),
        ("/api/v3/nothing-here", {"message": "Not Found"}),
        ("/api/v4/nothing-here", {"error": "404 Not Found"}),
        ("/api/v4/projects/999999", {"message": "404 Project Not Found"}),
        ("/api/v1/nothing-here", {"message": "not found"}),
        ("/api/v1/repos/nobody/nothing", {"message": "The target couldn't be found."}),
        ("/alice/missing.git/info/refs", None),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_unknown_routes_answer_404_never_500(
    emulator: ForgeEmulator, path: str, shape: dict[str, str] | None, method: str
) -> None:
    response = httpx.request(
        method, emulator.url + path, headers={"Authorization": f"token {TOKEN}"}
    )
    assert response.status_code == 404
    if shape is None:
        return
    body = response.json()  # JSON like the real service, whatever the method
    if method == "GET":
        assert {k: body[k] for k in shape} == shape


def test_github_responses_carry_rate_limit_and_scope_headers(emulator: ForgeEmulator) -> None:
    response = httpx.get(emulator.url + "/user", headers={"Authorization": f"token {TOKEN}"})
    assert response.status_code == 200
    assert int(response.headers["x-ratelimit-limit"]) >= int(
        response.headers["x-ratelimit-remaining"]
    )
    assert int(response.headers["x-ratelimit-reset"]) > time.time()
    assert "repo" in response.headers["x-oauth-scopes"]
    bad = httpx.get(emulator.url + "/user", headers={"Authorization": "token nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"


def test_request_log_records_method_path_status_and_never_credentials(
    emulator: ForgeEmulator,
) -> None:
    with httpx.Client(base_url=emulator.url) as client:
        assert client.delete("/_sandbox/requests").status_code == 204
        client.get("/user", headers={"Authorization": f"token {TOKEN}"})
        client.get("/api/v4/user", headers={"Authorization": "Bearer wrong"})
        log = client.get("/_sandbox/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/user", 200),
        ("GET", "/api/v4/user", 401),
    ]
    assert TOKEN not in str(log) and "wrong" not in str(log)


def test_request_log_tells_whose_request_it_was_and_on_which_connection(
    emulator: ForgeEmulator,
) -> None:
    with emulator.recording() as log:
        with httpx.Client(base_url=emulator.url, headers={"User-Agent": "tester/1"}) as one:
            one.get("/user")
            one.get("/api/v1/user")
        with httpx.Client(base_url=emulator.url) as other:
            other.get("/user")
            faulted = other.post("/_sandbox/faults", json={"status": 502, "path_prefix": "/x"})
            assert faulted.status_code == 201
            other.get("/x")
    first, second, third, fault = log.requests()
    assert [r.user_agent for r in (first, second)] == ["tester/1", "tester/1"]
    assert third.user_agent.startswith("python-httpx/") and fault.faulted
    assert first.peer == second.peer and third.peer == fault.peer != first.peer
    listed = httpx.get(emulator.url + "/_sandbox/requests").json()["requests"]
    assert {"user_agent", "peer"} <= set(listed[-1])


def test_faults_scripted_over_http_hit_the_next_matching_requests(
    emulator: ForgeEmulator,
) -> None:
    with httpx.Client(base_url=emulator.url, headers={"Authorization": f"token {TOKEN}"}) as c:
        created = c.post(
            "/_sandbox/faults",
            json={"status": 429, "path_prefix": "/api/v1/user", "count": 2, "retry_after": 7},
        )
        assert created.status_code == 201
        assert c.get("/user").status_code == 200  # another path: untouched
        first, second = c.get("/api/v1/user"), c.get("/api/v1/user")
        assert (first.status_code, first.headers["retry-after"]) == (429, "7")
        assert second.status_code == 429
        assert c.get("/api/v1/user").status_code == 200  # the fault is used up
        assert c.get("/_sandbox/faults").json() == {"faults": []}
        c.post("/_sandbox/faults", json={"status": 502})
        assert c.delete("/_sandbox/faults").status_code == 204
        assert c.get("/api/v1/user").status_code == 200
        assert c.post("/_sandbox/faults", json={"status": "soon"}).status_code == 422


def test_latency_is_added_to_every_request(tmp_path: object) -> None:
    with ForgeEmulator(latency_ms=150) as slow:
        started = time.monotonic()
        httpx.get(slow.url + "/no-such-route")
        assert time.monotonic() - started >= 0.15


def test_latency_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_SANDBOX_LATENCY_MS", "25")
    emulator = ForgeEmulator()
    try:
        assert emulator.state.latency_ms == 25
    finally:
        emulator.stop()


@pytest.mark.parametrize(
    ("flavour_id", "listing"),
    [
        ("github", "/repos/alice/{name}/git/trees/{sha}"),
        ("gitea", "/api/v1/repos/alice/{name}/git/trees/{sha}"),
    ],
)
async def test_tree_listings_show_directories_like_git_ls_tree(
    emulator: ForgeEmulator, repo_name: str, flavour_id: str, listing: str
) -> None:
    """One level lists a directory as a `tree` entry; `recursive` lists it and its contents."""
    flavour = next(f for f in FLAVOURS if f.id == flavour_id)
    forge = make_forge(emulator, flavour)
    try:
        repo = await forge.ensure_repository(
            owner=None, name=repo_name, project="shop", private=True, description=""
        )
        commit = await forge.push_files(
            repo,
            {"README.md": b"r\n", "k8s/base/a.yaml": b"a: 1\n"},
            message="m",
            project="shop",
            committed_at=CREATED_AT,
        )
    finally:
        await forge.aclose()
    path = emulator.url + listing.format(name=repo_name, sha=commit.tree_sha)
    headers = {"Authorization": f"token {TOKEN}"}

    top = httpx.get(path, headers=headers).json()["tree"]
    assert [(e["path"], e["type"], e["mode"]) for e in top] == [
        ("README.md", "blob", "100644"),
        ("k8s", "tree", "040000"),
    ]
    everything = httpx.get(path, params={"recursive": "1"}, headers=headers).json()["tree"]
    assert [(e["path"], e["type"]) for e in everything] == [
        ("README.md", "blob"),
        ("k8s", "tree"),
        ("k8s/base", "tree"),
        ("k8s/base/a.yaml", "blob"),
    ]
    subtree = next(e for e in everything if e["path"] == "k8s/base")
    assert subtree["url"].endswith(f"/git/trees/{subtree['sha']}")
