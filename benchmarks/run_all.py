"""`make bench`: runs every benchmark script, each in a process of its own, and rewrites
docs/BENCHMARKS.md with the machine, the date, the commit and their tables.

    python -m benchmarks.run_all [--quick] [--only forge,cluster,critical,sync,throughput]
        [--old-src DIR] [--output docs/BENCHMARKS.md]

`--old-src DIR` also measures the 100-project run on another checkout (e.g. `git worktree add
/tmp/slipway-old 6e69521`) and keeps the result in benchmarks/baseline.json, which later runs
show beside their own. `--quick` uses small sizes, to check the scripts, not for the doc.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.report import render
from benchmarks.support import REPO_ROOT, progress

BASELINE = REPO_ROOT / "benchmarks" / "baseline.json"
PARTS = ("forge", "cluster", "critical", "sync", "throughput")
CONCURRENCY = 4
# Sizes that keep `make bench` under ten minutes on two cores: a project costs Slipway about
# 0.7 CPU seconds and the sandbox twice that, so two cores finish about one per second.
BASELINE_PROJECTS = 100
# Sections of the doc measured by a script run by hand (bench_api: 200 creations take longer
# than the whole budget): a rewrite keeps them as they were, before "Running them".
STANDALONE_SECTIONS = ("## API load",)


@dataclass
class Step:
    """One script run: its results (the JSON it wrote) or why there are none."""

    key: str
    args: list[str]
    timeout: float
    result: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(PARTS))
    parser.add_argument("--sqlite", default="100,200", help="throughput sizes on SQLite")
    parser.add_argument("--postgres", default="50", help="throughput sizes on PostgreSQL")
    parser.add_argument("--baseline-projects", type=int, default=BASELINE_PROJECTS)
    parser.add_argument("--old-src", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    machine = describe_machine()
    started = time.perf_counter()
    sizes = {
        database: [int(n) for n in text.split(",") if n]
        for database, text in (("sqlite", args.sqlite), ("postgres", args.postgres))
    }
    baseline = args.baseline_projects
    if args.quick:
        sizes, baseline = {"sqlite": [4, 8], "postgres": [4]}, 8
    steps = plan(parts, quick=args.quick, old_src=args.old_src, sizes=sizes, baseline=baseline)
    with tempfile.TemporaryDirectory(prefix="slipway-bench-results-") as tmp:
        for index, step in enumerate(steps, 1):
            progress(f"[{index}/{len(steps)}] {step.key}: {' '.join(step.args)}")
            run(step, Path(tmp) / f"{index}.json")
            progress(f"[{index}/{len(steps)}] {step.key}: {step.seconds:.0f} s")
    machine["run_seconds"] = time.perf_counter() - started
    machine["load_end"] = load_average()
    remembered = remember_baseline(steps, machine, keep=not args.quick)
    new = steps_by_key(steps).get(f"throughput-sqlite-{baseline}")
    doc = render(machine, steps_by_key(steps), new, remembered, quick=args.quick)
    args.output.write_text(keep_standalone(doc, args.output))
    progress(f"wrote {args.output} after {machine['run_seconds']:.0f} s")
    failed = [step.key for step in steps if step.error]
    if failed:
        raise SystemExit(f"some benchmarks failed: {', '.join(failed)} (see {args.output})")


def plan(
    parts: set[str],
    *,
    quick: bool,
    old_src: Path | None,
    sizes: dict[str, list[int]],
    baseline: int,
) -> list[Step]:
    """The runs, in order. Every throughput run is at worker concurrency 4 (the default, and
    issue 9's baseline); the SQLite run of `baseline` projects is also the side-by-side one."""
    steps: list[Step] = []
    if "forge" in parts:
        files = "10,100" if quick else "10,100,1000"
        steps.append(Step("forge", ["bench_forge", "--sizes", files], 300))
    if "cluster" in parts:
        steps.append(Step("cluster", ["bench_cluster", "--steady", "1" if quick else "3"], 180))
    if "critical" in parts:
        runs = "1" if quick else "3"
        steps.append(Step("critical", ["bench_critical_path", "--runs", runs], 300))
    if "sync" in parts:
        sizes_sync = ["--sizes", "10,100", "--window", "5"] if quick else []
        steps.append(Step("sync", ["bench_sync", *sizes_sync], 180))
    if "throughput" in parts:
        for database, counts in sizes.items():
            for projects in counts:
                steps.append(throughput(database, projects))
        if baseline not in sizes.get("sqlite", []):
            steps.append(throughput("sqlite", baseline))
        if old_src is not None:
            step = throughput("sqlite", baseline, "--src", str(old_src))
            step.key = "baseline-old"
            steps.append(step)
    return steps


def throughput(database: str, projects: int, *more: str) -> Step:
    args = ["bench_throughput", "--projects", str(projects), "--database", database]
    args += ["--concurrency", str(CONCURRENCY), *more]
    return Step(f"throughput-{database}-{projects}", args, 120 + 8 * projects)


def run(step: Step, output: Path) -> None:
    """The script in a child process (a fresh process: 'first creation' means it), its stderr
    passed through, its results read from `output`."""
    command = [sys.executable, "-m", f"benchmarks.{step.args[0]}", *step.args[1:]]
    command += ["--json", str(output)]
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLIPWAY_")}
    started = time.perf_counter()
    tail: collections.deque[str] = collections.deque(maxlen=5)
    with subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stderr is not None
        watchdog = threading.Timer(step.timeout, child.kill)
        watchdog.start()
        try:
            for line in child.stderr:
                sys.stderr.write(line)
                tail.append(line.rstrip())
            code = child.wait()
        finally:
            watchdog.cancel()
    step.seconds = time.perf_counter() - started
    if step.seconds >= step.timeout:
        step.error = f"stopped after {step.timeout:.0f} s"
    elif code != 0:
        step.error = f"exit {code}: {tail[-1] if tail else 'no output'}"
    if output.exists():
        step.result = json.loads(output.read_text())


def keep_standalone(doc: str, previous: Path) -> str:
    """`doc` with the standalone sections of the doc at `previous` put back as they were."""
    old = previous.read_text() if previous.exists() else ""
    kept = []
    for heading in STANDALONE_SECTIONS:
        start = old.find(f"\n{heading}\n")
        if start >= 0:
            end = old.find("\n## ", start + 1)
            kept.append(old[start + 1 : end if end >= 0 else len(old)].rstrip() + "\n\n")
    where = doc.find("## Running them")
    if not kept or where < 0:
        return doc
    return doc[:where] + "".join(kept) + doc[where:]


def steps_by_key(steps: list[Step]) -> dict[str, Step]:
    return {step.key: step for step in steps}


def remember_baseline(
    steps: list[Step], machine: dict[str, Any], *, keep: bool
) -> dict[str, Any] | None:
    """The old code's run: this one's (saved for next time when `keep`) or the one saved
    earlier."""
    old = steps_by_key(steps).get("baseline-old")
    if old is not None and old.result is not None and old.error is None:
        saved = {**old.result, "measured": machine["date"], "machine": machine["cpu"]}
        if keep:
            BASELINE.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
        return {**saved, "fresh": True}
    if BASELINE.exists():
        return {**json.loads(BASELINE.read_text()), "fresh": False}
    return None


def describe_machine() -> dict[str, Any]:
    """What the numbers were taken on: CPU, cores, memory, Python, OS, commit, load."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = float("nan")
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) / 1024 / 1024
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "os": os_name(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "src", "benchmarks")),
        "load": load_average(),
    }


def load_average() -> float:
    """The last minute's load average: above the core count, others were running too."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def os_name() -> str:
    release = Path("/etc/os-release")
    if release.exists():
        for line in release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                name = line.split("=", 1)[1].strip('"')
                return f"{name}, {platform.system()} {platform.release()}"
    return platform.platform()


def git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


if __name__ == "__main__":
    main()
