"""The REST API against its own `/openapi.json`, by schemathesis: requests generated from the
schema, valid ones and invalid ones, sent to a real server with a valid token, and every
response checked by all of schemathesis's checks: no 5xx, and the status code, content type,
headers and body the schema documents for that operation. On SQLite and on PostgreSQL (which,
unlike SQLite, refuses a NUL character in text).

schemathesis's own pytest integration (`@schema.parametrize()`, `from_fixture`) reads
pytest's private `Node._nodeid`, which pytest 9.2 removed, so the operations are driven here
through its documented strategy API (`APIOperation.as_strategy` under `@given`).

The event stream needs no special case: schemathesis reads a `text/event-stream` response
until the server closes it (ours does after the run's final event), for `REQUEST_TIMEOUT` at
most, and checks its status and content type."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode
from schemathesis.core.result import Err
from tests.e2e.conftest import sandbox_settings
from tests.e2e.test_pipeline import wait_final
from tests.support.api import api_server

from slipway import service
from slipway.bootstrap import App, bootstrap
from slipway.pipeline.runtime import Worker
from slipway.sandbox.runner import Sandbox

# Bounded, so a run takes about a minute on 2 cores, and derandomized: the same examples on
# every run, so a failure seen once is seen again.
MAX_EXAMPLES = 25
# An event stream is read until it closes, or for this long at most (then cut, not failed).
REQUEST_TIMEOUT = 15.0
# Requests the schema cannot tell good from bad, and why: a body or path that matches the schema
# may still be refused with the status listed (besides the ones schemathesis expects of valid
# data: 2xx, 3xx, 401, 403, 404, 409, 429). Every other check still runs on these operations.
_VALID_DATA = ["2xx", "3xx", "401", "403", "404", "409", "429"]
SEMANTIC_REFUSALS = [
    {
        # The template must be one of the installation's catalog (SLIPWAY_TEMPLATES_PATH adds
        # its own), its parameters are the template's, the owner must exist on the forge and
        # the name must leave room for the environments' namespaces: 422 per field. Preflight
        # may find the cluster or forge unready: 424.
        "include-name": ["POST /api/v1/projects", "POST /api/v1/projects/preview"],
        "checks": {"positive_data_acceptance": {"expected-statuses": [*_VALID_DATA, 422, 424]}},
    },
    {
        # A token is good only if the forge says so: one it refuses, or a forge whose server
        # URL this installation lacks, is a 422 naming the field.
        "include-name": "POST /api/v1/connections",
        "checks": {"positive_data_acceptance": {"expected-statuses": [*_VALID_DATA, 422]}},
    },
    {
        # Disconnecting a forge whose server URL this installation lacks: 422, as connecting.
        "include-name": "DELETE /api/v1/connections/{forge}",
        "checks": {"positive_data_acceptance": {"expected-statuses": [*_VALID_DATA, 422]}},
    },
]
# What the pass over the existing project must have seen, so it cannot pass on 404s alone.
EXPECTED_ON_PROJECT = {
    "GET /api/v1/projects/{name}": 200,
    "GET /api/v1/projects/{name}/events": 200,
    "GET /api/v1/projects/{name}/events/stream": 200,
    "DELETE /api/v1/projects/{name}": 202,
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_app(request: pytest.FixtureRequest, sandbox: Sandbox, tmp_path: Path) -> Iterator[App]:
    overrides = {}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("fresh_postgres_url")
    instance = bootstrap(sandbox_settings(sandbox, tmp_path / "data", **overrides))
    yield instance
    instance.close()


@pytest.fixture
def served(database_app: App, sandbox: Sandbox) -> Iterator[tuple[BaseSchema, str, str]]:
    """The schema a running API serves, the token of its one user, who has connected the
    sandbox's forge account, and the name of the project they created (active by now)."""
    app = database_app
    # Unique: the sandbox forge, shared by the session, keeps earlier tests' repositories.
    project = f"fuzzed-{secrets.token_hex(3)}"
    token = service.create_user(app, "fuzzer", admin=False).token.get_secret_value()
    worker = Worker(app).start()
    try:
        with (
            api_server(app, worker) as base_url,
            httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            ) as client,
        ):
            connected = client.post(
                "/api/v1/connections", json={"forge": "github", "token": sandbox.forge_token}
            )
            assert connected.status_code == 201, connected.text
            created = client.post(
                "/api/v1/projects", json={"name": project, "template": "static-site"}
            )
            assert created.status_code == 201, created.text
            wait_final(app, project)
            config = schemathesis.Config.from_dict(
                {
                    "request-timeout": REQUEST_TIMEOUT,
                    # The API ignores query parameters it does not declare, as most do (a
                    # client may add a cache buster): an unknown one is not invalid input.
                    # Every request carries the user's token (set on each call), so the token
                    # is not a parameter to generate or leave out; a missing or unknown token's
                    # 401 is tests/e2e/test_api.py's.
                    "generation": {
                        "allow-extra-parameters": False,
                        "with-security-parameters": False,
                    },
                    "operations": SEMANTIC_REFUSALS,
                }
            )
            schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
            yield schema, token, project
    finally:
        worker.stop()


def _exercise(
    operation: APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    token: str,
    statuses: dict[str, set[int]],
    path_parameters: dict[str, str] | None = None,
) -> str | None:
    """Sends the operation's generated cases; the first failure's report, or None. Records
    every status code seen in `statuses`, by operation."""

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        # A failure is reported as found: shrinking would resend requests for minutes.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(
        case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    )
    def check(case: Case[Any]) -> None:
        response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
        statuses.setdefault(operation.label, set()).add(response.status_code)

    try:
        check()
    except hypothesis.errors.Unsatisfiable:
        # An operation without inputs (the probes) has no invalid request to send.
        assert mode is GenerationMode.NEGATIVE, operation.label
    except (AssertionError, BaseExceptionGroup) as exc:
        return f"{operation.label} ({mode.value}, path {path_parameters}):\n{exc}"
    return None


# schemathesis's negative-mode strategies call the `random` module; Hypothesis warns about that,
# and the suite turns warnings into errors. Its own pytest integration hides the same warning.
@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module:hypothesis.errors.HypothesisDeprecationWarning"
)
def test_every_operation_answers_as_its_schema_says(
    served: tuple[BaseSchema, str, str], database_app: App
) -> None:
    schema, token, project = served
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            pytest.fail(f"schemathesis cannot read an operation: {result.err()}")
        operations.append(result.ok())
    statuses: dict[str, set[int]] = {}
    failures = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (failure := _exercise(operation, mode, token, statuses))
    ]
    # Names generated at random are never a project's: the same operations once more on the
    # project that exists, so their 200s (the event stream's included) are checked too. The
    # delete goes last, since it ends the project, once the runs the others started (a
    # repair, a key rotation) have ended: a delete during a run is a 409.
    on_project = [o for o in operations if "{name}" in o.path]
    seen: dict[str, set[int]] = {}
    for operation in sorted(on_project, key=lambda o: o.method.upper() == "DELETE"):
        if operation.method.upper() == "DELETE":
            wait_final(database_app, project)
        failure = _exercise(operation, GenerationMode.POSITIVE, token, seen, {"name": project})
        if failure:
            failures.append(failure)
    assert not failures, "\n\n".join(failures)
    unseen = {op: code for op, code in EXPECTED_ON_PROJECT.items() if code not in seen.get(op, ())}
    assert not unseen, f"never answered {unseen}; seen: {seen}"
