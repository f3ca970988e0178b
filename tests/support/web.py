"""What the web and OAuth tests share: Slipway's settings for signing in to the sandbox forge
emulator by OAuth, a new account there that only that sign-in connects, and the sign-in
itself done as a browser does it (httpx, no JavaScript)."""

from __future__ import annotations

import html
import secrets
from typing import Any

import httpx
from pydantic import SecretStr

from slipway.domain.model import ForgeKind
from slipway.sandbox.forge import ForgeEmulator


def oauth_settings(forge: ForgeEmulator) -> dict[str, Any]:
    """Settings overrides pointing all three forges at the emulator, each with the OAuth
    application the emulator registered for it."""
    values: dict[str, Any] = {"forge_urls": {kind: forge.url for kind in ForgeKind}}
    for kind in ForgeKind:
        registered = forge.oauth_app(kind.value)
        values[f"{kind.value}_oauth_client_id"] = registered.client_id
        values[f"{kind.value}_oauth_client_secret"] = SecretStr(registered.client_secret)
    return values


def tokenless_account(forge: ForgeEmulator, prefix: str = "oauth") -> str:
    """A new account on the forge with no token: only signing in by OAuth connects it."""
    login = f"{prefix}-{secrets.token_hex(4)}"
    forge.add_user(login)
    return login


def forge_sign_in(authorize_url: str, login: str, decision: str = "allow") -> str:
    """What a browser does on the emulator's sign-in page: open the authorize URL, fill in
    the form as `login` and press `decision`; returns where the forge redirects back to."""
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        page = browser.get(authorize_url)
        assert page.status_code == 200, page.text
        form = {}
        for chunk in page.text.split('<input type="hidden" ')[1:]:
            name = chunk.split('name="', 1)[1].split('"', 1)[0]
            value = chunk.split('value="', 1)[1].split('"', 1)[0]
            form[name] = html.unescape(value)
        answer = browser.post(
            authorize_url.split("?", 1)[0], data={**form, "login": login, "decision": decision}
        )
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]
