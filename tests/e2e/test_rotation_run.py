"""Deploy-key rotation as a durable run: started over the API (202) and from the project
page's button (a POST with its CSRF token), its progress events climbing through
grant_new_key, apply_new_key and remove_old_keys to a final `completed` at 100 that a late
viewer replays; Flux Ready on the new key and the old key gone from the forge; a second run
refused while one is under way; and a worker killed in any rotation step finished by the
next worker."""

from __future__ import annotations

import base64
import re
import signal
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
    create_body,
    follow_to_end,
    history,
    progress,
    project_name,
    read_stream,
    served_fixture,
    users_fixture,
)
from tests.e2e.conftest import forge_slowed
from tests.support.cli import SlipwayProcesses
from tests.support.waiting import wait_until

from slipway import service, store
from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.domain.model import ROTATE_STEPS, Step
from slipway.domain.names import ResourceNames
from slipway.pipeline.workflow import KILL_AT_STEP_ENV
from slipway.sandbox.runner import SANDBOX_USER, Sandbox

FLUX_SOURCE = "source.toolkit.fluxcd.io/v1"
# Slow enough that a rotation is still running when the next request comes.
HOLDING_LATENCY_MS = 1500
STEPS = [Step.GRANT_NEW_KEY, Step.APPLY_NEW_KEY, Step.REMOVE_OLD_KEYS]
ORDER = [s.value for s in STEPS]

served = served_fixture
users = users_fixture


def _created(user: ApiUser, name: str, **extra: Any) -> dict[str, Any]:
    created = user.http.post("/projects", json=create_body(name, **extra))
    assert created.status_code == 201, created.text
    assert follow_to_end(user.http, name)["final"] == "completed"
    shown = user.http.get(f"/projects/{name}").json()
    assert isinstance(shown, dict)
    return shown


def _keys(sandbox: Sandbox, owner: str, name: str) -> list[str]:
    """The public keys on the repository, as the forge holds them."""
    assert sandbox.forge is not None
    repo = sandbox.forge.state.repo(owner, name)
    assert repo is not None
    keys = sandbox.forge.state.deploy_keys(repo)
    assert all(k.read_only for k in keys)
    return [k.key.text for k in keys]


def _flux_on(sandbox: Sandbox, names: ResourceNames, public_key: str) -> bool:
    """The environment's git Secret carries `public_key` and its GitRepository is Ready."""
    assert sandbox.kube is not None
    secret = sandbox.kube.get("v1", "Secret", names.git_secret, names.namespace)
    assert secret is not None
    carried = base64.b64decode(secret["data"]["identity.pub"]).decode()
    source = sandbox.kube.get(FLUX_SOURCE, "GitRepository", names.git_repository, names.namespace)
    conditions = ((source or {}).get("status") or {}).get("conditions") or []
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    return carried.startswith(public_key) and ready


def _assert_climbs_to_completed(events: list[dict[str, Any]], run: int) -> None:
    assert events and {e["run"] for e in events} == {run}, events
    percents = [e["percent"] for e in events]
    assert percents == sorted(percents) and percents[0] == 0, percents
    steps = [e["step"] for e in events if e["step"] in ORDER]
    assert sorted(set(steps), key=ORDER.index) == ORDER
    assert steps == sorted(steps, key=ORDER.index), steps  # in order, never back
    assert (events[-1]["final"], events[-1]["percent"]) == ("completed", 100), events[-1]
    assert [e["final"] for e in events[:-1]] == [None] * (len(events) - 1)


def test_rotation_over_the_api_climbs_to_completed_with_flux_on_the_new_key(
    served: Served, users: Users
) -> None:
    alice = users.new("rot")
    name = project_name("rot-api")
    project = _created(alice, name)
    assert alice.login is not None
    (old,) = _keys(served.sandbox, alice.login, name)

    started = alice.http.post(f"/projects/{name}/rotate-credentials")
    assert started.status_code == 202, started.text
    body = started.json()
    assert (body["project"], body["run"]) == (name, 2)
    assert body["events_url"] == f"{API}/projects/{name}/events/stream"
    events = progress(read_stream(alice.http, name, after=body["after_sequence"]))
    _assert_climbs_to_completed([e for e in events if e["run"] == 2], 2)

    (new,) = _keys(served.sandbox, alice.login, name)
    assert new != old
    names = ResourceNames(project["slug"], "dev")
    assert _flux_on(served.sandbox, names, new)
    shown = alice.http.get(f"/projects/{name}").json()
    assert (shown["status"], shown["run"], shown["progress"]) == ("active", 2, 100)
    assert shown["failed_step"] is None
    # A viewer arriving afterwards replays the same run from the stored events.
    replayed = [e for e in history(alice.http, name, body["after_sequence"]) if e["run"] == 2]
    assert [e["sequence"] for e in replayed] == [e["sequence"] for e in events if e["run"] == 2]

    # The route is in the OpenAPI document with its 202.
    schema = httpx.get(f"{served.url}/openapi.json", timeout=30).json()
    operation = schema["paths"]["/api/v1/projects/{name}/rotate-credentials"]["post"]
    assert "202" in operation["responses"]


def test_a_second_run_is_refused_while_a_rotation_is_under_way(
    served: Served, users: Users
) -> None:
    bob = users.new("rot")
    name = project_name("rot-busy")
    _created(bob, name)
    with forge_slowed(served.sandbox, HOLDING_LATENCY_MS):
        first = bob.http.post(f"/projects/{name}/rotate-credentials")
        assert first.status_code == 202, first.text
        again = assert_problem(
            bob.http.post(f"/projects/{name}/rotate-credentials"), 409, "Conflict"
        )
        assert "run in progress" in again["detail"]
        repair = assert_problem(bob.http.post(f"/projects/{name}/repair"), 409, "Conflict")
        assert "run in progress" in repair["detail"]
        assert bob.http.get(f"/projects/{name}").json()["status"] == "initializing"
    final = follow_to_end(bob.http, name, after=first.json()["after_sequence"])
    assert (final["final"], final["run"]) == ("completed", 2)
    assert bob.http.get(f"/projects/{name}").json()["status"] == "active"

    # A project that reads with the forge token has no deploy key to rotate: nothing starts.
    token_name = project_name("rot-token")
    _created(bob, token_name, git_auth="token")
    refused = assert_problem(
        bob.http.post(f"/projects/{token_name}/rotate-credentials"), 422, "InvalidInput"
    )
    assert "no deploy key to rotate" in refused["detail"]
    assert bob.http.get(f"/projects/{token_name}").json()["run"] == 1


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found.group(1)


@pytest.fixture
def browser(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, follow_redirects=False, timeout=60) as client:
        yield client


def _sign_in(browser: httpx.Client, token: str) -> None:
    page = browser.get("/sign-in")
    signed = browser.post("/sign-in", data={"csrf_token": _csrf(page.text), "token": token})
    assert signed.status_code == 303, signed.text


def test_the_project_page_button_starts_a_rotation_the_progress_bar_follows(
    served: Served, users: Users, browser: httpx.Client
) -> None:
    carol = users.new("rot")
    name = project_name("rot-web")
    _created(carol, name)
    token_name = project_name("rot-web-token")
    _created(carol, token_name, git_auth="token")
    assert carol.login is not None
    (old,) = _keys(served.sandbox, carol.login, name)
    _sign_in(browser, carol.token)

    assert 'id="rotate-button"' not in browser.get(f"/projects/{token_name}").text
    page = browser.get(f"/projects/{name}")
    assert page.status_code == 200 and 'id="rotate-button"' in page.text
    action = f'action="/projects/{name}/rotate-credentials"'
    assert action in page.text

    forged = browser.post(f"/projects/{name}/rotate-credentials", data={"csrf_token": "x"})
    assert forged.status_code == 403
    assert service.show_project(served.app, name).run == 1

    with forge_slowed(served.sandbox, HOLDING_LATENCY_MS):  # still running when the page loads
        posted = browser.post(
            f"/projects/{name}/rotate-credentials", data={"csrf_token": _csrf(page.text)}
        )
        assert posted.status_code == 303 and posted.headers["location"] == f"/projects/{name}"
        following = browser.get(f"/projects/{name}")
        assert f'data-stream="/api/v1/projects/{name}/events/stream"' in following.text

    def ended() -> str | None:
        finals = [e.final for e in service.project_events(served.app, name) if e.run == 2]
        return next((f for f in finals if f), None)

    assert wait_until(ended, message="the rotation to end", timeout=180) == "completed"
    (new,) = _keys(served.sandbox, carol.login, name)
    assert new != old
    done = browser.get(f"/projects/{name}").text
    assert "data-stream" not in done and 'aria-valuenow="100"' in done


@pytest.fixture
def cli_app(cli_env: dict[str, str]) -> Iterator[App]:
    """The same database the CLI processes use, opened from the test."""
    instance = bootstrap(Settings())
    yield instance
    instance.close()


@pytest.mark.parametrize("step", STEPS, ids=str)
def test_a_worker_killed_mid_rotation_is_finished_by_the_next_worker(
    step: Step, slipway_process: SlipwayProcesses, cli_app: App, sandbox: Sandbox
) -> None:
    assert set(STEPS) == ROTATE_STEPS
    name = f"rot-crash-{step.value.replace('_', '-')}"
    created = slipway_process("project", "create", name, "--template", "static-site", "--wait")
    assert created.returncode == 0, created.stderr
    (old,) = _keys(sandbox, SANDBOX_USER, name)

    crashing = slipway_process(
        "--debug", "project", "rotate-credentials", name, env={KILL_AT_STEP_ENV: step.value}
    )
    assert crashing.returncode == -signal.SIGKILL, crashing.stderr
    assert service.show_project(cli_app, name).status == "initializing"

    resumed = slipway_process("worker", "--until-idle")
    assert resumed.returncode == 0, resumed.stderr
    assert re.search(rf"^resumed {name} at step \S+ \(taken over from ", resumed.stdout, re.M)

    events = [e for e in service.project_events(cli_app, name) if e.run == 2]
    assert (events[-1].final, events[-1].percent) == ("completed", 100), events[-1]
    project = service.show_project(cli_app, name)
    assert (project.status, project.run) == ("active", 2)
    (new,) = _keys(sandbox, SANDBOX_USER, name)
    assert new != old
    for environment in project.environments:
        assert _flux_on(sandbox, ResourceNames(project.slug, environment.name), new)
    with cli_app.session() as session:
        row = store.require_project(session, name=name)
        assert len(store.deploy_keys(session, project_id=row.id)) == 1
