"""Critical path: how many round trips one creation waits for, in sequence. The wall time with
`--latency-ms` injected on every forge and cluster request, minus the wall time at 0 ms,
divided by the latency. Prints numbers; asserts only success.

    python -m benchmarks.bench_critical_path [--latency-ms 100] [--runs 3] [--json FILE]

Two end points: Slipway's own work (request to the last "objects applied" event, before Flux
starts) and request to `active` (which adds the Flux emulator's own round trips: its git
fetches and status writes). Both are timed from the workflow's first event, so the queue's
polling (up to 0.2 s, the same at both latencies) adds no noise. Per forge, after one warm-up
creation; the median of `--runs`.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.support import (
    FORGES,
    create_and_wait,
    median,
    progress,
    quiet_logs,
    require_completed,
    running_sandbox,
    settings_for,
    write_json,
)

from slipway import service

# Forge: create, then the push (info/refs, receive-pack); cluster: the namespaces, then every
# other object at once. GitHub's topics call runs beside the push.
MINIMUM_ROUND_TRIPS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--forges", default=",".join(FORGES))
    parser.add_argument("--template", default="static-site")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    quiet_logs()
    forges = args.forges.split(",")
    times: dict[str, dict[str, dict[str, list[float]]]] = {f: {} for f in forges}
    missing: list[str] = []
    with tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp:
        for latency in (0.0, args.latency_ms):
            where = Path(tmp) / f"latency-{latency:.0f}"
            with running_sandbox(where / "sandbox", forge_ms=latency, kube_ms=latency) as (
                sandbox,
                lacking,
            ):
                missing.extend(m for m in lacking if m not in missing)
                for forge in forges:
                    settings = settings_for(sandbox, where / forge, forge)
                    with (
                        service.application(settings) as app,
                        service.running_worker(app) as worker,
                    ):
                        progress(f"{forge} at {latency:.0f} ms: warm-up, then {args.runs} runs")
                        warm = create_and_wait(app, worker, f"cp-{forge}-warm", args.template)
                        require_completed(warm)
                        applied, active = [], []
                        for run in range(args.runs):
                            name = f"cp-{forge}-{run}"
                            creation = create_and_wait(app, worker, name, args.template)
                            require_completed(creation)
                            applied.append(creation.applied - creation.picked_up)
                            active.append(creation.finished - creation.picked_up)
                        times[forge][f"{latency:.0f}"] = {"applied": applied, "active": active}
    results = summarize(times, args.latency_ms, missing)
    write_json(args.json, results)
    print_table(results)


def summarize(
    times: dict[str, dict[str, dict[str, list[float]]]], latency_ms: float, missing: list[str]
) -> dict[str, Any]:
    """Medians at both latencies and the round trips they imply, per forge and end point."""
    forges: dict[str, Any] = {}
    slow_key = f"{latency_ms:.0f}"
    for forge, by_latency in times.items():
        entry: dict[str, Any] = {}
        for point in ("applied", "active"):
            fast = median(by_latency["0"][point])
            slow = median(by_latency[slow_key][point])
            trips = (slow - fast) / (latency_ms / 1000)
            entry[point] = {
                "fast_s": fast,
                "slow_s": slow,
                "round_trips": trips,
                "runs": {key: values[point] for key, values in by_latency.items()},
            }
        entry["applied"]["minimum"] = MINIMUM_ROUND_TRIPS
        entry["applied"]["ratio"] = entry["applied"]["round_trips"] / MINIMUM_ROUND_TRIPS
        forges[forge] = entry
    return {"latency_ms": latency_ms, "missing": missing, "forges": forges}


def print_table(results: dict[str, Any]) -> None:
    latency = results["latency_ms"]
    print(f"end point, forge: median at 0 ms, at {latency:.0f} ms -> sequential round trips")
    for forge, entry in results["forges"].items():
        for point in ("applied", "active"):
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
