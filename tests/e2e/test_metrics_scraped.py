"""The Prometheus exposition after real runs against the sandbox (issue 12, item 1): projects
counted by status, step durations, forge and cluster requests, the status sync's lag, retries
and failures by cause, and never a token or a project's name in the text.

The instruments are the process's, shared by every test of the session: assertions compare
the exposition before and after this test's run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.e2e.conftest import forge_faulted, sandbox_settings
from tests.support.waiting import wait_until

from slipway import service
from slipway.bootstrap import App, bootstrap
from slipway.domain.model import ProjectStatus, Step
from slipway.pipeline.runtime import Worker
from slipway.sandbox.runner import Sandbox
from slipway.service.sync import running_sync

Labels = frozenset[tuple[str, str]]
CREATION_STEPS = [s.value for s in Step][:9]


@pytest.fixture
def retrying_app(sandbox: Sandbox, tmp_path: Path) -> Iterator[App]:
    """An App whose runs retry an outage for up to 60 s."""
    instance = bootstrap(sandbox_settings(sandbox, tmp_path / "data", retry_window=60.0))
    yield instance
    instance.close()


def scrape(app: App) -> tuple[str, dict[str, dict[Labels, float]]]:
    """The exposition's text, and each sample's value by name and labels."""
    body, content_type = service.metrics_exposition(app)
    assert content_type.startswith("text/plain")
    text = body.decode()
    samples: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return text, samples


def total(samples: dict[str, dict[Labels, float]], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for key, v in samples.get(name, {}).items() if wanted <= key)


def create_and_wait(app: App, name: str, expect: str) -> None:
    worker = Worker(app).start()
    try:
        asyncio.run(
            service.create_project(
                app, service.CreateRequest(name=name, template="static-site"), worker=worker
            )
        )

        def final() -> str | None:
            events = service.project_events(app, name)
            return events[-1].final if events else None

        found = wait_until(final, message=f"{name} to finish", timeout=120, interval=0.2)
        assert found == expect, service.show_project(app, name)
    finally:
        worker.stop()


def test_a_creation_shows_in_the_metrics_without_its_name_or_the_token(
    app: App, sandbox: Sandbox
) -> None:
    _, before = scrape(app)
    create_and_wait(app, "tallyho", "completed")

    # The final event may be written before the step's own timing is recorded: wait for it.
    def settled() -> tuple[str, dict[str, dict[Labels, float]]] | None:
        text, after = scrape(app)
        name = "slipway_step_duration_seconds_count"
        ran = total(after, name, step="finalize") > total(before, name, step="finalize")
        return (text, after) if ran else None

    text, after = wait_until(settled, message="finalize to be timed", timeout=30)

    projects = {dict(k)["status"]: v for k, v in after["slipway_projects"].items()}
    assert projects == {s.value: (1 if s is ProjectStatus.ACTIVE else 0) for s in ProjectStatus}
    for step in CREATION_STEPS:
        name = "slipway_step_duration_seconds_count"
        ran = total(after, name, step=step, outcome="ok") - total(
            before, name, step=step, outcome="ok"
        )
        assert ran >= 1, step
    for name, labels in [
        ("slipway_forge_requests_total", {"forge": "github", "status": "2xx"}),
        ("slipway_forge_request_duration_seconds_count", {"forge": "github"}),
        ("slipway_cluster_requests_total", {"verb": "apply", "status": "2xx"}),
        ("slipway_cluster_request_duration_seconds_count", {}),
    ]:
        assert total(after, name, **labels) > total(before, name, **labels), name
    assert sandbox.forge_token not in text
    assert "tallyho" not in text

    # The status sync lists the project's objects: their rows are written, each event's lag
    # recorded, and the time of the pass.
    started = time.time()
    with running_sync(app):

        def synced() -> dict[str, dict[Labels, float]] | None:
            _, now = scrape(app)
            lagged = total(now, "slipway_sync_lag_seconds_count") > total(
                after, "slipway_sync_lag_seconds_count"
            )
            passed = total(now, "slipway_sync_last_pass_timestamp_seconds") >= started
            return now if lagged and passed else None

        wait_until(synced, message="the sync to write the project's rows", timeout=30)


def test_an_outage_is_counted_as_a_retry_and_a_refusal_as_a_failure_by_cause(
    retrying_app: App, sandbox: Sandbox
) -> None:
    app = retrying_app
    _, before = scrape(app)
    # The client's own retries spend 5 answers: the step runs again, and then succeeds.
    with forge_faulted(sandbox, 503, path_prefix="/user/repos", method="POST", count=5):
        create_and_wait(app, "weathered", "completed")
    with forge_faulted(sandbox, 403, path_prefix="/user/repos", method="POST", count=5):
        create_and_wait(app, "refused", "failed")
    _, after = scrape(app)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    step = Step.CREATE_REPOSITORY.value
    assert grew("slipway_step_retries_total", step=step) >= 1
    assert grew("slipway_forge_requests_total", forge="github", method="POST", status="5xx") >= 5
    assert grew("slipway_step_failures_total", step=step, cause="ForgeError") == 1
    assert grew("slipway_step_duration_seconds_count", step=step, outcome="failed") == 1
    projects = {dict(k)["status"]: v for k, v in after["slipway_projects"].items()}
    assert (projects["active"], projects["failed"]) == (1, 1)
