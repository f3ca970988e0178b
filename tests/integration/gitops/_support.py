"""Values and builders shared by the gitops integration tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import SecretStr

from slipway.gitops import BasicAuth, EnvironmentSpec
from slipway.retry import RetryPolicy

# ASGI, for the proxies tests put in front of the Kubernetes emulator.
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GIT_TOKEN = "glpat-TopSecretGitToken0123456789"
USER = "sandbox-admin"
# Fast retries: the tests exercise the retry path, not its wall-clock backoff.
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_retry_after=1.0)


def make_spec(project: str, environment: str = "development") -> EnvironmentSpec:
    return EnvironmentSpec(
        project=project,
        environment=environment,
        repository_url=f"https://git.example.test/acme/{project}.git",
        credentials=BasicAuth(username="oauth2", password=SecretStr(GIT_TOKEN)),
    )
