"""Failures a user meets become clear errors that name the forge and what to do, and the
token never shows up in an exception, a repr or a log line."""

from __future__ import annotations

import logging

import pytest

from slipway.domain.errors import Conflict, ForgeError, NotFound, SlipwayError
from slipway.domain.model import ForgeKind
from slipway.forges import FORGES, Forge, TokenKind
from slipway.sandbox.forge import ForgeEmulator

from ._support import (
    LOW_SCOPE_TOKEN,
    OAUTH_TOKEN,
    OUTSIDER_TOKEN,
    WRONG_TOKEN,
    Flavour,
    assert_no_secret,
    make_forge,
)

LABELS = {kind: info.label for kind, info in FORGES.items()}
SCOPES = {kind: info.required_scopes[0] for kind, info in FORGES.items()}


async def test_bad_token_is_rejected_with_a_reconnect_hint(
    emulator: ForgeEmulator,
    flavour: Flavour,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    forge = make_forge(emulator, flavour, WRONG_TOKEN)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ForgeError) as caught:
        await forge.validate_token()
    error = caught.value
    assert error.system == LABELS[flavour.kind] and error.step == "create_repository"
    assert f"token rejected by {LABELS[flavour.kind]} at {flavour.base_url(emulator)}" in str(error)
    assert error.hint and "slipway forge connect" in error.hint
    assert_no_secret(error, forge, caplog, capsys)
    await forge.aclose()


async def test_missing_scope_names_the_scope_needed(
    emulator: ForgeEmulator,
    flavour: Flavour,
    repo_name: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    forge = make_forge(emulator, flavour, LOW_SCOPE_TOKEN)
    with pytest.raises(ForgeError) as caught:
        await forge.ensure_repository(
            owner=None, name=repo_name, project="shop", private=True, description=""
        )
    assert f"`{SCOPES[flavour.kind]}`" in str(caught.value)
    assert emulator.state.repo("alice", repo_name) is None
    assert_no_secret(caught.value, forge, caplog, capsys)
    await forge.aclose()


async def test_unknown_owner_is_not_found_naming_the_owner(
    forge: Forge,
    repo_name: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(NotFound) as caught:
        await forge.ensure_repository(
            owner="no-such-org", name=repo_name, project="shop", private=True, description=""
        )
    assert "no-such-org" in str(caught.value) and caught.value.hint
    assert_no_secret(caught.value, forge, caplog, capsys)


async def test_outsider_cannot_create_in_an_org(
    emulator: ForgeEmulator, flavour: Flavour, repo_name: str
) -> None:
    forge = make_forge(emulator, flavour, OUTSIDER_TOKEN)
    with pytest.raises(SlipwayError):
        await forge.ensure_repository(
            owner="acme", name=repo_name, project="shop", private=True, description=""
        )
    assert emulator.state.repo("acme", repo_name) is None
    await forge.aclose()


async def test_name_taken_by_someone_else_is_a_conflict(
    forge: Forge,
    emulator: ForgeEmulator,
    repo_name: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.state.create_repo("acme", repo_name, description="not ours")
    with pytest.raises(Conflict) as caught:
        await forge.ensure_repository(
            owner="acme", name=repo_name, project="shop", private=True, description=""
        )
    assert f"acme/{repo_name}" in str(caught.value)
    assert_no_secret(caught.value, forge, caplog, capsys)


async def test_server_errors_that_persist_end_as_a_forge_error(
    forge: Forge,
    emulator: ForgeEmulator,
    flavour: Flavour,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.add_fault(503, path_prefix=flavour.prefix or "/user", count=50)
    with pytest.raises(ForgeError) as caught:
        await forge.validate_token()
    emulator.clear_faults()
    assert "HTTP 503" in str(caught.value)
    faulted = [r for r in emulator.requests() if r.faulted]
    assert len(faulted) >= 5  # every attempt of the retry policy was made
    assert_no_secret(caught.value, forge, caplog, capsys)


async def test_rate_limit_beyond_the_cap_is_not_waited_out(
    forge: Forge,
    emulator: ForgeEmulator,
    flavour: Flavour,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.add_fault(429, path_prefix=flavour.prefix or "/user", retry_after=3600)
    with pytest.raises(ForgeError) as caught:
        await forge.validate_token()
    emulator.clear_faults()
    assert "rate limited" in str(caught.value) and caught.value.hint
    assert_no_secret(caught.value, forge, caplog, capsys)


@pytest.mark.parametrize(
    "headers",
    [{"retry-after": "1"}, {"x-ratelimit-remaining": "0"}],
    ids=["retry-after", "quota-reset"],
)
async def test_github_secondary_rate_limits_are_retried(
    emulator: ForgeEmulator, headers: dict[str, str]
) -> None:
    from ._support import FLAVOURS

    forge = make_forge(emulator, FLAVOURS[0])
    emulator.clear_requests()
    emulator.add_fault(403, path_prefix="/user", headers=headers)
    account = await forge.validate_token()
    assert account.login == "alice"
    assert [r.status for r in emulator.requests()] == [403, 200]
    await forge.aclose()


async def test_token_kinds_and_git_usernames(emulator: ForgeEmulator, flavour: Flavour) -> None:
    forge = make_forge(emulator, flavour, OAUTH_TOKEN)
    account = await forge.validate_token()
    credentials = forge.git_credentials()
    assert credentials.password.get_secret_value() == OAUTH_TOKEN
    assert OAUTH_TOKEN not in repr(credentials)
    expected = {ForgeKind.GITHUB: "git", ForgeKind.GITLAB: "oauth2", ForgeKind.GITEA: "alice"}
    assert credentials.username == expected[flavour.kind]
    if flavour.kind is not ForgeKind.GITEA:
        assert account.token_kind is TokenKind.OAUTH
    await forge.aclose()
