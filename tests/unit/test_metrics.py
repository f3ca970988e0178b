"""The Prometheus instruments: bounded label values, what each helper records, the exposition
text, and the transports that count forge and cluster requests (over in-memory transports).

The registry is the process's own, shared by every test: assertions read the change a call
makes, never an absolute value."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import httpx2
import pytest
from prometheus_client.parser import text_string_to_metric_families

from slipway import metrics
from slipway.domain.model import ForgeKind
from slipway.forges._clients import metered
from slipway.gitops._connection import MeteredTransport


def value(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def delta(name: str, action: Callable[[], object], **labels: str) -> float:
    before = value(name, **labels)
    action()
    return value(name, **labels) - before


@pytest.mark.parametrize(
    ("code", "expected"),
    [(200, "2xx"), (204, "2xx"), (301, "3xx"), (404, "4xx"), (503, "5xx"), (None, "error")],
)
def test_status_class(code: int | None, expected: str) -> None:
    assert metrics.status_class(code) == expected


def test_status_class_of_a_nonsense_code_is_error() -> None:
    assert metrics.status_class(0) == metrics.status_class(1000) == "error"


def test_http_method_is_one_of_a_closed_set() -> None:
    assert metrics.http_method("get") == "GET"
    assert metrics.http_method("BREW") == "OTHER"


@pytest.mark.parametrize(
    ("method", "watch", "apply", "verb"),
    [
        ("GET", False, False, "get"),
        ("GET", True, False, "watch"),
        ("POST", False, False, "create"),
        ("PATCH", False, True, "apply"),
        ("PATCH", False, False, "patch"),
        ("PUT", False, False, "update"),
        ("DELETE", False, False, "delete"),
        ("TRACE", False, False, "other"),
    ],
)
def test_cluster_verb(method: str, watch: bool, apply: bool, verb: str) -> None:
    assert metrics.cluster_verb(method, watch=watch, apply=apply) == verb


def test_a_step_that_ran_is_timed_and_a_failed_one_counted_by_cause() -> None:
    step = "push_template"
    ok = delta(
        "slipway_step_duration_seconds_count",
        lambda: metrics.observe_step(step, 0.3),
        step=step,
        outcome="ok",
    )
    failed = delta(
        "slipway_step_failures_total",
        lambda: metrics.observe_step(step, 1.0, cause="ForgeError"),
        step=step,
        cause="ForgeError",
    )
    assert (ok, failed) == (1, 1)
    assert value("slipway_step_duration_seconds_count", step=step, outcome="failed") >= 1


def test_a_retry_without_a_system_is_counted_as_unknown() -> None:
    counted = delta(
        "slipway_step_retries_total",
        lambda: metrics.count_retry("finalize", None),
        step="finalize",
        system="unknown",
    )
    assert counted == 1


def test_a_sync_pass_records_each_events_lag_and_its_time() -> None:
    now = time.monotonic()
    started = time.time()
    lags = delta(
        "slipway_sync_lag_seconds_count",
        lambda: metrics.observe_sync_pass([now - 2.0, now - 0.5], now=now),
    )
    assert lags == 2
    assert value("slipway_sync_last_pass_timestamp_seconds") >= started


def test_the_exposition_adds_the_projects_by_status() -> None:
    family = metrics.projects_family({"active": 2, "failed": 0})
    body, content_type = metrics.exposition([family])
    assert content_type.startswith("text/plain; version=0.0.4")
    parsed = {f.name: f for f in text_string_to_metric_families(body.decode())}
    samples = {s.labels["status"]: s.value for s in parsed["slipway_projects"].samples}
    assert samples == {"active": 2, "failed": 0}
    assert "slipway_step_duration_seconds" in parsed  # the registry's own come too


async def test_forge_requests_are_counted_by_kind_method_and_status_class_never_by_path() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/down"):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(404 if "missing" in request.url.path else 200)

    client = metered(httpx.AsyncClient(transport=httpx.MockTransport(answer)), ForgeKind.GITEA)
    labels = {"forge": "gitea", "method": "GET"}
    before = {s: value("slipway_forge_requests_total", **labels, status=s) for s in ("2xx", "4xx")}
    before_error = value("slipway_forge_requests_total", **labels, status="error")
    async with client:
        await client.get("https://forge.example/repos/secret-project")
        await client.get("https://forge.example/repos/missing-project")
        with pytest.raises(httpx.ConnectError):
            await client.get("https://forge.example/down")
    assert value("slipway_forge_requests_total", **labels, status="2xx") - before["2xx"] == 1
    assert value("slipway_forge_requests_total", **labels, status="4xx") - before["4xx"] == 1
    assert value("slipway_forge_requests_total", **labels, status="error") - before_error == 1
    body, _ = metrics.exposition()
    assert b"secret-project" not in body
    assert b"forge.example" not in body


async def test_cluster_requests_are_counted_by_verb() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={})

    client = httpx2.AsyncClient(transport=MeteredTransport(httpx2.MockTransport(answer)))
    before = {
        verb: value("slipway_cluster_requests_total", verb=verb, status="2xx")
        for verb in ("apply", "watch")
    }
    async with client:
        await client.patch(
            "https://cluster.example/api/v1/namespaces/project-shop-dev",
            content=b"{}",
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
        await client.get("https://cluster.example/api/v1/namespaces", params={"watch": "true"})
    for verb in ("apply", "watch"):
        after = value("slipway_cluster_requests_total", verb=verb, status="2xx")
        assert after - before[verb] == 1, verb
    body, _ = metrics.exposition()
    assert b"project-shop-dev" not in body
