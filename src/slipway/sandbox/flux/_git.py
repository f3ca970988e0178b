"""Fetch a branch of a git repository over HTTP(S), as source-controller does: ask the remote for
the branch head first and clone only when it moved. Credentials travel in git's environment
(an `http.extraHeader`), never on a command line, and are scrubbed from every message."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


class GitFetchError(Exception):
    """The fetch failed; the message is git's own (with any credentials scrubbed)."""


@dataclass(frozen=True)
class GitAuth:
    """HTTP credentials from a GitRepository's Secret: basic auth or a bearer token."""

    username: str = ""
    password: str = field(default="", repr=False)
    bearer_token: str = field(default="", repr=False)

    def env(self) -> dict[str, str]:
        """git configuration (through the environment) that presents these credentials.
        Basic auth goes through a credential helper, so a rejected password reads as git's
        "Authentication failed"; the values stay in variables, off every command line."""
        if self.bearer_token:
            return _config(("http.extraHeader", f"Authorization: Bearer {self.bearer_token}"))
        if not self.username:
            return {}
        return {
            **_config(("credential.helper", ""), ("credential.helper", _HELPER)),
            "FLUX_GIT_USERNAME": self.username,
            "FLUX_GIT_PASSWORD": self.password,
        }

    def scrub(self, text: str) -> str:
        for secret in (self.password, self.bearer_token):
            if secret:
                text = text.replace(secret, "***")
        return text


_HELPER = (
    '!f() { test "$1" = get && printf "username=%s\\npassword=%s\\n" '
    '"$FLUX_GIT_USERNAME" "$FLUX_GIT_PASSWORD"; }; f'
)


def _config(*pairs: tuple[str, str]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for index, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


@dataclass(frozen=True)
class Checkout:
    sha: str
    path: Path


def _env(auth: GitAuth | None) -> dict[str, str]:
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_ASKPASS": "/bin/false",
    }
    return env | (auth.env() if auth else {})


def _git(args: list[str], url: str, auth: GitAuth | None, timeout: float) -> str:
    try:
        done = subprocess.run(
            ["git", *args], env=_env(auth), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise GitFetchError(f"unable to clone '{url}': context deadline exceeded") from exc
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"git exited with {done.returncode}"
        reason = reason.removeprefix("fatal: ").removeprefix("error: ")
        if reason.startswith("could not read Username"):
            reason = "authentication required"  # no credentials given: go-git's wording
        if auth is not None:
            reason = auth.scrub(reason)
        raise GitFetchError(f"unable to clone '{url}': {reason}")
    return done.stdout


def fetch_branch(
    url: str,
    branch: str,
    dest: Path,
    *,
    auth: GitAuth | None = None,
    current: Checkout | None = None,
    timeout: float = 60.0,
) -> Checkout:
    """The head of `branch` checked out in `dest`. `current` is reused when the remote head has
    not moved (no clone); otherwise a fresh shallow clone replaces `dest` only once it is
    complete, so a failed fetch leaves the last good checkout in place."""
    listing = _git(["ls-remote", url, f"refs/heads/{branch}"], url, auth, timeout)
    sha = listing.split("\t", 1)[0].strip() if listing.strip() else ""
    if not sha:
        raise GitFetchError(
            f"unable to clone '{url}': couldn't find remote ref \"refs/heads/{branch}\""
        )
    if current is not None and current.sha == sha and current.path.is_dir():
        return current
    staging = dest.with_name(dest.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _git(
        ["clone", "--quiet", "--depth", "1", "--branch", branch, url, str(staging)],
        url,
        auth,
        timeout,
    )
    head = _git(["-C", str(staging), "rev-parse", "HEAD"], url, None, timeout).strip()
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    return Checkout(sha=head, path=dest)
