"""A `slipway serve` process seen from a test: its stdout read line by line with a timeout,
an SSE stream read as curl -N shows it, and a SIGTERM that must end it in time."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from typing import IO, Any

import httpx

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
SERVING = r"^serving (http://127\.0\.0\.1:\d+)$"


class Lines:
    """A process's stdout, line by line, read in a thread: a test waits for a line with a
    timeout, whatever the pipe's buffering."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)

    def until(self, pattern: str, *, timeout: float = STARTUP_TIMEOUT) -> re.Match[str]:
        """Reads on until a line matches `pattern`; fails the test after `timeout` seconds."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; got {self.seen}") from None
            self.seen.append(line)
            if found := re.match(pattern, line):
                return found


def sse_progress(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The `data` of each `progress` event of an event stream until the server closes it
    (the wire format read by hand, as curl -N shows it)."""
    assert response.status_code == 200, response.read().decode()
    assert response.headers["content-type"].startswith("text/event-stream")
    event, data = "message", ""
    for line in response.iter_lines():
        if line == "":
            if data and event == "progress":
                yield json.loads(data)
            event, data = "message", ""
        elif line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data = line.removeprefix("data:").strip()


def follow(http: httpx.Client, name: str) -> list[dict[str, Any]]:
    """`curl -N …/events/stream`: every event until the stream closes."""
    with http.stream(
        "GET", f"/api/v1/projects/{name}/events/stream", timeout=httpx.Timeout(60.0)
    ) as response:
        return list(sse_progress(response))


def stopped(process: subprocess.Popen[str]) -> int:
    """SIGTERM, then the exit code; SIGKILL and fail if it outlives `STOP_TIMEOUT`."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        raise AssertionError(f"still running {STOP_TIMEOUT:g}s after SIGTERM") from None
