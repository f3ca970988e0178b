"""Slipway's Prometheus instruments, in a `CollectorRegistry` of its own (`REGISTRY`), so tests
and several Apps in one process never collide with the library's global default registry.

Every label value comes from a closed set (a step, an error type, a forge kind, an HTTP method,
a status class, a Kubernetes verb): never a project, a path, a URL or a token, so the number of
series stays bounded whatever the number of projects. Adapters call the `observe_*` helpers;
only this module (and nothing above the standard library and prometheus_client) knows
Prometheus.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

# The classic text format (0.0.4), which every Prometheus version reads; `generate_latest`
# writes it (names are plain ASCII, so no escaping is needed).
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY: Final = CollectorRegistry(auto_describe=True)

# Steps run from milliseconds (recording rows) to minutes (waiting for Flux, retrying outages).
STEP_BUCKETS: Final = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
# One HTTP request, to the time its answer's headers arrive.
REQUEST_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# The sync batches events for 0.2 s before writing them.
LAG_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)

METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
INTERNAL: Final = "internal"  # the cause of a failure that is not a SlipwayError (a bug)
ERROR: Final = "error"  # the status class of a request that got no answer

step_duration: Final = Histogram(
    "slipway_step_duration_seconds",
    "Seconds one pipeline step took, retries included, by step and outcome (ok or failed).",
    ["step", "outcome"],
    buckets=STEP_BUCKETS,
    registry=REGISTRY,
)
"""Labelled by the step (a `Step` value) and ok/failed: at most 16 x 2 series."""

step_failures: Final = Counter(
    "slipway_step_failures",
    "Steps that failed for good, by step and cause (the error type, or 'internal' for a bug).",
    ["step", "cause"],
    registry=REGISTRY,
)
"""The cause is a SlipwayError class name (a closed set in `domain.errors`) or `internal`."""

step_retries: Final = Counter(
    "slipway_step_retries",
    "Times a step was run again after an outage, by step and the system that was down.",
    ["step", "system"],
    registry=REGISTRY,
)
"""The system is an error's `system` (a forge's label, `kubernetes`): a handful of values."""

forge_requests: Final = Counter(
    "slipway_forge_requests",
    "HTTP requests to forges (REST and git smart HTTP), by forge kind, method and status class.",
    ["forge", "method", "status"],
    registry=REGISTRY,
)
"""By forge kind (not host: users may connect any URL), method and 2xx/4xx/5xx/error."""

forge_request_duration: Final = Histogram(
    "slipway_forge_request_duration_seconds",
    "Seconds from sending a forge request to its answer's headers (or its failure).",
    ["forge", "method", "status"],
    buckets=REQUEST_BUCKETS,
    registry=REGISTRY,
)
"""The same bounded labels as `forge_requests`."""

cluster_requests: Final = Counter(
    "slipway_cluster_requests",
    "Kubernetes API requests, by verb (get, watch, create, apply, patch, update, delete) "
    "and status class.",
    ["verb", "status"],
    registry=REGISTRY,
)
"""No object, namespace or path labels: a verb from `cluster_verb` and a status class."""

cluster_request_duration: Final = Histogram(
    "slipway_cluster_request_duration_seconds",
    "Seconds from sending a Kubernetes API request to its answer's headers (for a watch, "
    "to the start of its stream).",
    ["verb", "status"],
    buckets=REQUEST_BUCKETS,
    registry=REGISTRY,
)
"""The same bounded labels as `cluster_requests`."""

sync_lag: Final = Histogram(
    "slipway_sync_lag_seconds",
    "Seconds from the status sync receiving a watch event to the pass that wrote its rows.",
    buckets=LAG_BUCKETS,
    registry=REGISTRY,
)
"""No labels: one series set per process."""

sync_last_pass: Final = Gauge(
    "slipway_sync_last_pass_timestamp_seconds",
    "Unix time of the status sync's last database pass (a batch of watch events, or the "
    "periodic resync, at least every 60 s while leading); 0 if this process never led. "
    "Alert on time() - max(slipway_sync_last_pass_timestamp_seconds) > 300.",
    registry=REGISTRY,
)
"""A timestamp rather than an age: Prometheus computes the age at query time, and the max over
processes picks the leader, since only the leader writes."""


def status_class(code: int | None) -> str:
    """`2xx`, `4xx`, `5xx`... for an HTTP status, `error` when no answer came."""
    if code is None or not 100 <= code <= 599:
        return ERROR
    return f"{code // 100}xx"


def http_method(method: str) -> str:
    """The method as sent, or `OTHER`, so a label never takes an unexpected value."""
    upper = method.upper()
    return upper if upper in METHODS else "OTHER"


def cluster_verb(method: str, *, watch: bool = False, apply: bool = False) -> str:
    """The Kubernetes verb of a request: a GET is `get` (or `watch`), a PATCH whose body is
    an apply patch is `apply`."""
    upper = method.upper()
    if upper == "GET":
        return "watch" if watch else "get"
    if upper == "PATCH":
        return "apply" if apply else "patch"
    return {"POST": "create", "PUT": "update", "DELETE": "delete"}.get(upper, "other")


def observe_step(step: str, seconds: float, *, cause: str | None = None) -> None:
    """One step's run: its duration, and a failure when `cause` names one."""
    step_duration.labels(step=step, outcome="ok" if cause is None else "failed").observe(seconds)
    if cause is not None:
        step_failures.labels(step=step, cause=cause).inc()


def count_retry(step: str, system: str | None) -> None:
    step_retries.labels(step=step, system=system or "unknown").inc()


def observe_forge_request(forge: str, method: str, code: int | None, seconds: float) -> None:
    labels = {"forge": forge, "method": http_method(method), "status": status_class(code)}
    forge_requests.labels(**labels).inc()
    forge_request_duration.labels(**labels).observe(seconds)


def observe_cluster_request(verb: str, code: int | None, seconds: float) -> None:
    labels = {"verb": verb, "status": status_class(code)}
    cluster_requests.labels(**labels).inc()
    cluster_request_duration.labels(**labels).observe(seconds)


def observe_sync_pass(received: Iterable[float], *, now: float | None = None) -> None:
    """A sync pass wrote its rows: the lag of each event it carried (`received` are
    `time.monotonic()` readings) and the pass's wall-clock time."""
    written = time.monotonic() if now is None else now
    for at in received:
        sync_lag.observe(max(written - at, 0.0))
    sync_last_pass.set(time.time())


class _Snapshot:
    """The registry's metrics, then families computed for one scrape."""

    def __init__(self, extra: Iterable[Metric]) -> None:
        self._extra = list(extra)

    def collect(self) -> Iterable[Metric]:
        yield from REGISTRY.collect()
        yield from self._extra


def projects_family(counts: Mapping[str, int]) -> GaugeMetricFamily:
    """`slipway_projects{status}`: computed at scrape time from the database, not kept here,
    since each App has its own database. One series per project status."""
    family = GaugeMetricFamily(
        "slipway_projects", "Projects recorded in the database, by status.", labels=["status"]
    )
    for status, count in sorted(counts.items()):
        family.add_metric([status], count)
    return family


def exposition(extra: Iterable[Metric] = ()) -> tuple[bytes, str]:
    """The text exposition of `REGISTRY` plus `extra` families, and its content type."""
    return generate_latest(_Snapshot(extra)), CONTENT_TYPE
