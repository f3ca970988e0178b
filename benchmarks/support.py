"""What the benchmark scripts share: sandbox options that work on old and new trees, settings
pointing at a sandbox, generated templates, waiting for a project's final event, and the
request classification (Slipway's forge traffic by User-Agent, routes with names folded).

The scripts use only Slipway's service API and the sandbox, so they also run against an older
source tree (`bench_throughput --src DIR`). Where a newer field or knob is missing they say so
on stderr and carry on without it.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from slipway import service
from slipway.config import Settings
from slipway.domain.model import ForgeKind, ProgressEvent
from slipway.logs import configure_logging
from slipway.sandbox.runner import Sandbox

FORGES = ("github", "gitlab", "gitea")
REPO_ROOT = Path(__file__).resolve().parent.parent
APPLY_STEP = "gitops_resources"
COMPLETED = "completed"
_SLIPWAY_AGENT = re.compile(r"(^|\s)slipway/", re.IGNORECASE)


def progress(message: str) -> None:
    """Progress for the person waiting: stderr, so stdout stays the results."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def quiet_logs() -> None:
    """Slipway's warnings only: its info lines would bury the progress."""
    configure_logging("console", "warning")


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    """The results for `run_all` (which renders docs/BENCHMARKS.md from them)."""
    if path is not None:
        path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile: a value some project actually took."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


# -- the sandbox ------------------------------------------------------------------------------


def sandbox_options(
    *, forge_ms: float = 0.0, kube_ms: float = 0.0, flux_resync: int = 1
) -> tuple[dict[str, Any], list[str]]:
    """Keyword arguments for `Sandbox` in this tree, and what it could not honour.

    Older trees have one `latency_ms` (the forge's) and a Flux re-list period; newer ones
    `forge_latency_ms` and `kube_latency_ms`."""
    params = inspect.signature(Sandbox.__init__).parameters
    options: dict[str, Any] = {}
    missing: list[str] = []
    if "forge_latency_ms" in params:
        options["forge_latency_ms"] = forge_ms
    elif "latency_ms" in params:
        options["latency_ms"] = forge_ms
    elif forge_ms:
        missing.append("Sandbox has no forge latency knob: the forge runs without latency")
    if "kube_latency_ms" in params:
        options["kube_latency_ms"] = kube_ms
    elif kube_ms:
        missing.append(
            "Sandbox(kube_latency_ms=) is missing: the cluster runs without injected latency"
        )
    if "flux_resync_seconds" in params:
        options["flux_resync_seconds"] = flux_resync
    return options, missing


def set_latency(sandbox: Sandbox, milliseconds: float) -> list[str]:
    """Sets the latency of a running sandbox's forge and cluster; returns what it could not
    set (an older tree has no knob on its Kubernetes emulator)."""
    assert sandbox.forge is not None and sandbox.kube is not None
    sandbox.forge.state.latency_ms = milliseconds
    if isinstance(getattr(type(sandbox.kube), "latency_ms", None), property):
        sandbox.kube.latency_ms = milliseconds
        return []
    return ["the Kubernetes emulator has no latency knob: the cluster runs without latency"]


@contextmanager
def running_sandbox(
    directory: Path, *, forge_ms: float = 0.0, kube_ms: float = 0.0
) -> Iterator[tuple[Sandbox, list[str]]]:
    """A started sandbox, and the list of knobs this tree lacks (already printed)."""
    options, missing = sandbox_options(forge_ms=forge_ms, kube_ms=kube_ms)
    for line in missing:
        progress(line)
    with Sandbox(directory, **options) as sandbox:
        yield sandbox, missing


def sandbox_settings(
    data_dir: Path,
    *,
    forge: str,
    forge_url: str,
    forge_token: str,
    kubeconfig: Path,
    **extra: Any,
) -> Settings:
    """Settings pointing at a sandbox (given by its parts, so a sandbox in another process
    works too); fields this tree does not know are left out."""
    kind = ForgeKind(forge)
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "forge": kind,
        "forge_urls": {kind: forge_url},
        "forge_token": SecretStr(forge_token),
        "kubeconfig": kubeconfig,
        "log_level": "warning",
        **extra,
    }
    known = Settings.model_fields
    return Settings(**{key: value for key, value in values.items() if key in known})


def settings_for(sandbox: Sandbox, data_dir: Path, forge: str, **extra: Any) -> Settings:
    assert sandbox.forge is not None
    return sandbox_settings(
        data_dir,
        forge=forge,
        forge_url=sandbox.forge.url,
        forge_token=sandbox.forge_token,
        kubeconfig=sandbox.kubeconfig,
        **extra,
    )


# -- creating and waiting ---------------------------------------------------------------------


@dataclass(frozen=True)
class Creation:
    """One project from request to final event; times in seconds from the request."""

    name: str
    final: str
    picked_up: float  # the workflow's first event (after the request's own): off the queue
    applied: float  # the last "objects applied" event: Slipway's own work is done
    finished: float  # the final event (active, degraded or failed)
    events: tuple[ProgressEvent, ...]


def create_and_wait(
    app: service.App,
    worker: service.Worker,
    name: str,
    template: str,
    *,
    timeout: float = 180.0,
) -> Creation:
    """Creates `name` through the service and waits for its final event."""
    requested = datetime.now(UTC)
    request = service.CreateRequest(name=name, template=template)
    asyncio.run(service.create_project(app, request, worker=worker))
    events = wait_final(app, name, timeout=timeout)
    return creation_of(name, events, requested)


def creation_of(name: str, events: Sequence[ProgressEvent], requested: datetime) -> Creation:
    last = events[-1]
    applied = [e.created_at for e in events if e.step == APPLY_STEP]
    applied_at = max(applied) if applied else last.created_at
    return Creation(
        name=name,
        final=last.final or "none",
        picked_up=(_aware(events[min(1, len(events) - 1)].created_at) - requested).total_seconds(),
        applied=(_aware(applied_at) - requested).total_seconds(),
        finished=(_aware(last.created_at) - requested).total_seconds(),
        events=tuple(events),
    )


def _aware(moment: datetime) -> datetime:
    """The store's times are UTC; an older tree may hand them back without a zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def wait_final(app: service.App, name: str, *, timeout: float) -> list[ProgressEvent]:
    """Every event of `name` once the final one is recorded; TimeoutError naming the last."""
    deadline = time.monotonic() + timeout
    while True:
        events = service.project_events(app, name)
        if events and events[-1].final:
            return events
        if time.monotonic() > deadline:
            last = events[-1].message if events else "no event"
            raise TimeoutError(f"{name}: no final event within {timeout:.0f} s (last: {last})")
        time.sleep(0.05)


def require_completed(creation: Creation) -> None:
    """The one thing the benchmarks assert: the project they measured succeeded."""
    if creation.final != COMPLETED:
        # Every warning and error on the way, so a failed run says why, not only that it did.
        told = [e.message for e in creation.events if e.level in ("warning", "error")]
        why = " | ".join(told or [creation.events[-1].message])
        raise SystemExit(f"{creation.name} did not succeed ({creation.final}): {why}")


# -- generated templates ----------------------------------------------------------------------

_COPIER_YML = """\
_templates_suffix: .jinja
_slipway:
  description: Generated for the benchmarks ({files} files, {binary} binary).
project_name:
  type: str
  help: Project slug; Slipway sets it.
environments:
  type: yaml
  default: [development, staging, production]
  when: false
"""
_BASE_KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ project_name }}-settings
data:
  greeting: hello
"""
_OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
"""
_OVERLAY_DIR = "{% yield env from environments %}{{ env }}{% endyield %}"
# The files every generated template renders for three environments: base kustomization and
# ConfigMap, one overlay kustomization per environment.
FIXED_FILES = 5


def write_template(root: Path, files: int, *, binary_share: float = 0.2) -> str:
    """A template under `root` that renders to exactly `files` files for three environments,
    `binary_share` of them binary (random bytes with NULs); returns its name."""
    binary = round(files * binary_share)
    text = files - binary - FIXED_FILES
    if text < 0:
        raise ValueError(f"a template needs at least {FIXED_FILES + binary} files")
    name = f"files-{files}"
    folder = root / name
    (folder / "k8s" / "base").mkdir(parents=True, exist_ok=True)
    (folder / "k8s" / "overlays" / _OVERLAY_DIR).mkdir(parents=True, exist_ok=True)
    (folder / "copier.yml").write_text(_COPIER_YML.format(files=files, binary=binary))
    (folder / "k8s" / "base" / "kustomization.yaml").write_text(
        _BASE_KUSTOMIZATION + "resources:\n  - settings.yaml\n"
    )
    (folder / "k8s" / "base" / "settings.yaml.jinja").write_text(_CONFIGMAP)
    (folder / "k8s" / "overlays" / _OVERLAY_DIR / "kustomization.yaml.jinja").write_text(_OVERLAY)
    rng = random.Random(files)
    for index in range(text):
        path = folder / "content" / f"part-{index // 100:02d}" / f"page-{index:04d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        words = " ".join(rng.choice(("ship", "slip", "way", "flux", "git")) for _ in range(80))
        path.write_text(f"# Page {index}\n\n{words}\n")
    for index in range(binary):
        path = folder / "assets" / f"part-{index // 100:02d}" / f"blob-{index:04d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00\x01" + rng.randbytes(2046))
    return name


# -- requests ---------------------------------------------------------------------------------


def user_agent(record: object) -> str | None:
    """The request's User-Agent, or None when this tree's recorder does not keep it."""
    value = getattr(record, "user_agent", None)
    return value if isinstance(value, str) else None


def is_slipway(record: object) -> bool:
    """Slipway sends `slipway/<version>`; everything else (the Flux emulator) is not Slipway."""
    agent = user_agent(record)
    return agent is not None and _SLIPWAY_AGENT.search(agent) is not None


def is_git(path: str) -> bool:
    return ".git/" in path or path.endswith(".git")


_SHA = re.compile(r"\b[0-9a-f]{40}\b")
_NUMBER = re.compile(r"(?<=/)\d+(?=/|$)")


def route(method: str, path: str, query: str, *, owner: str, repo: str) -> str:
    """`METHOD /path` with the owner, repository, SHAs and numeric IDs folded, so the same
    call for different projects is one row. For git, the `service` query stays."""
    folded = path.replace(f"{owner}%2F{repo}", "{owner}%2F{repo}")
    folded = re.sub(rf"(?<=/){re.escape(owner)}(?=/|\.git|$)", "{owner}", folded)
    folded = re.sub(rf"(?<=/){re.escape(repo)}(?=/|\.git|$)", "{repo}", folded)
    folded = _NUMBER.sub("{id}", _SHA.sub("{sha}", folded))
    if is_git(path) and "service=" in query:
        service_name = query.split("service=", 1)[1].split("&", 1)[0]
        folded += f"?service={service_name}"
    return f"{method.upper()} {folded}"
