"""Throughput: N projects submitted at once to one in-process worker, the sandbox in a process
of its own (so CPU and memory are Slipway's). Prints numbers; asserts only that every project
became active.

    python -m benchmarks.bench_throughput --projects 50 [--database sqlite|postgres]
        [--concurrency 4] [--src DIR] [--json FILE]

`--src DIR` runs the same measurement against another checkout's `DIR/src` (e.g. an older
commit in a `git worktree`), for numbers side by side with the old code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.support import (
    REPO_ROOT,
    creation_of,
    median,
    percentile,
    progress,
    quiet_logs,
    sandbox_settings,
    wait_final,
    write_json,
)

import slipway
from slipway import service

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
FINAL_STATUSES = frozenset({"active", "degraded", "failed"})
POLL_SECONDS = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres", default=POSTGRES, help="server URL, without a database")
    parser.add_argument("--concurrency", type=int, default=None, help="default: the tree's")
    parser.add_argument("--template", default="static-site")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds; default 60 + 6/project"
    )
    parser.add_argument("--src", type=Path, default=None, help="measure DIR/src instead")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    quiet_logs()
    if args.src is not None:
        raise SystemExit(_run_elsewhere(args.src, sys.argv[1:]))
    result = measure(args)
    write_json(args.json, result)
    print(_summary(result))
    if not result.get("skipped") and not result["all_active"]:
        examples = "\n  ".join(result["problems"])
        raise SystemExit(
            f"not every project became active: {result['statuses']}; for example:\n  {examples}"
        )


def _run_elsewhere(src: Path, argv: list[str]) -> int:
    """This script again, in a child whose `slipway` is imported from `src/src`."""
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--src":
            skip = True
        elif not arg.startswith("--src="):
            rest.append(arg)
    env = {**os.environ, "PYTHONPATH": f"{src.resolve() / 'src'}{os.pathsep}{REPO_ROOT}"}
    command = [sys.executable, "-m", "benchmarks.bench_throughput", *rest]
    return subprocess.run(command, env=env, cwd=REPO_ROOT, check=False).returncode


def measure(args: argparse.Namespace) -> dict[str, Any]:
    source = _source_of(Path(slipway.__file__))
    progress(f"throughput: {args.projects} projects on {args.database}, slipway from {source}")
    base: dict[str, Any] = {
        "database": args.database,
        "projects": args.projects,
        "source": source,
        "template": args.template,
    }
    with _postgres(args) as (url, reason):
        if reason is not None:
            progress(f"skipped: {reason}")
            return {**base, "skipped": reason}
        with _sandbox_process() as (sandbox, host_usage):
            result = _run(args, sandbox, url)
        return {**base, **result, **host_usage, "skipped": None}


def _run(args: argparse.Namespace, sandbox: dict[str, Any], url: str | None) -> dict[str, Any]:
    names = [f"tp-{index:03d}" for index in range(args.projects)]
    extra: dict[str, Any] = {"database_url": url} if url else {}
    if args.concurrency is not None:
        extra["worker_concurrency"] = args.concurrency
    timeout = args.timeout or 60 + 6 * args.projects
    with tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp:
        settings = sandbox_settings(
            Path(tmp) / "data",
            forge="github",
            forge_url=sandbox["forge_url"],
            forge_token=sandbox["forge_token"],
            kubeconfig=Path(sandbox["kubeconfig"]),
            **extra,
        )
        # A shared worker, as `slipway worker` runs one: its queue holds it to its concurrency
        # (a private one, `create --wait`'s, starts whatever is submitted through it at once).
        with (
            service.application(settings) as app,
            service.running_worker(app, shared=True) as worker,
        ):
            before = resource.getrusage(resource.RUSAGE_SELF)
            requested = datetime.now(UTC)
            started = time.perf_counter()
            asyncio.run(_submit_all(app, worker, names, args.template))
            submitted = time.perf_counter() - started
            progress(f"{len(names)} submitted in {submitted:.1f} s; waiting for them")
            statuses = _wait_all(app, names, timeout)
            problems = _problems(app, names)
            after = resource.getrusage(resource.RUSAGE_SELF)
            creations = [
                creation_of(name, wait_final(app, name, timeout=30), requested) for name in names
            ]
            concurrency = app.settings.worker_concurrency
    first_events = [c.events[0].created_at for c in creations]
    to_final = [
        (c.events[-1].created_at - first).total_seconds()
        for c, first in zip(creations, first_events, strict=True)
    ]
    total = max(c.finished for c in creations)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "concurrency": concurrency,
        "submitted_s": submitted,
        "total_s": total,
        "per_s": len(names) / total,
        "p50_s": median(to_final),
        "p95_s": percentile(to_final, 0.95),
        "max_s": max(to_final),
        "statuses": statuses,
        "problems": problems,
        "all_active": statuses == {"active": len(names)},
        "peak_rss_mib": after.ru_maxrss / 1024,
        "cpu_s": cpu,
        "cpu_per_project_s": cpu / len(names),
    }


async def _submit_all(
    app: service.App, worker: service.Worker, names: list[str], template: str
) -> None:
    await asyncio.gather(
        *(
            service.create_project(
                app, service.CreateRequest(name=name, template=template), worker=worker
            )
            for name in names
        )
    )


def _problems(app: service.App, names: list[str], most: int = 5) -> list[str]:
    """Why projects did not end active, for the first few: a failure is only counted with
    its cause at hand."""
    wanted = set(names)
    views = [v for v in service.list_projects(app) if v.name in wanted and v.status != "active"]
    return [f"{v.name} {v.status}: {v.error_message}" for v in views[:most]]


def _wait_all(app: service.App, names: list[str], timeout: float) -> dict[str, int]:
    """Project statuses once every project has a final one; TimeoutError with the counts."""
    wanted = set(names)
    deadline = time.monotonic() + timeout
    reported = 0
    while True:
        views = [v for v in service.list_projects(app) if v.name in wanted]
        counts: dict[str, int] = {}
        for view in views:
            counts[view.status] = counts.get(view.status, 0) + 1
        done = sum(n for status, n in counts.items() if status in FINAL_STATUSES)
        if done == len(names):
            return counts
        if done >= reported + max(10, len(names) // 10):
            reported = done
            progress(f"{done}/{len(names)} final")
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every project finished within {timeout:.0f} s: {counts}")
        time.sleep(POLL_SECONDS)


@contextmanager
def _sandbox_process() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The sandbox in a child process; the second value fills with its CPU use at the end."""
    child = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.sandbox_host"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert child.stdin is not None and child.stdout is not None
    usage: dict[str, Any] = {}
    try:
        line = child.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process ended before it was ready")
        ready = json.loads(line)
        for missing in ready.get("missing", []):
            progress(missing)
        yield ready, usage
    finally:
        child.stdin.close()
        line = child.stdout.readline()
        child.wait(timeout=60)
        if line:
            host = json.loads(line)
            usage["sandbox_cpu_s"] = host["cpu_s"] + host["children_cpu_s"]


@contextmanager
def _postgres(args: argparse.Namespace) -> Iterator[tuple[str | None, str | None]]:
    """(URL of a fresh database, None), dropped afterwards; or (None, why) when unreachable.
    SQLite: (None, None)."""
    if args.database != "postgres":
        yield None, None
        return
    import psycopg

    server = args.postgres.rstrip("/")
    admin = server.replace("+psycopg", "") + "/postgres"
    name = f"slipway_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as exc:
        yield None, f"PostgreSQL at {server.split('@')[-1]} is unreachable ({type(exc).__name__})"
        return
    try:
        yield f"{server}/{name}", None
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _source_of(module: Path) -> str:
    """The checkout `slipway` was imported from, as `<commit>` (`+` when it has changes)."""
    root = module.resolve().parent.parent.parent
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--", "src"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{commit or 'unknown'}{'+' if dirty else ''} ({root})"


def _summary(result: dict[str, Any]) -> str:
    head = f"{result['projects']} projects on {result['database']}"
    if result.get("skipped"):
        return f"{head}: skipped: {result['skipped']}"
    return (
        f"{head}, worker concurrency {result['concurrency']}: {result['statuses']}; "
        f"{result['total_s']:.1f} s, {result['per_s']:.2f} projects/s, request-to-final "
        f"p50 {result['p50_s']:.1f} s p95 {result['p95_s']:.1f} s; peak RSS "
        f"{result['peak_rss_mib']:.0f} MiB; CPU {result['cpu_per_project_s']:.2f} s/project "
        f"(sandbox {result.get('sandbox_cpu_s', float('nan')):.0f} s)"
    )


if __name__ == "__main__":
    main()
