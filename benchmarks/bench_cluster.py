"""Kubernetes requests per creation (static-site, three environments) by phase and verb:
Slipway's only (the Flux emulator authenticates as another user and is counted apart), for
the first creation in a process and for the ones after it (steady state: preflight cached,
the status watch already open). Prints numbers; asserts only success.

    python -m benchmarks.bench_cluster [--steady 3] [--json FILE]

Phases are read from each request: writes (other than access reviews) are `apply`; reads of
the kinds with a Ready condition are `readiness`; everything else (access reviews, discovery,
CRDs, Flux's controllers) is `preflight`.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.support import (
    create_and_wait,
    progress,
    quiet_logs,
    require_completed,
    running_sandbox,
    settings_for,
    write_json,
)

from slipway import service
from slipway.sandbox.runner import FLUX_USER, Sandbox

WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
READY_KINDS = frozenset({"gitrepositories", "kustomizations"})
REVIEWS_GROUP = "authorization.k8s.io"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--steady", type=int, default=3, help="creations after the first")
    parser.add_argument("--template", default="static-site")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    quiet_logs()
    with (
        tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp,
        running_sandbox(Path(tmp) / "sandbox") as (sandbox, _),
    ):
        settings = settings_for(sandbox, Path(tmp) / "data", "github")
        with service.application(settings) as app, service.running_worker(app) as worker:
            rounds: list[dict[str, Any]] = []
            for index in range(1 + args.steady):
                name = f"kube-{index}"
                progress(f"cluster: creation {index + 1} of {1 + args.steady}")
                with kube_recording(sandbox) as recorder:
                    creation = create_and_wait(app, worker, name, args.template)
                    records = recorder.requests() if recorder is not None else None
                require_completed(creation)
                if records is None:
                    reason = "KubeEmulator.recording() is missing in this tree: no counts"
                    write_json(args.json, {"available": False, "reason": reason})
                    print(reason)
                    return
                rounds.append(classify(records))
    results = {"available": True, "first": rounds[0], "steady": rounds[1:]}
    write_json(args.json, results)
    print_table(results)


@contextmanager
def kube_recording(sandbox: Sandbox) -> Iterator[Any]:
    """The Kubernetes emulator's request log for the block, or None in a tree without one."""
    recording = getattr(sandbox.kube, "recording", None)
    if recording is None:
        progress("KubeEmulator.recording() is missing in this tree")
        yield None
        return
    with recording() as recorder:
        yield recorder


def phase(record: Any) -> str:
    verb, resource = record.verb, record.resource or ""
    if verb in WRITES and getattr(record, "group", "") != REVIEWS_GROUP:
        return "apply"
    if resource in READY_KINDS and verb in ("get", "list", "watch"):
        return "readiness"
    return "preflight"


def classify(records: list[Any]) -> dict[str, Any]:
    """Slipway's requests as `phase verb resource` -> count, and the Flux emulator's total."""
    rows: Counter[str] = Counter()
    flux = 0
    users = {getattr(r, "user", None) for r in records}
    for record in records:
        # Flux's own requests, and those it makes as a project's ServiceAccount (impersonated).
        if FLUX_USER in (getattr(record, "user", None), getattr(record, "impersonator", None)):
            flux += 1
            continue
        if str(getattr(record, "user", "")).startswith("system:"):
            continue  # the cluster's own controllers (the deployment controller's status)
        resource = record.resource or "(discovery)"
        if getattr(record, "subresource", None):
            resource += f"/{record.subresource}"
        rows[f"{phase(record)} {record.verb} {resource}"] += 1
    return {
        "rows": dict(rows),
        "total": sum(rows.values()),
        "flux": flux,
        "users_known": None not in users,
    }


def print_table(results: dict[str, Any]) -> None:
    first, steady = results["first"], results["steady"]
    keys = sorted({k for r in [first, *steady] for k in r["rows"]})
    print(f"{'phase verb resource':<60} first  steady (each)")
    for key in keys:
        later = " ".join(str(r["rows"].get(key, 0)) for r in steady)
        print(f"{key:<60} {first['rows'].get(key, 0):>5}  {later}")
    later = " ".join(str(r["total"]) for r in steady)
    print(f"{'total':<60} {first['total']:>5}  {later}")
    print(f"{'Flux emulator (apart)':<60} {first['flux']:>5}  ")


if __name__ == "__main__":
    main()
