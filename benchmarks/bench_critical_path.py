"""Critical path: how many round trips one creation waits for, in sequence. The wall time with
`--latency-ms` injected on every forge and cluster request, minus the wall time at 0 ms,
divided by the latency. Prints numbers; asserts only success.

    python -m benchmarks.bench_critical_path [--latency-ms 100] [--runs 5] [--json FILE]

Two end points: Slipway's own work (to the last "objects applied" event, before Flux starts)
and `active` (which adds the Flux emulator's own round trips: its git fetches and status
writes). Both are timed from the workflow's first event, so the queue's polling (up to 0.2 s,
the same at both latencies) adds no noise. Per forge, after one warm-up creation, the two
latencies alternate run by run (so a busy moment hits both alike) and each keeps its fastest
run: noise on a shared machine only ever adds time.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.support import (
    FORGES,
    create_and_wait,
    progress,
    quiet_logs,
    require_completed,
    running_sandbox,
    set_latency,
    settings_for,
    write_json,
)

from slipway import service
from slipway.sandbox.runner import Sandbox

# Forge: create, then the push (info/refs, receive-pack); cluster: the ownership read of the
# namespaces, the namespaces, then every other object at once. GitHub's topics call and the
# deploy key run beside the push.
MINIMUM_ROUND_TRIPS = 6
POINTS = ("applied", "active")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--forges", default=",".join(FORGES))
    parser.add_argument("--template", default="static-site")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    quiet_logs()
    times: dict[str, dict[str, dict[str, list[float]]]] = {}
    missing: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp,
        running_sandbox(Path(tmp) / "sandbox") as (sandbox, _),
    ):
        for forge in args.forges.split(","):
            times[forge] = measure_forge(sandbox, Path(tmp) / forge, forge, args, missing)
    results = summarize(times, args.latency_ms, missing)
    write_json(args.json, results)
    print_table(results)


def measure_forge(
    sandbox: Sandbox, data: Path, forge: str, args: argparse.Namespace, missing: list[str]
) -> dict[str, dict[str, list[float]]]:
    """Seconds from the workflow's first event to each end point, per latency, every run."""
    slow = float(args.latency_ms)
    by_latency: dict[str, dict[str, list[float]]] = {
        key: {point: [] for point in POINTS} for key in ("0", f"{slow:.0f}")
    }
    settings = settings_for(sandbox, data, forge)
    with service.application(settings) as app, service.running_worker(app) as worker:
        progress(f"{forge}: warm-up, then {args.runs} runs at 0 and {slow:.0f} ms")
        require_completed(create_and_wait(app, worker, f"cp-{forge}-warm", args.template))
        for run in range(args.runs):
            order = (0.0, slow) if run % 2 == 0 else (slow, 0.0)
            for latency in order:
                missing.extend(m for m in set_latency(sandbox, latency) if m not in missing)
                name = f"cp-{forge}-{run}-{latency:.0f}"
                try:
                    creation = create_and_wait(app, worker, name, args.template)
                finally:
                    set_latency(sandbox, 0.0)
                require_completed(creation)
                entry = by_latency[f"{latency:.0f}"]
                entry["applied"].append(creation.applied - creation.picked_up)
                entry["active"].append(creation.finished - creation.picked_up)
    return by_latency


def summarize(
    times: dict[str, dict[str, dict[str, list[float]]]], latency_ms: float, missing: list[str]
) -> dict[str, Any]:
    """Fastest run at both latencies and the round trips they imply, per forge and end point."""
    forges: dict[str, Any] = {}
    slow_key = f"{latency_ms:.0f}"
    for forge, by_latency in times.items():
        entry: dict[str, Any] = {}
        for point in POINTS:
            fast = min(by_latency["0"][point])
            slow = min(by_latency[slow_key][point])
            entry[point] = {
                "fast_s": fast,
                "slow_s": slow,
                "round_trips": (slow - fast) / (latency_ms / 1000),
                "runs": {key: values[point] for key, values in by_latency.items()},
            }
        entry["applied"]["minimum"] = MINIMUM_ROUND_TRIPS
        entry["applied"]["ratio"] = entry["applied"]["round_trips"] / MINIMUM_ROUND_TRIPS
        forges[forge] = entry
    return {"latency_ms": latency_ms, "missing": missing, "forges": forges}


def print_table(results: dict[str, Any]) -> None:
    latency = results["latency_ms"]
    print(f"end point, forge: fastest at 0 ms, at {latency:.0f} ms -> sequential round trips")
    for forge, entry in results["forges"].items():
        for point in POINTS:
            e = entry[point]
            extra = ""
            if "minimum" in e:
                extra = f" (minimum {e['minimum']}, ratio {e['ratio']:.2f})"
            print(
                f"{point:>8} {forge:<7} {e['fast_s']:.2f} s, {e['slow_s']:.2f} s -> "
                f"{e['round_trips']:.1f}{extra}"
            )
    for line in results["missing"]:
        print(f"note: {line}")


if __name__ == "__main__":
    main()
