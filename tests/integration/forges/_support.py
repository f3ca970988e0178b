"""Shared constants and helpers for the forge adapter and emulator tests.

Tokens look like real ones and are long and unique, so a leak into a message, repr or log
line is easy to spot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from slipway.domain.errors import SlipwayError
from slipway.domain.model import ForgeKind, PushMethod
from slipway.forges import FORGES, Forge, ForgeClients, build_forge
from slipway.retry import RetryPolicy
from slipway.sandbox.forge import ForgeEmulator, RecordedRequest

TOKEN = "ghp_AliceSecretToken0123456789abcdefXYZ"
LOW_SCOPE_TOKEN = "ghp_LowScopeSecret0123456789abcdefXYZ"
OUTSIDER_TOKEN = "ghp_BobOutsiderSecret0123456789abcdXYZ"
OAUTH_TOKEN = "gho_AliceOAuthSecret0123456789abcdefXYZ"
WRONG_TOKEN = "ghp_WrongSecretToken0123456789abcdefXYZ"
FAST = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05, max_retry_after=5.0)
CREATED_AT = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)  # a project's creation time


@dataclass(frozen=True)
class Flavour:
    """One way to reach the emulator: a forge kind and the API base URL a user would give."""

    id: str
    kind: ForgeKind
    prefix: str  # API path prefix in the request log ("" for api.github.com style)
    suffix: str = ""  # appended to the emulator URL to form base_url

    def base_url(self, emulator: ForgeEmulator) -> str:
        return emulator.url + self.suffix


# One flavour per registered forge (so a new forge's adapter meets every test here), plus
# GitHub Enterprise, whose API lives under /api/v3 of its host.
FLAVOURS = [Flavour(kind.value, kind, info.api_path) for kind, info in FORGES.items()]
FLAVOURS.insert(1, Flavour("github-enterprise", ForgeKind.GITHUB, "/api/v3", "/api/v3"))


def make_forge(
    emulator: ForgeEmulator,
    flavour: Flavour,
    token: str = TOKEN,
    *,
    push: PushMethod = PushMethod.GIT,
    login: str | None = None,
    clients: ForgeClients | None = None,
) -> Forge:
    return build_forge(
        flavour.kind,
        base_url=flavour.base_url(emulator),
        token=SecretStr(token),
        step="create_repository",
        retry_policy=FAST,
        login=login,
        push=push,
        clients=clients,
    )


def api_calls(emulator: ForgeEmulator) -> list[RecordedRequest]:
    """The request log without git smart HTTP traffic."""
    return [r for r in emulator.requests() if ".git/" not in r.path]


def writes(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    return [r for r in requests if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def accepted_writes(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    """Writes the forge carried out (a create refused as taken is not one)."""
    return [r for r in writes(requests) if 200 <= r.status < 300]


def git_requests(requests: list[RecordedRequest]) -> list[RecordedRequest]:
    """The git smart HTTP part of a request log."""
    return [r for r in requests if ".git/" in r.path]


def shape(requests: list[RecordedRequest]) -> list[tuple[str, str, int]]:
    """Method, last path segment and status of each request: a log to compare and read. A
    commit or object id reads as `{sha}`: ids differ run by run (a forge's own commit is
    dated to the second), the request does not."""
    return [(r.method, _SHA.sub("{sha}", r.path.rsplit("/", 1)[-1]), r.status) for r in requests]


_SHA = re.compile(r"^[0-9a-f]{40}$")


def authed_url(clone_url: str, token: str, username: str = "git") -> str:
    scheme, rest = clone_url.split("://", 1)
    return f"{scheme}://{username}:{token}@{rest}"


def working_tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def assert_no_secret(
    error: BaseException,
    forge: Forge,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No token in the error (its str, repr and dict), the forge's repr, the log or the output."""
    captured = capsys.readouterr()
    for token in (TOKEN, WRONG_TOKEN, LOW_SCOPE_TOKEN, OAUTH_TOKEN, OUTSIDER_TOKEN):
        for text in (str(error), repr(error), repr(forge), caplog.text, captured.out, captured.err):
            assert token not in text
        if isinstance(error, SlipwayError):
            assert token not in str(error.to_dict())
