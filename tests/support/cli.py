"""Running `slipway` from a test: `InProcessCli` calls `slipway.cli.main` in this process
(quick; for commands where no process boundary matters), `SlipwayProcesses` starts the
installed `slipway` script (for `--wait` runs, workers, signals, crashes). Both return a
`CliResult` and pass every output through one `Transcript`, which fails the test as soon as
a secret shows up in it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from slipway.cli import main
from slipway.config import get_settings

SLIPWAY = str(Path(sys.executable).parent / "slipway")


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The one JSON document on stdout (json.loads refuses trailing text)."""
        assert self.returncode == 0, self.stderr
        return json.loads(self.stdout)


@dataclass
class Transcript:
    """Every output the CLI printed for a test, each checked for `secrets` as it arrives."""

    secrets: tuple[str, ...] = ()
    outputs: list[str] = field(default_factory=list)

    def check(self, *texts: str) -> None:
        for text in texts:
            for secret in self.secrets:
                assert secret not in text, "a secret was printed"
            self.outputs.append(text)


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without anything that points Slipway or kubectl elsewhere,
    with the virtualenv's bin/ first on PATH. A failure a test provokes ends the run at once
    (no step retries) unless the test sets SLIPWAY_RETRY_WINDOW itself."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("SLIPWAY_") or k in ("KUBECONFIG", "K3S_KUBECONFIG_PATH"))
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return {**env, "SLIPWAY_RETRY_WINDOW": "0", **extra}


@dataclass
class InProcessCli:
    """`slipway.cli.main(args)` with output captured by pytest's `capsys`. Settings are
    re-read on every call, from the environment the test set (monkeypatch.setenv)."""

    capsys: pytest.CaptureFixture[str]
    transcript: Transcript = field(default_factory=Transcript)

    def __call__(self, *args: str, stdin: str | None = None) -> CliResult:
        get_settings.cache_clear()
        saved = sys.stdin
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        try:
            code = main(list(args))
        finally:
            sys.stdin = saved
        captured = self.capsys.readouterr()
        self.transcript.check(captured.out, captured.err)
        return CliResult(code, captured.out, captured.err)


@dataclass
class SlipwayProcesses:
    """The installed `slipway` script as a process, with `env` and `cwd`."""

    env: dict[str, str]
    cwd: Path | None = None
    transcript: Transcript = field(default_factory=Transcript)

    def __call__(
        self,
        *args: str,
        timeout: float = 180,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> CliResult:
        done = subprocess.run(
            [SLIPWAY, *args],
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.transcript.check(done.stdout, done.stderr)
        return CliResult(done.returncode, done.stdout, done.stderr)

    def json(self, *args: str) -> Any:
        return self(*args, "--json").json()

    def spawn(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Started, not waited for: the caller stops it (`stop`) or waits for it."""
        return subprocess.Popen(
            [SLIPWAY, *args],
            env={**self.env, **(env or {})},
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self, process: subprocess.Popen[str], timeout: float = 120) -> CliResult:
        """Waits for a spawned process and checks its output like a run's."""
        out, err = process.communicate(timeout=timeout)
        self.transcript.check(out, err)
        return CliResult(process.returncode, out, err)


def stop(*processes: subprocess.Popen[str], timeout: float = 30) -> None:
    """SIGTERM each process still running, then wait; SIGKILL whatever outlives `timeout`."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate(timeout=10)
