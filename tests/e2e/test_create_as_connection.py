"""A new project names the forge ACCOUNT it is created by (`connection`, a stored connection's
id), not only the forge: a user holding two accounts on one forge gets the repository in the
one they pick, through the API, the CLI (`--connection`) and the web form. A connection that
is not theirs is refused on the field `connection` exactly as a missing one, with nothing
recorded. And bad input is named by the request's own fields (`environments`,
`parameters.NAME`) with no translation in the faces."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.e2e.api_helpers import (
    ApiUser,
    Served,
    Users,
    assert_problem,
    create_body,
    project_name,
    served_fixture,
    users_fixture,
)
from tests.e2e.test_pipeline import wait_final
from tests.support.api import connect_new_account
from tests.support.cli import InProcessCli, SlipwayProcesses

from slipway import service
from slipway.bootstrap import App
from slipway.domain.actors import Actor
from slipway.sandbox.forge import RequestRecorder
from slipway.sandbox.runner import SANDBOX_SCOPES, Sandbox
from slipway.service.forges import usable_connections

served = served_fixture
users = users_fixture


def _second_account(served: Served, user: ApiUser) -> str:
    """Another sandbox GitHub account, connected (after the first) as `user`'s own."""
    forge = served.sandbox.forge
    assert forge is not None
    return connect_new_account(forge, user.http, f"{user.name}-two").login


def _ids(app: App, actor: Actor) -> dict[str, int]:
    """The ids of `actor`'s usable connections, by account."""
    return {view.account: view.id for view in usable_connections(app, actor=actor)}


def _owns(sandbox: Sandbox, login: str, slug: str) -> bool:
    assert sandbox.forge is not None
    return sandbox.forge.state.repo(login, slug) is not None


def _names(user: ApiUser) -> list[str]:
    listed = user.http.get("/projects")
    assert listed.status_code == 200, listed.text
    return [p["name"] for p in listed.json()["items"]]


def test_the_api_creates_in_the_account_the_request_names(served: Served, users: Users) -> None:
    user = users.new("two-accts")
    assert user.login is not None
    older, newer = user.login, _second_account(served, user)
    # The ids a request names come from the user's own connection list.
    listed = user.http.get("/connections")
    assert listed.status_code == 200, listed.text
    ids = {c["account"]: c["id"] for c in listed.json()}
    assert set(ids) == {older, newer}
    assert ids == _ids(served.app, service.authenticate(served.app, user.token))

    # The preview acts as the named account: the image is named after it.
    shown = user.http.post("/projects/preview", json=create_body("pv", connection=ids[older]))
    assert shown.status_code == 200, shown.text
    assert f"/{older.lower()}/pv" in shown.json()["parameters"]["image"]
    default = user.http.post("/projects/preview", json=create_body("pv"))
    assert f"/{newer.lower()}/pv" in default.json()["parameters"]["image"]  # the newest

    name = project_name("older")
    created = user.http.post("/projects", json=create_body(name, connection=ids[older]))
    assert created.status_code == 201, created.text
    assert wait_final(served.app, name) == "completed"
    slug = created.json()["slug"]
    assert _owns(served.sandbox, older, slug) and not _owns(served.sandbox, newer, slug)
    shown_project = user.http.get(f"/projects/{name}").json()
    assert shown_project["repository"]["owner"] == older


def test_another_users_connection_is_refused_as_a_missing_one_and_nothing_is_recorded(
    served: Served, users: Users
) -> None:
    alice, bob = users.new("alice"), users.new("bob")
    bobs = _ids(served.app, service.authenticate(served.app, bob.token))
    everyone = _ids(served.app, Actor.operator())
    missing = max(everyone.values()) + 1000
    name = project_name("theirs")

    refusals = []
    for connection in (*bobs.values(), missing):
        for route in ("/projects", "/projects/preview"):
            answer = alice.http.post(route, json=create_body(name, connection=connection))
            problem = assert_problem(answer, 422, "InvalidInput")
            assert [e["field"] for e in problem["errors"]] == ["connection"], problem
            refusals.append({k: v for k, v in problem.items() if k != "instance"})
    # Bob's connection answers exactly as one that does not exist.
    assert all(r == refusals[0] for r in refusals), refusals
    assert "is not a forge connection of yours" in refusals[0]["detail"]

    assert name not in _names(alice) and name not in _names(bob)
    assert bob.login is not None and alice.login is not None
    assert not _owns(served.sandbox, bob.login, name)
    assert not _owns(served.sandbox, alice.login, name)

    # Its provider sets the forge: a forge that disagrees is refused on `connection` too.
    mine = _ids(served.app, service.authenticate(served.app, alice.token))[alice.login]
    other_forge = alice.http.post(
        "/projects", json=create_body(name, connection=mine, forge="gitlab")
    )
    problem = assert_problem(other_forge, 422, "InvalidInput")
    assert [e["field"] for e in problem["errors"]] == ["connection"], problem
    assert "is a github connection, not gitlab" in problem["detail"]
    assert name not in _names(alice)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"environments": ["Prod!"]}, "environments"),
        ({"environments": ["dev", "dev"]}, "environments"),
        ({"parameters": {"port": 80}}, "parameters.port"),
        ({"parameters": {"colour": "red"}}, "parameters.colour"),
    ],
)
def test_bad_input_is_named_by_the_requests_own_field(
    served: Served, users: Users, change: dict[str, Any], field: str
) -> None:
    user = users.new("fields")
    body = {**create_body(project_name("fields")), **change}
    problem = assert_problem(user.http.post("/projects", json=body), 422, "InvalidInput")
    assert [e["field"] for e in problem["errors"]] == [field], problem
    assert problem["detail"].startswith(f"{field}: "), problem


@pytest.fixture
def browser(served: Served, users: Users) -> Iterator[tuple[httpx.Client, ApiUser]]:
    """A signed-in web session of a user holding two accounts."""
    user = users.new("web-two")
    _second_account(served, user)
    with httpx.Client(base_url=served.url, follow_redirects=False, timeout=60) as web:
        page = web.get("/sign-in")
        signed = web.post("/sign-in", data={"csrf_token": _csrf(page.text), "token": user.token})
        assert signed.status_code == 303, signed.text
        yield web, user


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found.group(1)


def test_the_web_form_offers_each_account_and_creates_in_the_one_picked(
    served: Served, browser: tuple[httpx.Client, ApiUser]
) -> None:
    web, user = browser
    assert user.login is not None
    actor = service.authenticate(served.app, user.token)
    ids = _ids(served.app, actor)
    older = user.login
    newer = next(a for a in ids if a != older)
    forge = served.sandbox.forge
    assert forge is not None

    form = web.get("/projects/new", params={"template": "static-site"}).text
    select = re.search(r'<select id="connection" name="connection".*?</select>', form, re.S)
    assert select is not None, form
    options = dict(re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select.group(0)))
    assert options == {
        str(ids[older]): f"github — {older} ({forge.url})",
        str(ids[newer]): f"github — {newer} ({forge.url})",
    }

    name = project_name("web-older")
    fields = {
        "csrf_token": _csrf(form),
        "template": "static-site",
        "name": name,
        "environments": "dev",
        "connection": str(ids[older]),
        "action": "create",
    }
    created = web.post("/projects/new", data=fields)
    assert created.status_code == 303, created.text
    assert wait_final(served.app, name) == "completed"
    slug = service.show_project(served.app, name).slug
    assert _owns(served.sandbox, older, slug) and not _owns(served.sandbox, newer, slug)

    # A connection that is not the user's is shown at the picker, and nothing is recorded.
    refused = web.post(
        "/projects/new",
        data={**fields, "name": project_name("web-none"), "connection": "999999"},
    )
    assert refused.status_code == 422
    error = re.search(r'<p id="error-connection"[^>]*>([^<]*)</p>', refused.text)
    assert error is not None and "is not a forge connection of yours" in error.group(1)
    assert 'aria-invalid="true"' in refused.text.split('id="connection"', 1)[1].split(">")[0]


def test_the_cli_creates_in_the_connection_it_is_given(
    app: App, sandbox: Sandbox, sandbox_cli: InProcessCli, slipway_process: SlipwayProcesses
) -> None:
    assert sandbox.forge is not None
    logins = []
    for which in ("first", "second"):
        login = f"cli-{which}-{secrets.token_hex(3)}"
        token = f"sandbox_{secrets.token_hex(16)}"
        sandbox.forge.add_user(login, token, scopes=SANDBOX_SCOPES)
        done = sandbox_cli("--json", "forge", "connect", "github", "--token-stdin", stdin=token)
        assert done.returncode == 0, done.stderr
        logins.append(login)
    older, newer = logins
    ids = _ids(app, Actor.operator())

    plan = sandbox_cli(
        "--json", "project", "create", "plan", "-t", "static-site", "--env", "dev",
        "--connection", str(ids[older]), "--dry-run",
    )  # fmt: skip
    assert f"/{older.lower()}/plan" in plan.json()["project"]["parameters"]["image"]

    refused = sandbox_cli(
        "project", "create", "nope", "-t", "static-site", "--env", "dev",
        "--connection", str(max(ids.values()) + 1000),
    )  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith(
        "error: connection: is not a forge connection of yours"
    ), refused.stderr

    name = project_name("cli-older")
    # A process of its own: this module's server runs a worker (DBOS) in this one.
    done = slipway_process(
        "--json", "project", "create", name, "-t", "static-site", "--env", "dev",
        "--connection", str(ids[older]), "--wait",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    slug = done.json()["slug"]
    assert _owns(sandbox, older, slug) and not _owns(sandbox, newer, slug)


def test_a_connection_at_another_server_url_is_reached_there(
    served: Served, users: Users, forge_requests: RequestRecorder
) -> None:
    """github.com and a GitHub Enterprise server: the same emulator answers both, the
    Enterprise one under /api/v3, so the path of each request tells which URL was used."""
    forge = served.sandbox.forge
    assert forge is not None
    user = users.new("ghe")  # its first account at the default URL
    ghe_login, ghe_token = f"{user.name}-ent", f"sandbox_{secrets.token_hex(16)}"
    forge.add_user(ghe_login, ghe_token, scopes=SANDBOX_SCOPES)
    done = user.http.post(
        "/connections",
        json={"forge": "github", "token": ghe_token, "url": forge.github_enterprise_url},
    )
    assert done.status_code == 201, done.text
    actor = service.authenticate(served.app, user.token)
    urls = {
        view.account: (view.id, view.url) for view in usable_connections(served.app, actor=actor)
    }
    assert urls[ghe_login][1] == forge.github_enterprise_url
    assert set(urls) == {user.login, ghe_login}

    name = project_name("ghe")
    created = user.http.post("/projects", json=create_body(name, connection=urls[ghe_login][0]))
    assert created.status_code == 201, created.text
    assert wait_final(served.app, name) == "completed"
    assert _owns(served.sandbox, ghe_login, created.json()["slug"])
    made = [
        r for r in forge_requests.requests() if r.method == "POST" and r.path.endswith("/repos")
    ]
    assert [r.path for r in made] == ["/api/v3/user/repos"], made
