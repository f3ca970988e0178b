"""The forge registry from outside: every kind it lists has an adapter that reaches the
emulator under the entry's API path, names the entry's label in its errors and picks the git
username by the entry's rule; importing the registry imports no client library."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import SecretStr

from slipway.domain.errors import ForgeError
from slipway.domain.model import ForgeKind
from slipway.forges import FORGES, build_forge, forge_info
from slipway.sandbox.forge import ForgeEmulator

from ._support import FAST, TOKEN, WRONG_TOKEN


def test_every_forge_kind_has_an_entry() -> None:
    assert set(FORGES) == set(ForgeKind)
    with pytest.raises(ValueError, match="unknown forge kind"):
        forge_info("bitbucket")  # type: ignore[arg-type]  # the wrong kind is the subject


@pytest.mark.parametrize("kind", list(FORGES), ids=[k.value for k in FORGES])
async def test_each_registered_adapter_reaches_its_api_and_speaks_its_label(
    emulator: ForgeEmulator, kind: ForgeKind
) -> None:
    info = forge_info(kind)
    # the API URL as a user may paste it (with the API path and a slash) is accepted too
    forge = build_forge(
        kind, base_url=f"{emulator.url}{info.api_path}/", token=SecretStr(TOKEN), retry_policy=FAST
    )
    account = await forge.validate_token()
    assert (forge.kind, account.provider, account.login) == (kind, kind, "alice")
    username = forge.git_credentials().username
    assert username == info.git_username(account.token_kind, "alice")
    await forge.aclose()

    rejected = build_forge(kind, base_url=emulator.url, token=SecretStr(WRONG_TOKEN))
    with pytest.raises(ForgeError, match=f"token rejected by {info.label} at {emulator.url}"):
        await rejected.validate_token()
    await rejected.aclose()


def test_importing_the_forges_package_imports_no_client_library() -> None:
    """githubkit alone takes about half a second to import: only building a GitHub forge may."""
    code = "import sys, slipway.forges; sys.exit('githubkit' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0
