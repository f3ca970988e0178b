"""API load: N project creations POSTed at once to `slipway serve` (the real server process,
its worker and status sync embedded) on a fresh PostgreSQL database, against the sandbox.
Prints numbers; asserts only that every project became active, each exactly once.

    python -m benchmarks.bench_api [--projects 200] [--limit 0] [--concurrency 4]
        [--postgres URL] [--timeout S] [--json FILE]

The sandbox runs in this process (its forge's repositories are counted from its state); the
server in a child process of its own, so its CPU and peak RSS are Slipway's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from benchmarks.support import median, percentile, progress, quiet_logs, write_json

from slipway.sandbox.runner import SANDBOX_USER, Sandbox

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
SLIPWAY = str(Path(sys.executable).parent / "slipway")
FINAL_STATUSES = frozenset({"active", "degraded", "failed"})
POLL_SECONDS = 1.0
PAGE = 200  # the API's largest page
START_SECONDS = 90.0
STOP_SECONDS = 30.0
TEMPLATE = "static-site"
USER = "bench"


@dataclass(frozen=True)
class Post:
    """One creation request as the client saw it."""

    name: str
    sent: datetime
    latency_s: float
    status: int  # 0: no response (the connection failed)
    problem: str | None


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[str]
    log: Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument(
        "--limit", type=int, default=0, help="requests in flight at most; 0: all at once"
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="the server's SLIPWAY_WORKER_CONCURRENCY"
    )
    parser.add_argument("--postgres", default=POSTGRES, help="server URL, without a database")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds; default 60 + 6/project"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    quiet_logs()
    result = measure(args)
    write_json(args.json, result)
    print(_summary(result))
    if not result["all_active"] or result["duplicates"] or not result["exactly_n"]:
        raise SystemExit("not every project became active exactly once (see above)")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    limit = args.limit or args.projects
    progress(
        f"api: {args.projects} creations through `slipway serve` on PostgreSQL, "
        f"{limit} in flight at most, worker concurrency {args.concurrency}"
    )
    with (
        tempfile.TemporaryDirectory(prefix="slipway-bench-api-") as tmp,
        _postgres(args.postgres) as database_url,
        Sandbox(Path(tmp) / "sandbox", forge_latency_ms=0.0, kube_latency_ms=0.0) as sandbox,
    ):
        env = _server_env(sandbox, database_url, Path(tmp) / "data", args.concurrency)
        with _serving(env, Path(tmp)) as server:
            token = _create_user(env, Path(tmp))
            result = asyncio.run(_load(args, server.url, token, sandbox, limit))
            usage = _usage(server.process.pid)
        errors = _server_errors(server.log)
    return {
        "projects": args.projects,
        "limit": limit,
        "concurrency": args.concurrency,
        "database": "postgres",
        "template": TEMPLATE,
        **result,
        **usage,
        "server_error_lines": errors,
    }


# -- the load ---------------------------------------------------------------------------------


async def _load(
    args: argparse.Namespace, url: str, token: str, sandbox: Sandbox, limit: int
) -> dict[str, Any]:
    names = [f"api-{index:03d}" for index in range(args.projects)]
    timeout = args.timeout or 60 + 6 * args.projects
    # One connection per request in flight: a smaller client pool would queue requests here
    # and count that wait as the server's latency.
    pool = httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
    async with httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx.Timeout(300.0),
        limits=pool,
    ) as client:
        connected = await client.post(
            "/api/v1/connections", json={"forge": "github", "token": sandbox.forge_token}
        )
        if connected.status_code != 201:
            raise SystemExit(f"POST /api/v1/connections: {connected.status_code}")
        progress(f"posting {len(names)} creations")
        gate = asyncio.Semaphore(limit)
        started = time.perf_counter()
        posts = await asyncio.gather(*(_post(client, gate, name) for name in names))
        posted_s = time.perf_counter() - started
        by_status = Counter(p.status for p in posts)
        progress(f"{len(posts)} responses in {posted_s:.1f} s: {dict(by_status)}; waiting")
        created = [p.name for p in posts if p.status == 201]
        views = await _wait_final(client, created, timeout, started)
        final_s = time.perf_counter() - started
        to_active = await _times_to_active(client, posts, views)
    repos = [r for r in _forge_repos(sandbox) if r.startswith(f"{SANDBOX_USER}/")]
    listed = [v["name"] for v in views]
    fields = [
        f"{v['repository']['owner']}/{v['repository']['name']}" for v in views if v["repository"]
    ]
    statuses = Counter(v["status"] for v in views)
    latencies = [p.latency_s for p in posts]
    not_active = [_why(v) for v in views if v["status"] != "active"]
    # Exactly N distinct names listed, N repositories on the forge, N distinct repository
    # fields: a creation run twice would show in at least one of them.
    duplicates = {
        "listed twice": len(listed) - len(set(listed)),
        "forge repositories beyond N": max(0, len(repos) - len(names)),
        "repository fields shared": len(fields) - len(set(fields)),
    }
    exact = set(listed) == set(names) and len(repos) == len(set(fields)) == len(names)
    return {
        "requests": len(posts),
        "responses": {str(status): count for status, count in sorted(by_status.items())},
        "failed_requests": _causes(posts),
        "post_p50_s": median(latencies),
        "post_p95_s": percentile(latencies, 0.95),
        "post_max_s": max(latencies),
        "posted_s": posted_s,
        "active_p50_s": median(to_active),
        "active_p95_s": percentile(to_active, 0.95),
        "active_max_s": max(to_active, default=float("nan")),
        "wall_s": final_s,
        "statuses": dict(statuses),
        "active": statuses.get("active", 0),
        "not_active": len(names) - statuses.get("active", 0),
        "problems": not_active[:5],
        "all_active": statuses.get("active", 0) == len(names),
        "listed": len(listed),
        "forge_repositories": len(repos),
        "repository_fields": len(fields),
        "duplicates": sum(duplicates.values()),
        "duplicates_by_source": duplicates,
        "exactly_n": exact,
    }


async def _post(client: httpx.AsyncClient, gate: asyncio.Semaphore, name: str) -> Post:
    """One creation; its latency runs from the request leaving here to the whole response."""
    async with gate:
        sent = datetime.now(UTC)
        began = time.perf_counter()
        try:
            response = await client.post(
                "/api/v1/projects", json={"name": name, "template": TEMPLATE}
            )
        except httpx.HTTPError as exc:
            return Post(name, sent, time.perf_counter() - began, 0, type(exc).__name__)
        latency = time.perf_counter() - began
    problem = None if response.status_code == 201 else _problem(response)
    return Post(name, sent, latency, response.status_code, problem)


def _causes(posts: list[Post]) -> dict[str, int]:
    """Refused or failed requests by status and cause, each project's name folded out."""
    return dict(
        Counter(
            f"{p.status} {p.problem.replace(p.name, '{name}')}" for p in posts if p.problem
        ).most_common()
    )


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return f"{body.get('error')}: {body.get('detail')}" if isinstance(body, dict) else str(body)


async def _get(
    client: httpx.AsyncClient, path: str, params: dict[str, str | int]
) -> httpx.Response:
    """A GET, sent again when the server closed a kept-alive connection as it went out
    (uvicorn drops connections idle for 5 s; a GET is safe to repeat)."""
    for attempt in range(3):
        try:
            return await client.get(path, params=params)
        except httpx.TransportError:
            if attempt == 2:
                raise
            await asyncio.sleep(0.2)
    raise AssertionError("unreachable")


async def _list_all(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """Every project of the user, a page at a time."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": PAGE}
        if cursor is not None:
            params["cursor"] = cursor
        response = await _get(client, "/api/v1/projects", params)
        response.raise_for_status()
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def _wait_final(
    client: httpx.AsyncClient, names: list[str], within: float, started: float
) -> list[dict[str, Any]]:
    """Every project once each has a final status; TimeoutError naming the rest."""
    wanted = set(names)
    reported = 0
    while True:
        views = await _list_all(client)
        done = [v for v in views if v["name"] in wanted and v["status"] in FINAL_STATUSES]
        if len(done) >= len(wanted):
            return views
        if len(done) >= reported + max(10, len(wanted) // 10):
            reported = len(done)
            progress(f"{len(done)}/{len(wanted)} final after {time.perf_counter() - started:.0f} s")
        if time.perf_counter() - started > within:
            rest = [_why(v) for v in views if v["name"] in wanted and v["status"] != "active"]
            shown = "\n  ".join(rest[:20])
            raise TimeoutError(
                f"{len(wanted) - len(done)} of {len(wanted)} projects not final within "
                f"{within:.0f} s; not active:\n  {shown}"
            )
        await asyncio.sleep(POLL_SECONDS)


def _why(view: dict[str, Any]) -> str:
    return f"{view['name']} {view['status']} at {view['failed_step']}: {view['error_message']}"


async def _times_to_active(
    client: httpx.AsyncClient, posts: list[Post], views: list[dict[str, Any]]
) -> list[float]:
    """Per active project: its POST leaving the client to its final event's created_at."""
    sent = {p.name: p.sent for p in posts}
    active = [v["name"] for v in views if v["status"] == "active" and v["name"] in sent]
    gate = asyncio.Semaphore(8)

    async def one(name: str) -> float:
        async with gate:
            response = await client.get(f"/api/v1/projects/{name}/events")
        response.raise_for_status()
        finals = [e for e in response.json() if e["final"]]
        done = datetime.fromisoformat(finals[-1]["created_at"])
        if done.tzinfo is None:
            done = done.replace(tzinfo=UTC)
        return (done - sent[name]).total_seconds()

    return list(await asyncio.gather(*(one(name) for name in active)))


def _forge_repos(sandbox: Sandbox) -> list[str]:
    assert sandbox.forge is not None
    return [repo.full_name for repo in sandbox.forge.state.repos()]


# -- the server process -----------------------------------------------------------------------


def _server_env(
    sandbox: Sandbox, database_url: str, data_dir: Path, concurrency: int
) -> dict[str, str]:
    """This environment without any SLIPWAY_ setting, plus the sandbox's and the database's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")}
    return {
        **env,
        **sandbox.environment(),
        "SLIPWAY_DATABASE_URL": database_url,
        "SLIPWAY_DATA_DIR": str(data_dir),
        "SLIPWAY_WORKER_CONCURRENCY": str(concurrency),
        "SLIPWAY_LOG_LEVEL": "warning",
        "SLIPWAY_LOG_FORMAT": "console",
    }


@contextmanager
def _serving(env: dict[str, str], cwd: Path) -> Iterator[Server]:
    """`slipway serve --port 0` until its `serving URL` line and /readyz answers; SIGTERM at
    the end (killed if it does not stop). Its stderr goes to a file, shown when it fails."""
    log = cwd / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [SLIPWAY, "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
            env=env,
            cwd=cwd,  # not the checkout: its .env must not reach the server
        )
    try:
        url = _announced(process, log)
        _wait_ready(url, process, log)
        progress(f"slipway serve (pid {process.pid}) ready at {url}")
        yield Server(url, process, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            progress(f"slipway serve did not stop within {STOP_SECONDS:.0f} s; killing it")
            process.kill()
            process.wait()


def _announced(process: subprocess.Popen[str], log: Path) -> str:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, name="bench-serve-stdout", daemon=True).start()
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        if line.startswith("serving "):
            return line.split(" ", 1)[1].strip()
    raise RuntimeError(f"slipway serve did not start:\n{_tail(log)}")


def _wait_ready(url: str, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"slipway serve never became ready:\n{_tail(log)}")


def _create_user(env: dict[str, str], cwd: Path) -> str:
    """`slipway user create bench --json`; its token, which goes nowhere but the header."""
    done = subprocess.run(
        [SLIPWAY, "user", "create", USER, "--json"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"slipway user create failed ({done.returncode}): {done.stderr}")
    token = json.loads(done.stdout)["token"]
    assert isinstance(token, str)
    return token


def _usage(pid: int) -> dict[str, float]:
    """The server's CPU seconds (user + system) and peak RSS so far, from /proc."""
    stat = Path(f"/proc/{pid}/stat")
    status = Path(f"/proc/{pid}/status")
    if not stat.exists():
        return {}
    fields = stat.read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    peak = next(
        (int(line.split()[1]) for line in status.read_text().splitlines() if "VmHWM" in line), 0
    )
    return {"server_cpu_s": cpu, "server_peak_rss_mib": peak / 1024}


def _server_errors(log: Path) -> list[str]:
    """The server's error lines (its level is warning): the first few, for a 5xx's cause."""
    text = log.read_text(errors="replace").splitlines()
    return [line for line in text if "error" in line.lower() or "Traceback" in line][:10]


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# -- the database -----------------------------------------------------------------------------


@contextmanager
def _postgres(server: str) -> Iterator[str]:
    """A fresh database `slipway_bench_api_<pid>` on `server` (DBOS keeps its tables in the same
    database, schema `dbos`), dropped afterwards; SystemExit when the server is unreachable."""
    import psycopg

    server = server.rstrip("/")
    admin = server.replace("+psycopg", "") + "/postgres"
    name = f"slipway_bench_api_{os.getpid()}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as exc:
        where = server.split("@")[-1]
        raise SystemExit(f"PostgreSQL at {where} is unreachable ({type(exc).__name__})") from None
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _summary(result: dict[str, Any]) -> str:
    lines = [
        f"{result['projects']} creations POSTed to `slipway serve` on PostgreSQL, "
        f"{result['limit']} in flight at most, worker concurrency {result['concurrency']}",
        f"requests sent: {result['requests']}; responses by status: {result['responses']}",
        f"POST latency: p50 {result['post_p50_s']:.2f} s, p95 {result['post_p95_s']:.2f} s, "
        f"max {result['post_max_s']:.2f} s (all {result['requests']} answered after "
        f"{result['posted_s']:.1f} s)",
        f"POST sent -> status active: p50 {result['active_p50_s']:.1f} s, "
        f"p95 {result['active_p95_s']:.1f} s, max {result['active_max_s']:.1f} s",
        f"wall time, first POST to every project final (seen by the {POLL_SECONDS:.0f} s "
        f"poll): {result['wall_s']:.1f} s",
        f"projects active: {result['active']}, not active: {result['not_active']} "
        f"({result['requests'] - result['responses'].get('201', 0)} never created; listed "
        f"{result['statuses']})",
        f"duplicates: {result['duplicates']} {result['duplicates_by_source']}; projects listed "
        f"{result['listed']}, sandbox forge repositories of {SANDBOX_USER} "
        f"{result['forge_repositories']}, repository fields {result['repository_fields']}: "
        f"{'exactly' if result['exactly_n'] else 'NOT exactly'} {result['projects']} distinct",
        f"server process: CPU {result.get('server_cpu_s', float('nan')):.0f} s, peak RSS "
        f"{result.get('server_peak_rss_mib', float('nan')):.0f} MiB, "
        f"{len(result['server_error_lines'])} error lines in its log",
    ]
    for cause, count in result["failed_requests"].items():
        lines.append(f"  {count} x {cause}")
    for problem in result["problems"]:
        lines.append(f"  {problem}")
    for line in result["server_error_lines"]:
        lines.append(f"  server: {line}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
