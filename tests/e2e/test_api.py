"""The REST API over real HTTP (uvicorn in a thread, httpx as the client), against the
sandbox: each route's answer as a client relies on it, tokens, another user's projects,
422 per field, 409s, and nothing recorded when a request is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.e2e.api_helpers import (
    API,
    ApiUser,
    Served,
    Users,
    assert_problem,
    client,
    create_body,
    follow_to_end,
    history,
    progress,
    project_name,
    read_stream,
    served_fixture,
    users_fixture,
    users_of,
)
from tests.e2e.conftest import forge_slowed

# Held back per forge request while a test needs a run still under way (as test_durability).
HOLDING_LATENCY_MS = 300


# One server (and worker) for the module: each test makes its own users and names.
served = served_fixture
users = users_fixture


def _no_secret(user: ApiUser, *responses: httpx.Response) -> None:
    for response in responses:
        for secret in user.secrets():
            assert secret not in response.text, f"a token came back from {response.url}"


# Every /api/v1 route as OpenAPI names it, with a body where it takes one; the first test
# checks the list against the OpenAPI description, so a new route cannot be left out.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/me", None),
    ("GET", "/templates", None),
    ("GET", "/templates/{name}", None),
    ("GET", "/connections", None),
    ("POST", "/connections", {"forge": "github", "token": "t"}),
    ("DELETE", "/connections/{forge}", None),
    ("GET", "/projects", None),
    ("POST", "/projects", create_body("p")),
    ("POST", "/projects/preview", create_body("p")),
    ("GET", "/projects/{name}", None),
    ("DELETE", "/projects/{name}", None),
    ("POST", "/projects/{name}/repair", None),
    ("POST", "/projects/{name}/rotate-credentials", None),
    ("GET", "/projects/{name}/events", None),
    ("GET", "/projects/{name}/events/stream", None),
]


def _filled(path: str) -> str:
    name = "static-site" if path.startswith("/templates") else "p"
    return path.replace("{name}", name).replace("{forge}", "github")


def test_the_route_list_covers_every_api_route(served: Served) -> None:
    described = httpx.get(served.url + "/openapi.json", timeout=30).json()["paths"]
    documented = {
        (method.upper(), path.removeprefix(API))
        for path, operations in described.items()
        if path.startswith(API + "/")
        for method in operations
    }
    assert {(method, path) for method, path, _ in ROUTES} == documented


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer slw_not-a-token", "Basic dXNlcjpwYXNz"],
    ids=["no-token", "unknown-token", "not-bearer"],
)
@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_every_route_refuses_a_request_without_a_valid_token(
    served: Served, method: str, path: str, body: dict[str, Any] | None, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with client(served) as http:
        refused = http.request(method, _filled(path), json=body, headers=headers)
    problem = assert_problem(refused, 401, "Unauthenticated")
    assert problem["exit_code"] == 7
    assert problem["instance"] == API + _filled(path)
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "slw_not-a-token" not in refused.text


def test_probes_answer_without_a_token(served: Served) -> None:
    assert httpx.get(served.url + "/healthz", timeout=30).json() == {"status": "ok"}
    ready = httpx.get(served.url + "/readyz", timeout=30)
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert ready.json()["schema_revision"] == ready.json()["expected_revision"]


def test_templates_and_me(users: Users) -> None:
    alice = users.new("alice", connect=False)
    assert alice.http.get("/me").json() == {"name": alice.name, "admin": False}
    listed = alice.http.get("/templates").json()
    assert {"fastapi", "nextjs", "static-site"} <= {t["name"] for t in listed}
    shown = alice.http.get("/templates/static-site").json()
    assert shown == next(t for t in listed if t["name"] == "static-site")
    schema = shown["parameters_schema"]
    assert schema["type"] == "object"
    port = schema["properties"]["port"]
    assert (port["type"], port["minimum"], port["maximum"]) == ("integer", 1024, 65535)
    assert {p["name"] for p in shown["parameters"]} == set(schema["properties"])
    missing = assert_problem(alice.http.get("/templates/no-such"), 404, "NotFound")
    assert missing["exit_code"] == 3


def test_connections_take_a_token_and_never_give_it_back(users: Users) -> None:
    alice, bob = users.new("alice", connect=False), users.new("bob")
    added = users.connect(alice)
    assert added.json()["account"] == alice.login
    assert {"forge", "url", "account", "token_kind", "scopes", "missing_scopes"} <= set(
        added.json()
    )
    listed = alice.http.get("/connections")
    assert [c["account"] for c in listed.json()] == [alice.login]
    # Bob may neither see nor remove Alice's connection.
    assert [c["account"] for c in bob.http.get("/connections").json()] == [bob.login]
    theirs = bob.http.delete("/connections/github", params={"account": alice.login})
    assert_problem(theirs, 404, "NotFound")
    # A token the forge does not know is refused without being echoed.
    bad = alice.http.post("/connections", json={"forge": "github", "token": "sandbox_wrong"})
    refused = assert_problem(bad, 422, "InvalidInput")
    assert refused["exit_code"] == 2 and [e["field"] for e in refused["errors"]] == ["token"]
    assert "sandbox_wrong" not in bad.text
    removed = alice.http.delete("/connections/github", params={"account": alice.login})
    assert removed.status_code == 200, removed.text
    assert removed.json()["account"] == alice.login
    after = alice.http.get("/connections")
    assert after.json() == []
    _no_secret(alice, added, listed, theirs, removed, after)
    _no_secret(bob, theirs)


def test_a_project_from_creation_to_deletion(served: Served, users: Users) -> None:
    alice = users.new("alice")
    name = project_name("life")

    preview = alice.http.post("/projects/preview", json=create_body(name))
    assert preview.status_code == 200, preview.text
    shown_preview = preview.json()
    assert (shown_preview["name"], shown_preview["environments"]) == (name, ["dev"])
    assert shown_preview["problems"] == []
    assert "k8s/overlays/dev/kustomization.yaml" in shown_preview["files"]
    assert "kind: Kustomization" in shown_preview["manifests"]
    assert f"project-{shown_preview['slug']}-dev" in shown_preview["manifests"]
    _no_secret(alice, preview)
    assert alice.http.get("/projects").json() == {"items": [], "next_cursor": None}

    with forge_slowed(served.sandbox, HOLDING_LATENCY_MS):  # the run lasts past the next calls
        created = alice.http.post("/projects", json=create_body(name))
        assert created.status_code == 201, created.text
        assert created.headers["location"] == f"{API}/projects/{name}"
        assert created.json()["status"] in ("pending", "initializing")
        assert created.json()["run"] == 1
        taken = assert_problem(
            alice.http.post("/projects", json=create_body(name)), 409, "Conflict"
        )
        assert taken["exit_code"] == 4 and "already exists" in taken["detail"]
        busy = assert_problem(alice.http.post(f"/projects/{name}/repair"), 409, "Conflict")
        assert "run in progress" in busy["detail"]
        early = assert_problem(alice.http.delete(f"/projects/{name}"), 409, "Conflict")
        assert "still being created" in early["detail"]
        final = follow_to_end(alice.http, name)
    assert (final["final"], final["percent"], final["run"]) == ("completed", 100, 1)

    shown = alice.http.get(f"/projects/{name}")
    assert shown.status_code == 200
    project = shown.json()
    assert (project["status"], project["progress"], project["run"]) == ("active", 100, 1)
    assert project["health"] == "healthy"
    assert {e["health"] for e in project["environments"]} == {"healthy"}
    assert [(e["name"], e["namespace"]) for e in project["environments"]] == [
        ("dev", f"project-{project['slug']}-dev")
    ]
    assert project["repository"]["owner"] == alice.login
    assert project["repository"]["initial_commit_sha"]
    kinds = {r["kind"] for r in project["resources"]}
    assert {"Namespace", "GitRepository", "Kustomization"} <= kinds
    assert {r["status"] for r in project["resources"]} == {"ready"}
    _no_secret(alice, shown)
    assert [p["name"] for p in alice.http.get("/projects").json()["items"]] == [name]

    # Repair of a healthy project: a second run that completes and changes nothing.
    repair = alice.http.post(f"/projects/{name}/repair")
    assert repair.status_code == 202, repair.text
    started = repair.json()
    assert (started["project"], started["run"]) == (name, 2)
    assert started["events_url"] == f"{API}/projects/{name}/events/stream"
    repaired = follow_to_end(alice.http, name, after=started["after_sequence"])
    assert (repaired["final"], repaired["run"]) == ("completed", 2)
    assert alice.http.get(f"/projects/{name}").json()["status"] == "active"

    deleting = alice.http.delete(f"/projects/{name}", params={"delete_repo": "true"})
    assert deleting.status_code == 202, deleting.text
    gone = deleting.json()
    assert (gone["project"], gone["run"]) == (name, 3)
    events = read_stream(alice.http, name, after=gone["after_sequence"])
    last = events[-1]
    if last.event == "deleted":
        assert last.json() == {"project": name}
        progress(events[:-1])
    else:
        assert progress(events)[-1]["final"] == "deleted"
    missing = assert_problem(alice.http.get(f"/projects/{name}"), 404, "NotFound")
    assert missing["exit_code"] == 3
    assert alice.http.get("/projects").json()["items"] == []
    assert served.sandbox.forge is not None
    assert served.sandbox.forge.state.repo(alice.login or "", project["slug"]) is None

    # The name is free again.
    again = alice.http.post("/projects", json=create_body(name))
    assert again.status_code == 201, again.text
    assert follow_to_end(alice.http, name)["final"] == "completed"


def _refused_alike(
    refused: httpx.Response, absent: httpx.Response, theirs: str, missing: str
) -> None:
    """Another user's project answers exactly as a missing name: same status and body, but
    for the name itself (in `detail`) and the `instance` path."""
    assert refused.status_code == absent.status_code == 404
    assert refused.headers["content-type"] == absent.headers["content-type"]

    def shape(response: httpx.Response, name: str) -> dict[str, Any]:
        document = dict(response.json())
        document.pop("instance")
        return {k: str(v).replace(name, "NAME") for k, v in document.items()}

    assert shape(refused, theirs) == shape(absent, missing)


def test_another_users_project_is_a_missing_one(served: Served, users: Users) -> None:
    alice, bob = users.new("alice"), users.new("bob")
    admin = users.new("root", admin=True, connect=False)
    mine = [project_name("pg") for _ in range(3)]
    theirs = project_name("theirs")
    for name in mine:
        assert alice.http.post("/projects", json=create_body(name)).status_code == 201
    assert bob.http.post("/projects", json=create_body(theirs)).status_code == 201
    for user, name in [*((alice, n) for n in mine), (bob, theirs)]:
        assert follow_to_end(user.http, name)["final"] == "completed"

    missing = project_name("missing")
    for method, path in [
        ("GET", "/projects/{}"),
        ("GET", "/projects/{}/events"),
        ("GET", "/projects/{}/events/stream"),
        ("POST", "/projects/{}/repair"),
        ("DELETE", "/projects/{}"),
    ]:
        refused = alice.http.request(method, path.format(theirs))
        absent = alice.http.request(method, path.format(missing))
        _refused_alike(refused, absent, theirs, missing)
        assert refused.json()["error"] == "NotFound"
    # Nothing happened to it: no repair or delete run was started.
    assert bob.http.get(f"/projects/{theirs}").json()["run"] == 1

    # Each lists only their own; pages of one visit every project exactly once, in order.
    assert [p["name"] for p in bob.http.get("/projects").json()["items"]] == [theirs]
    visited: list[str] = []
    cursor: str | None = None
    for _ in range(len(mine) + 1):
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = alice.http.get("/projects", params=params).json()
        visited += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert visited == sorted(mine)
    two = alice.http.get("/projects", params={"limit": 2}).json()
    assert [p["name"] for p in two["items"]] == sorted(mine)[:2]
    assert two["next_cursor"] == sorted(mine)[1]
    active = alice.http.get("/projects", params={"status": "active"}).json()
    assert [p["name"] for p in active["items"]] == sorted(mine)
    assert alice.http.get("/projects", params={"status": "failed"}).json()["items"] == []

    # An admin sees everyone's.
    listed = admin.http.get("/projects", params={"limit": 200}).json()["items"]
    assert {*mine, theirs} <= {p["name"] for p in listed}
    assert admin.http.get(f"/projects/{theirs}").json()["repository"]["owner"] == bob.login
    assert history(admin.http, theirs)[-1]["final"] == "completed"


@pytest.fixture(scope="module")
def refused_user(served: Served) -> Iterator[ApiUser]:
    """A user with a forge connection and no project: every refused create keeps it so."""
    with users_of(served) as made:
        yield made.new("refused")


# (label, body change, expected field)
INVALID_CREATES: list[tuple[str, dict[str, Any], str]] = [
    ("bad name", {"name": "Not_A_Name"}, "name"),
    ("long name", {"name": "n" * 70}, "name"),
    ("unknown template", {"template": "no-such-template"}, "template"),
    ("bad environment", {"environments": ["Prod!"]}, "environments"),
    ("repeated environment", {"environments": ["dev", "dev"]}, "environments"),
    ("bad owner", {"owner": "not an owner!"}, "owner"),
    ("unknown owner", {"owner": "no-such-org-anywhere"}, "owner"),
    ("parameter out of range", {"parameters": {"port": 80}}, "parameters.port"),
    ("parameter of the wrong type", {"parameters": {"port": "eighty"}}, "parameters.port"),
    ("unknown parameter", {"parameters": {"colour": "red"}}, "parameters.colour"),
    ("forge not one", {"forge": "svn"}, "forge"),
    ("extra field", {"colour": "red"}, "colour"),
    ("name not a string", {"name": 5}, "name"),
    ("environments not a list", {"environments": "dev"}, "environments"),
    ("parameters not an object", {"parameters": ["port"]}, "parameters"),
    ("private not a boolean", {"private": "maybe"}, "private"),
    ("git_auth not one", {"git_auth": "password"}, "git_auth"),
]


@pytest.mark.parametrize(
    ("change", "field"),
    [(change, field) for _, change, field in INVALID_CREATES],
    ids=[label for label, _, _ in INVALID_CREATES],
)
@pytest.mark.parametrize("route", ["/projects", "/projects/preview"])
def test_each_invalid_field_is_named_and_nothing_is_recorded(
    served: Served, refused_user: ApiUser, route: str, change: dict[str, Any], field: str
) -> None:
    name = project_name("bad")
    body = {**create_body(name), **change}
    refused = refused_user.http.post(route, json=body)
    problem = assert_problem(refused, 422, "InvalidInput")
    assert problem["exit_code"] == 2
    assert [e["field"] for e in problem["errors"]] == [field], problem
    assert all(e["rule"] for e in problem["errors"])
    assert refused_user.http.get("/projects").json() == {"items": [], "next_cursor": None}
    assert served.sandbox.forge is not None
    assert served.sandbox.forge.state.repo(refused_user.login or "", name) is None


def test_every_invalid_field_of_a_create_is_named_at_once(
    served: Served, refused_user: ApiUser
) -> None:
    body = {
        **create_body("Bad_Name"),
        "environments": ["dev", "Prod"],
        "template": "fastapi",
        "parameters": {"port": "eighty", "colour": "red"},
    }
    problem = assert_problem(refused_user.http.post("/projects", json=body), 422, "InvalidInput")
    fields = [e["field"] for e in problem["errors"]]
    assert fields == ["environments", "name", "parameters.colour", "parameters.port"], problem
    assert all(e["rule"] in problem["detail"] for e in problem["errors"])
    assert refused_user.http.get("/projects").json()["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "field"),
    [
        ("GET", "/projects", {"limit": 0}, None, "limit"),
        ("GET", "/projects", {"limit": 1000}, None, "limit"),
        ("GET", "/projects", {"limit": "many"}, None, "limit"),
        ("GET", "/projects", {"status": "sleeping"}, None, "status"),
        ("GET", "/projects", {"health": "sick"}, None, "health"),
        ("GET", "/projects/p/events", {"after": -1}, None, "after"),
        ("POST", "/connections", {}, {"forge": "svn", "token": "t"}, "forge"),
        ("POST", "/connections", {}, {"forge": "github"}, "token"),
        ("POST", "/connections", {}, {"forge": "github", "token": "t", "x": 1}, "x"),
        ("DELETE", "/connections/svn", {}, None, "forge"),
    ],
)
def test_invalid_query_and_connection_fields_are_named(
    refused_user: ApiUser,
    method: str,
    path: str,
    params: dict[str, Any],
    body: dict[str, Any] | None,
    field: str,
) -> None:
    refused = refused_user.http.request(method, path, params=params, json=body)
    problem = assert_problem(refused, 422, "InvalidInput")
    assert [e["field"] for e in problem["errors"]] == [field], problem
    assert [c["account"] for c in refused_user.http.get("/connections").json()] == [
        refused_user.login
    ]


def test_a_body_that_is_not_json_is_refused(refused_user: ApiUser) -> None:
    refused = refused_user.http.post(
        "/projects", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(refused, 422, "InvalidInput")
    assert problem["errors"] and problem["exit_code"] == 2
    wrong_type = refused_user.http.post("/projects", json=["a", "list"])
    assert [e["field"] for e in assert_problem(wrong_type, 422, "InvalidInput")["errors"]] == [
        "body"
    ]
    assert refused_user.http.get("/projects").json()["items"] == []
