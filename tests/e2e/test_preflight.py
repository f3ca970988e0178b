"""Preflight remembers a token it found valid (with its scopes) for a minute, as it does a
cluster's pass: a busy process asks the forge once, not per project. What it remembers is
keyed by the token's fingerprint, so a good token never vouches for another one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr
from tests.e2e.conftest import sandbox_settings

from slipway import service
from slipway.bootstrap import App, bootstrap
from slipway.domain.errors import CheckResult, failed_checks
from slipway.domain.model import ForgeKind
from slipway.sandbox.runner import SANDBOX_USER, Sandbox
from slipway.service.forges import forge_identity
from slipway.service.preflight import preflight

READ_ONLY = "sandbox_read_only_preflight_0001"


def _preflight(app: App, name: str) -> list[CheckResult]:
    spec = asyncio.run(service.plan_project(app, service.CreateRequest(name, "static-site")))
    identity = forge_identity(app, ForgeKind.GITHUB)
    return asyncio.run(preflight(app, ForgeKind.GITHUB, identity, spec))


def test_a_token_found_valid_is_not_asked_again_and_vouches_for_no_other(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    assert sandbox.forge is not None
    good = bootstrap(sandbox_settings(sandbox, tmp_path / "good"))
    # The same account, but a token that may only read: the forge answers it, so only its
    # own scopes can tell it from the good one.
    sandbox.forge.add_token(READ_ONLY, SANDBOX_USER, scopes=("read:org", "read:user"))
    wrong = bootstrap(
        sandbox_settings(sandbox, tmp_path / "wrong", forge_token=SecretStr(READ_ONLY))
    )
    try:
        assert failed_checks(_preflight(good, "pf-first")) == []
        with sandbox.forge.recording() as log:
            assert failed_checks(_preflight(good, "pf-second")) == []
        asked = [r.path for r in log.requests()]
        assert "/user" not in asked, asked  # remembered: only the repository name is read
        assert any(path.endswith("/pf-second") for path in asked), asked

        refused = failed_checks(_preflight(wrong, "pf-third"))
        assert [c.name for c in refused] == ["forge github"]
        assert "lacks scopes: repo" in refused[0].detail
    finally:
        good.close()
        wrong.close()
