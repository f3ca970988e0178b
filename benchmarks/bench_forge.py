"""Forge requests per creation: Slipway's REST calls by route and its git requests, for each
forge the sandbox emulates and for generated templates of 10, 100 and 1,000 files (20 %
binary). The Flux emulator's fetches of the new repository are counted apart, told from
Slipway's by User-Agent (`slipway/<version>`). Prints numbers; asserts only success.

    python -m benchmarks.bench_forge [--sizes 10,100,1000] [--forges github,gitlab,gitea]
        [--json FILE]

Each forge gets its own application and worker; one warm-up creation runs first, so the
counts are a steady-state creation's.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.support import (
    FORGES,
    create_and_wait,
    is_git,
    is_slipway,
    progress,
    quiet_logs,
    require_completed,
    route,
    running_sandbox,
    settings_for,
    user_agent,
    write_json,
    write_template,
)

from slipway import service
from slipway.sandbox.runner import Sandbox

SIZES = (10, 100, 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--forges", default=",".join(FORGES))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    quiet_logs()
    sizes = [int(size) for size in args.sizes.split(",")]
    forges = args.forges.split(",")
    with (
        tempfile.TemporaryDirectory(prefix="slipway-bench-") as tmp,
        running_sandbox(Path(tmp) / "sandbox") as (sandbox, _),
    ):
        catalog = Path(tmp) / "templates"
        names = {size: write_template(catalog, size) for size in sizes}
        results: dict[str, Any] = {"sizes": sizes, "agent_known": True, "forges": {}}
        for forge in forges:
            per_size = measure_forge(sandbox, Path(tmp) / forge, forge, catalog, names)
            results["forges"][forge] = per_size
            if any(not entry["agent_known"] for entry in per_size.values()):
                results["agent_known"] = False
    if not results["agent_known"]:
        progress(
            "the forge emulator's RecordedRequest has no user_agent in this tree: Slipway's "
            "requests cannot be told from the Flux emulator's; every request is counted as "
            "Slipway's"
        )
    write_json(args.json, results)
    print_table(results)


def measure_forge(
    sandbox: Sandbox, data: Path, forge: str, catalog: Path, names: dict[int, str]
) -> dict[str, dict[str, Any]]:
    """One warm-up creation, then one recorded creation per template size."""
    assert sandbox.forge is not None
    settings = settings_for(sandbox, data, forge, templates_path=[catalog])
    per_size: dict[str, dict[str, Any]] = {}
    with service.application(settings) as app, service.running_worker(app) as worker:
        progress(f"{forge}: warm-up creation")
        require_completed(create_and_wait(app, worker, f"{forge}-warm", names[min(names)]))
        for size, template in names.items():
            name = f"{forge}-f{size}"
            progress(f"{forge}: creating {name} from a {size}-file template")
            with sandbox.forge.recording() as recorder:
                creation = create_and_wait(app, worker, name, template)
                records = recorder.requests()
            require_completed(creation)
            repository = service.show_project(app, name).repository
            assert repository is not None
            entry = count(records, owner=repository.owner, repo=repository.name)
            entry["applied_s"] = creation.applied
            entry["active_s"] = creation.finished
            per_size[str(size)] = entry
    return per_size


def count(records: list[Any], *, owner: str, repo: str) -> dict[str, Any]:
    """Slipway's requests by route and the connections they rode (keep-alive), and the Flux
    emulator's fetches of this repository."""
    known = all(user_agent(r) is not None for r in records)
    routes: Counter[str] = Counter()
    flux = flux_challenged = others = 0
    for record in records:
        if is_slipway(record) or not known:
            routes[route(record.method, record.path, record.query, owner=owner, repo=repo)] += 1
        elif f"/{repo}" in record.path:
            flux += 1
            flux_challenged += record.status == 401
        else:
            others += 1
    git = sum(n for key, n in routes.items() if is_git(key.split(" ", 1)[1]))
    peers = {getattr(r, "peer", None) for r in records if is_slipway(r)}
    return {
        "connections": None if None in peers else len(peers),
        "agent_known": known,
        "routes": dict(routes),
        "rest": sum(routes.values()) - git,
        "git": git,
        "flux": flux,
        "flux_401": flux_challenged,
        "other": others,
    }


def print_table(results: dict[str, Any]) -> None:
    sizes = [str(size) for size in results["sizes"]]
    for forge, per_size in results["forges"].items():
        print(f"\n{forge}: Slipway's requests per creation (files: {', '.join(sizes)})")
        routes = sorted({r for entry in per_size.values() for r in entry["routes"]})
        for name in routes:
            counts = [str(per_size[s]["routes"].get(name, 0)) for s in sizes]
            print(f"  {name:<60} {' '.join(f'{c:>5}' for c in counts)}")
        for label in ("rest", "git", "flux", "flux_401"):
            counts = [str(per_size[s][label]) for s in sizes]
            print(f"  {label:<60} {' '.join(f'{c:>5}' for c in counts)}")


if __name__ == "__main__":
    main()
