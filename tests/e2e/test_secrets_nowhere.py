"""A forge token and a template's secret parameter, each a sentinel value, taken through every
API use case that touches them (connect, preview, create, the event stream to its end, show,
list, events, connections, templates, /metrics, repair, and refusals that name the field):
neither sentinel appears in clear in any response body, progress event, log line (structlog
and the standard library's, at debug level) or database row (Slipway's tables and DBOS's).
Stored, they are only encrypted: the test decrypts them to show it looked in the right place."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import structlog
import yaml
from pydantic import SecretStr
from tests.e2e.conftest import sandbox_settings
from tests.support.api import api_server
from tests.support.commands import git

from slipway import service, store
from slipway.bootstrap import App, bootstrap
from slipway.logs import configure_logging
from slipway.pipeline.runtime import Worker
from slipway.sandbox.runner import SANDBOX_SCOPES, Sandbox

BUILTIN = Path(service.__file__).parent.parent / "templates" / "builtin" / "static-site"
TEMPLATE = "vaulted-site"
SECRET_PARAMETER = "api_key"


def vaulted_template(root: Path) -> Path:
    """The static-site template plus a secret parameter (copier's `secret: true`) with a
    rule, rendered into a file of the repository; in a templates folder of its own."""
    folder = root / TEMPLATE
    shutil.copytree(BUILTIN, folder)
    questions = yaml.safe_load((folder / "copier.yml").read_text())
    questions["_slipway"]["description"] = "static-site with an API key"
    questions["_slipway"]["parameters"][SECRET_PARAMETER] = {"pattern": "^[a-z0-9-]{8,80}$"}
    questions[SECRET_PARAMETER] = {
        "type": "str",
        "secret": True,
        "default": "",
        "help": "the key the page's backend calls with",
    }
    (folder / "copier.yml").write_text(yaml.safe_dump(questions, sort_keys=False))
    (folder / "api-key.txt.jinja").write_text("{{ api_key }}\n")
    return root


@pytest.fixture
def logs(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """structlog as `slipway serve` logs (JSON lines on stderr) but at debug level, and every
    standard-library logger at debug level too, for the test to read back; put back after."""
    saved = structlog.get_config()
    configure_logging(fmt="json", level="debug")
    caplog.set_level(logging.DEBUG)
    yield
    structlog.configure(**saved)


@pytest.fixture
def vaulted_app(sandbox: Sandbox, tmp_path: Path) -> Iterator[App]:
    templates = vaulted_template(tmp_path / "templates")
    instance = bootstrap(sandbox_settings(sandbox, tmp_path / "data", templates_path=[templates]))
    yield instance
    instance.close()


def read_stream(client: httpx.Client, path: str, after: int) -> str:
    """The whole SSE stream: it closes after the run's final event (a read timeout fails)."""
    with client.stream("GET", path, params={"after": after}, timeout=120) as response:
        assert response.status_code == 200, response.read()
        return "".join(response.iter_text())


def _decoded(value: object) -> list[str]:
    """A column's bytes as text, and a base64 column decoded too: DBOS stores workflow
    inputs and step outputs as base64 pickles, in which a string is kept as its UTF-8."""
    if isinstance(value, bytes):
        return [value.decode("latin-1")]
    if isinstance(value, str) and len(value) >= 16:
        try:
            return [base64.b64decode(value, validate=True).decode("latin-1")]
        except (binascii.Error, ValueError):
            return []
    return []


def table_dump(database_url: str) -> str:
    """Every row of every table of the database, stringified, with binary and base64 columns
    decoded, so a clear value stored inside either shows too."""
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    metadata = sa.MetaData()
    metadata.reflect(engine)
    lines = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                lines.append(f"{table.name}: {tuple(row)!r}")
                lines += [text for value in row for text in _decoded(value)]
    engine.dispose()
    assert lines, database_url
    return "\n".join(lines)


def test_a_forge_token_and_a_secret_parameter_appear_nowhere_in_clear(
    vaulted_app: App,
    sandbox: Sandbox,
    tmp_path: Path,
    logs: None,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = vaulted_app
    assert sandbox.forge is not None
    suffix = secrets.token_hex(4)
    login = f"vault-{suffix}"
    forge_token = f"sandbox_sentinel_token_{secrets.token_hex(12)}"
    secret_value = f"sentinel-secret-{secrets.token_hex(12)}"
    sandbox.forge.add_user(login, forge_token, scopes=SANDBOX_SCOPES)
    name = f"vault-{suffix}"
    create = {"name": name, "template": TEMPLATE, "parameters": {SECRET_PARAMETER: secret_value}}
    api_token = service.create_user(app, f"keeper-{suffix}", admin=False).token
    bodies: list[str] = []

    worker = Worker(app).start()
    try:
        with (
            api_server(app, worker) as base_url,
            httpx.Client(
                base_url=f"{base_url}/api/v1",
                headers={"Authorization": f"Bearer {api_token.get_secret_value()}"},
                timeout=60,
            ) as client,
        ):

            def call(method: str, path: str, expect: int, **kwargs: Any) -> httpx.Response:
                response = client.request(method, path, **kwargs)
                bodies.append(f"{method} {path} -> {response.status_code}\n{response.text}")
                assert response.status_code == expect, response.text
                return response

            # Refusals first: a token the forge does not know, and a secret value that
            # breaks its rule (the value has the sentinel in it) are refused without echo.
            call("POST", "/connections", 422, json={"forge": "github", "token": forge_token + "x"})
            call("POST", "/connections", 201, json={"forge": "github", "token": forge_token})
            broken = {**create, "parameters": {SECRET_PARAMETER: secret_value + "<>"}}
            refused = call("POST", "/projects", 422, json=broken)
            assert refused.json()["errors"][0]["field"] == f"parameters.{SECRET_PARAMETER}"
            call("POST", "/projects/preview", 200, json=create)
            call("POST", "/projects", 201, json=create)
            created_stream = read_stream(client, f"/projects/{name}/events/stream", 0)
            assert '"final": "completed"' in created_stream, created_stream
            bodies.append(created_stream)
            call("POST", "/projects", 409, json=create)
            call("GET", f"/projects/{name}", 200)
            call("GET", "/projects", 200)
            call("GET", f"/projects/{name}/events", 200)
            call("GET", "/connections", 200)
            call("GET", "/templates", 200)
            call("GET", f"/templates/{TEMPLATE}", 200)
            call("GET", "/me", 200)
            started = call("POST", f"/projects/{name}/repair", 202).json()
            repaired = read_stream(
                client, f"/projects/{name}/events/stream", started["after_sequence"]
            )
            assert '"final"' in repaired, repaired
            bodies.append(repaired)
            call("GET", f"/projects/{name}/events", 200)
            metrics = httpx.get(f"{base_url}/metrics", timeout=30)
            bodies.append(f"GET /metrics -> {metrics.status_code}\n{metrics.text}")
            assert metrics.status_code in (200, 404), metrics.text
    finally:
        worker.stop()

    captured = capfd.readouterr()
    log_text = "\n".join(
        [captured.out, captured.err, *(r.getMessage() for r in caplog.records)]
        + [repr(r.__dict__) for r in caplog.records]
    )
    assert '"event": "worker started"' in log_text, "structlog output was not captured"
    # The server's standard-library loggers too (sse_starlette logs each event it sends).
    assert any(r.name.startswith("sse_starlette") for r in caplog.records), "no stdlib logs"
    data_dir = Path(app.settings.data_dir)
    databases = {str(app.engine.url): table_dump(str(app.engine.url))} | {
        str(db): table_dump(f"sqlite:///{db}") for db in data_dir.glob("*.db")
    }
    places = {"response bodies and events": "\n".join(bodies), "logs": log_text} | {
        f"database {url}": dump for url, dump in databases.items()
    }
    for place, text in places.items():
        for label, value in (("forge token", forge_token), ("secret parameter", secret_value)):
            assert value not in text, f"the {label} appears in clear in the {place}"

    # Both were used, so the checks above are not vacuous: the repository holds the rendered
    # value (cloned as the account, after the logs are read: git's output is not Slipway's)
    url = sandbox.forge.clone_url(login, name).replace("http://", f"http://{login}:{forge_token}@")
    repository = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", url, str(repository))
    assert (repository / "api-key.txt").read_text().strip() == secret_value
    # ...and the database holds both, encrypted.
    with app.session() as session:
        project = store.require_project(session, name=name)
        assert project.encrypted_parameters is not None
        stored = app.cipher.decrypt(project.encrypted_parameters).get_secret_value()
        assert json.loads(stored) == {SECRET_PARAMETER: secret_value}
        [connection] = store.list_forge_connections(session)
        assert app.cipher.decrypt(connection.encrypted_token) == SecretStr(forge_token)
