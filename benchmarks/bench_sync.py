"""Kubernetes requests the status sync makes, per minute in steady state and to start, for 10,
100 and 1,000 projects (one environment each: six objects): it must not grow with the number
of projects, since it is one list and one watch per kind plus the Lease, never a request per
project. Prints numbers; asserts only that the sync recorded every project.

    python -m benchmarks.bench_sync [--sizes 10,100,1000] [--window 15] [--json FILE]

The objects are created directly in a Kubernetes emulator (no forge, no Flux, no creation
run) and the rows directly in a SQLite database, so 1,000 projects take seconds. Requests
are read from the emulator's request log, Slipway's user only.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.support import progress, quiet_logs, write_json

from slipway import store
from slipway.bootstrap import App, bootstrap
from slipway.config import Settings
from slipway.domain.model import ProjectStatus, ResourceStatus
from slipway.domain.names import ResourceNames
from slipway.gitops import BasicAuth, EnvironmentSpec, apply_order, environment_objects
from slipway.sandbox.kube import KubeEmulator
from slipway.service.sync import running_sync
from slipway.store.models import GitopsResource
from slipway.sync import StatusSync

USER = "slipway-bench"
ENV = "dev"
REVISION = "main@sha1:0123456789abcdef0123456789abcdef01234567"
ARTIFACT = {
    "revision": REVISION,
    "digest": "sha256:" + "0" * 64,
    "lastUpdateTime": "2026-01-01T00:00:00Z",
    "path": "gitrepository/bench/repo/0.tar.gz",
    "url": "http://source-controller.flux-system.svc/0.tar.gz",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--window", type=float, default=15.0, help="seconds of steady state")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    quiet_logs()
    sizes = [int(n) for n in args.sizes.split(",") if n]
    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="slipway-bench-sync-") as tmp,
        KubeEmulator(user=USER) as kube,
    ):
        kubeconfig = kube.write_kubeconfig(Path(tmp) / "kubeconfig")
        app = bootstrap(Settings(data_dir=Path(tmp) / "data", kubeconfig=kubeconfig))
        try:
            seeded = 0
            for size in sizes:
                progress(f"sync: seeding {size - seeded} more projects")
                seed(app, kube, range(seeded, size))
                seeded = size
                rows.append(measure(app, kube, size, args.window))
        finally:
            app.close()
    results = {"window_seconds": args.window, "sizes": rows}
    write_json(args.json, results)
    print(render_section(results))


def seed(app: App, kube: KubeEmulator, numbers: range) -> None:
    """Projects `p<n>`: their rows (reconciling, as a creation leaves them) and their
    objects, Flux's Ready on the Flux kinds."""
    installation = app.installation
    with app.session() as session:
        for n in numbers:
            name = f"p{n}"
            project = store.create_project(
                session,
                name=name,
                slug=name,
                template="static-site",
                environments=(ENV,),
                forge="github",
                status=ProjectStatus.ACTIVE,
            )
            env = store.list_environments(session, project_id=project.id)[0]
            names = ResourceNames(name, ENV)
            session.add_all(
                GitopsResource(
                    project_id=project.id,
                    environment_id=env.id,
                    type=info.kind,
                    name=info.name(names),
                    namespace=info.ref(names).namespace,
                    api_version=info.api_version,
                    status=ResourceStatus.RECONCILING,
                )
                for info in apply_order()
            )
    for n in numbers:
        name = f"p{n}"
        spec = EnvironmentSpec(
            project=name,
            environment=ENV,
            installation=installation,
            repository_url=f"https://forge.example/bench/{name}.git",
            credentials=BasicAuth(username="git", password=_password()),
        )
        for obj in environment_objects(spec):
            kube.apply(obj, manager="slipway")
        names = spec.names
        for info in apply_order():
            if info.has_ready:
                extra = (
                    {"lastAppliedRevision": REVISION}
                    if info.kind == "Kustomization"
                    else {"artifact": ARTIFACT}
                )
                kube.set_condition(
                    info.api_version,
                    info.kind,
                    info.name(names),
                    names.namespace,
                    type="Ready",
                    status="True",
                    reason="ReconciliationSucceeded",
                    message=f"Applied revision: {REVISION}",
                    **extra,
                )


def _password() -> Any:
    from pydantic import SecretStr

    return SecretStr("bench-token-not-a-secret")


def measure(app: App, kube: KubeEmulator, size: int, window: float) -> dict[str, Any]:
    """Starts the sync, counts its requests until every row is recorded (to start), then
    over `window` seconds of an unchanging cluster (steady state)."""
    progress(f"sync: {size} projects, starting")
    before = kube.state.open_watches()
    with kube.recording() as start_log, running_sync(app) as sync:
        started = time.perf_counter()
        _wait_recorded(app, sync, size)
        first_pass = time.perf_counter() - started
        startup = _count(start_log.requests(user=USER))
    with running_sync(app) as sync:  # a fresh start, then only steady state is counted
        _wait_recorded(app, sync, size)
        _wait_watching(kube, before)
        passes = sync.passes
        with kube.recording() as log:
            time.sleep(window)
        steady = _count(log.requests(user=USER))
        changed = sync.changed
        passes = sync.passes - passes
    per_minute = {key: count * 60.0 / window for key, count in steady.items()}
    progress(
        f"sync: {size} projects: {sum(startup.values())} requests to start, "
        f"{sum(per_minute.values()):.1f}/min steady"
    )
    return {
        "projects": size,
        "objects": size * len(apply_order()),
        "startup": dict(startup),
        "steady_per_minute": per_minute,
        "first_pass_seconds": first_pass,
        "steady_writes": changed,
        "steady_passes": passes,
    }


def _wait_recorded(app: App, sync: StatusSync, size: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sync.leading and _ready_rows(app) == size * len(apply_order()):
            return
        time.sleep(0.1)
    raise SystemExit(f"the sync did not record {size} projects within {timeout:.0f} s")


def _wait_watching(kube: KubeEmulator, before: int, timeout: float = 30.0) -> None:
    """Until every kind's watch is open (`before`: those open without the sync, the
    emulator's own controllers')."""
    kinds = len(apply_order())
    deadline = time.monotonic() + timeout
    while kube.state.open_watches() < before + kinds:
        if time.monotonic() > deadline:
            raise SystemExit(f"the sync did not open its {kinds} watches in {timeout:.0f} s")
        time.sleep(0.1)
    time.sleep(0.5)


def _ready_rows(app: App) -> int:
    import sqlalchemy as sa

    with app.session() as session:
        query = sa.select(sa.func.count()).where(GitopsResource.status == ResourceStatus.READY)
        return int(session.scalar(query) or 0)


def _count(requests: list[Any]) -> Counter[str]:
    return Counter(f"{r.verb} {r.resource}" for r in requests)


def render_section(results: dict[str, Any]) -> str:
    """The docs/BENCHMARKS.md section (also what the script prints)."""
    sizes = results["sizes"]
    keys = sorted({k for row in sizes for k in (*row["startup"], *row["steady_per_minute"])})
    head = " | ".join(f"{row['projects']:,} projects" for row in sizes)
    lines = [
        "## Status sync requests",
        "",
        "The Kubernetes requests `slipway worker`'s status sync makes, by verb and resource,",
        "for 10, 100 and 1,000 projects (one environment each, six objects; created directly",
        "in the Kubernetes emulator, rows directly in SQLite): *to start* counts every request",
        "until all rows are recorded, *per minute* extrapolates a "
        f"{results['window_seconds']:.0f} s window of an",
        "unchanging cluster. One list and one watch per kind, and the Lease's renewals (every",
        "2 s with the default 15 s Lease): none per project. Each watch is also reopened",
        "every 5 minutes (`timeoutSeconds=300`), about 1.2 requests a minute not in the window.",
        "",
        f"| request | {head} |",
        "|---|" + "---:|" * len(sizes),
    ]
    for key in keys:
        cells = []
        for row in sizes:
            start = row["startup"].get(key, 0)
            minute = row["steady_per_minute"].get(key, 0.0)
            cells.append(f"{start} to start, {minute:.0f}/min")
        lines.append(f"| {key} | {' | '.join(cells)} |")
    totals = [
        f"**{sum(r['startup'].values())} to start, {sum(r['steady_per_minute'].values()):.0f}/min**"
        for r in sizes
    ]
    lines.append(f"| **total** | {' | '.join(totals)} |")
    firsts = " | ".join(f"{r['first_pass_seconds']:.1f} s" for r in sizes)
    lines.append(f"| first complete pass | {firsts} |")
    writes = " | ".join(str(r["steady_writes"]) for r in sizes)
    lines.append(f"| rows written in steady state | {writes} |")
    # The Lease's renewals follow a timer, not the projects: a window holds one renewal more
    # or less (60 / window a minute); every other request must be the same for every size.
    quantum = 60.0 / results["window_seconds"]
    lease = [_per_minute(r, leases=True) for r in sizes]
    others = [_per_minute(r, leases=False) for r in sizes]
    flat = max(others) - min(others) < 1e-9 and max(lease) - min(lease) <= quantum + 1e-9
    lines += [
        "",
        f"**Target:** requests per minute do not grow with the number of projects (the "
        f"Lease's timed renewals within one renewal, {quantum:.0f}/min, of each other): "
        f"{'met' if flat else '**missed**'}.",
    ]
    return "\n".join(lines)


def _per_minute(row: dict[str, Any], *, leases: bool) -> float:
    """Steady requests a minute to the Lease (`leases`), or to everything else."""
    return float(
        sum(v for k, v in row["steady_per_minute"].items() if k.endswith(" leases") == leases)
    )


if __name__ == "__main__":
    main()
