"""How long one project takes from request to every environment Ready, and how many an
embedded worker initializes at once, on the sandbox. Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/bench_pipeline.py [--projects 8] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from slipway import service
from slipway.config import Settings
from slipway.domain.model import ForgeKind
from slipway.sandbox.runner import Sandbox


def wait_final(app: service.App, name: str) -> tuple[str, float]:
    """The final outcome and the seconds from the first (queued) event to the final one."""
    while True:
        events = service.project_events(app, name)
        if events and events[-1].final:
            took = (events[-1].created_at - events[0].created_at).total_seconds()
            return events[-1].final, took
        time.sleep(0.05)


def create(app: service.App, name: str, worker: service.Worker) -> None:
    request = service.CreateRequest(name=name, template="static-site")
    asyncio.run(service.create_project(app, request, worker=worker))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projects", type=int, default=8)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        Sandbox(Path(tmp) / "sandbox", forge_latency_ms=args.latency_ms) as sandbox,
    ):
        assert sandbox.forge is not None
        settings = Settings(
            data_dir=Path(tmp) / "data",
            forge=ForgeKind.GITHUB,
            forge_urls={ForgeKind.GITHUB: sandbox.forge.url},
            forge_token=SecretStr(sandbox.forge_token),
            kubeconfig=sandbox.kubeconfig,
            worker_concurrency=args.concurrency,
        )
        with service.application(settings) as app, service.running_worker(app) as worker:
            create(app, "solo", worker)
            final, solo = wait_final(app, "solo")
            print(f"one project, 3 environments: {solo:.2f} s to {final}")

            started = time.perf_counter()
            names = [f"bench-{i}" for i in range(args.projects)]
            for name in names:
                create(app, name, worker)
            durations = [wait_final(app, name)[1] for name in names]
            wall = time.perf_counter() - started
            print(
                f"{args.projects} projects, worker concurrency {args.concurrency}: "
                f"{wall:.2f} s wall, {args.projects / wall:.2f} projects/s, "
                f"median request-to-final {statistics.median(durations):.2f} s, "
                f"max {max(durations):.2f} s"
            )
            # Everything the forge emulator answered: Slipway's API calls and Flux's git fetches.
            seen = len(sandbox.forge.requests())
            print(f"forge requests (Slipway and Flux) for {args.projects + 1} projects: {seen}")


if __name__ == "__main__":
    main()
