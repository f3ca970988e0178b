"""Fetch a branch of a git repository over HTTP(S) with basic-auth credentials, as
source-controller does. Credentials travel in git's environment, never on a command line."""

from __future__ import annotations

import base64
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


class GitFetchError(Exception):
    """The fetch failed; the message is git's own (with any credentials scrubbed)."""


@dataclass(frozen=True)
class Checkout:
    sha: str
    path: Path


def _auth_env(username: str | None, password: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_ASKPASS": "/bin/false",
    }
    if username is not None and password is not None:
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Basic {pair}",
        )
    return env


def fetch_branch(
    url: str,
    branch: str,
    dest: Path,
    *,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 60.0,
) -> Checkout:
    """Shallow-clone `branch` of `url` into `dest` (replaced if present) and return its commit."""
    if dest.exists():
        subprocess.run(["rm", "-rf", str(dest)], check=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    env = _auth_env(username, password)
    command = ["git", "clone", "--quiet", "--depth", "1", "--branch", branch, url, str(dest)]
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise GitFetchError(f"unable to clone '{url}': timed out after {timeout:.0f}s") from exc
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()
        reason = detail[-1] if detail else f"git exited with {done.returncode}"
        if password:
            reason = reason.replace(password, "***")
        raise GitFetchError(f"unable to clone '{url}': {reason.removeprefix('fatal: ')}")
    sha = subprocess.run(
        ["git", "-C", str(dest), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    return Checkout(sha=sha, path=dest)
