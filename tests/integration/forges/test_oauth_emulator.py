"""The emulator's OAuth authorization-code flow, per forge, spoken with plain httpx as a
browser and a client application would: the sign-in page, consent, the redirect with code and
state, the token exchange (PKCE, one use per code, the redirect_uri bound to the code), and on
GitLab and Gitea expiry and refresh."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest

from slipway.sandbox.forge import ForgeEmulator

REDIRECT = "http://127.0.0.1:8765/oauth/callback"
AUTHORIZE = {"github": "/login/oauth/authorize", "gitlab": "/oauth/authorize"}
TOKEN = {"github": "/login/oauth/access_token", "gitlab": "/oauth/token"}
SCOPES = {"github": "repo read:org", "gitlab": "api", "gitea": "write:repository read:user"}
USER = {"github": "/user", "gitlab": "/api/v4/user", "gitea": "/api/v1/user"}
FLAVOURS = ("github", "gitlab", "gitea")
REFRESHING = ("gitlab", "gitea")


def _path(table: dict[str, str], flavour: str) -> str:
    return table.get(flavour, table["github"])  # Gitea shares GitHub's paths


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def browser(emulator: ForgeEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, follow_redirects=False, timeout=10) as client:
        yield client


def _authorize_params(emulator: ForgeEmulator, flavour: str, **extra: str) -> dict[str, str]:
    return {
        "client_id": emulator.oauth_app(flavour).client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPES[flavour],
        "state": "st-" + secrets.token_hex(4),
        **extra,
    }


def _form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the sign-in form (name/value pairs as the page writes them)."""
    fields: dict[str, str] = {}
    for chunk in page.split('<input type="hidden" ')[1:]:
        name = chunk.split('name="', 1)[1].split('"', 1)[0]
        value = chunk.split('value="', 1)[1].split('"', 1)[0]
        fields[name] = value.replace("&amp;", "&")
    return fields


def _consent(
    browser: httpx.Client, flavour: str, params: dict[str, str], *, login: str, decision: str
) -> httpx.Response:
    """GET the sign-in page, then POST its form as a browser submits it."""
    page = browser.get(_path(AUTHORIZE, flavour), params=params)
    assert page.status_code == 200, page.text
    assert 'name="login"' in page.text
    form = {**_form_fields(page.text), "login": login, "decision": decision}
    return browser.post(_path(AUTHORIZE, flavour), data=form)


def _redirected(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query))


def _code(
    browser: httpx.Client, emulator: ForgeEmulator, flavour: str, **extra: str
) -> tuple[str, str]:
    params = _authorize_params(emulator, flavour, **extra)
    back = _redirected(_consent(browser, flavour, params, login="alice", decision="allow"))
    assert back["state"] == params["state"]
    return back["code"], params["state"]


def _exchange(
    browser: httpx.Client, emulator: ForgeEmulator, flavour: str, **fields: str
) -> httpx.Response:
    app = emulator.oauth_app(flavour)
    body = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        **fields,
    }
    return browser.post(_path(TOKEN, flavour), data=body, headers={"Accept": "application/json"})


def _error(response: httpx.Response) -> str:
    """The OAuth error of a refused token request: GitHub says it with 200, the others 400."""
    body: dict[str, Any] = response.json()
    assert "access_token" not in body
    return str(body["error"])


def _user(browser: httpx.Client, flavour: str, token: str) -> httpx.Response:
    return browser.get(USER[flavour], headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_consent_redirects_with_code_and_state_and_the_token_acts_as_the_account(
    browser: httpx.Client, emulator: ForgeEmulator, flavour: str
) -> None:
    verifier, challenge = _pkce()
    code, _ = _code(
        browser, emulator, flavour, code_challenge=challenge, code_challenge_method="S256"
    )
    answer = _exchange(browser, emulator, flavour, code=code, code_verifier=verifier)
    assert answer.status_code == 200
    tokens = answer.json()
    assert tokens["token_type"].lower() == "bearer"
    user = _user(browser, flavour, tokens["access_token"])
    assert user.status_code == 200
    assert user.json().get("login", user.json().get("username")) == "alice"
    if flavour == "github":
        assert tokens["scope"] == "repo,read:org"
        assert user.headers["x-oauth-scopes"] == "repo, read:org"
        assert "refresh_token" not in tokens and "expires_in" not in tokens
    else:
        assert tokens["expires_in"] == (7200 if flavour == "gitlab" else 3600)
        assert tokens["refresh_token"]
    if flavour == "gitlab":
        assert tokens["scope"] == "api"
        assert isinstance(tokens["created_at"], int)
    # The granted scopes let it write, over the API and over git.
    name = f"oauth-{secrets.token_hex(4)}"
    created = browser.post(
        {"github": "/user/repos", "gitlab": "/api/v4/projects", "gitea": "/api/v1/user/repos"}[
            flavour
        ],
        json={"name": name, "path": name, "private": True},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert created.status_code == 201, created.text
    refs = browser.get(
        f"/alice/{name}.git/info/refs",
        params={"service": "git-receive-pack"},
        auth=("oauth2", tokens["access_token"]),
    )
    assert refs.status_code == 200


def test_github_answers_form_encoded_unless_asked_for_json(
    browser: httpx.Client, emulator: ForgeEmulator
) -> None:
    code, _ = _code(browser, emulator, "github")
    app = emulator.oauth_app("github")
    answer = browser.post(
        "/login/oauth/access_token",
        data={"client_id": app.client_id, "client_secret": app.client_secret, "code": code},
    )
    assert answer.headers["content-type"].startswith("application/x-www-form-urlencoded")
    fields = parse_qs(answer.text)
    assert fields["token_type"] == ["bearer"]
    assert fields["scope"] == ["repo,read:org"]
    assert _user(browser, "github", fields["access_token"][0]).status_code == 200


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_refusing_consent_redirects_with_access_denied(
    browser: httpx.Client, emulator: ForgeEmulator, flavour: str
) -> None:
    params = _authorize_params(emulator, flavour)
    back = _redirected(_consent(browser, flavour, params, login="alice", decision="deny"))
    assert back["error"] == "access_denied"
    assert back["state"] == params["state"]
    assert "code" not in back


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_unknown_account_is_asked_again(
    browser: httpx.Client, emulator: ForgeEmulator, flavour: str
) -> None:
    params = _authorize_params(emulator, flavour)
    again = _consent(browser, flavour, params, login="nobody-here", decision="allow")
    assert again.status_code == 401
    assert "Incorrect username" in again.text
    assert 'name="login"' in again.text


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_wrong_code_verifier_is_refused(
    browser: httpx.Client, emulator: ForgeEmulator, flavour: str
) -> None:
    _, challenge = _pkce()
    code, _ = _code(
        browser, emulator, flavour, code_challenge=challenge, code_challenge_method="S256"
    )
    refused = _exchange(browser, emulator, flavour, code=code, code_verifier=_pkce()[0])
    expected = "bad_verification_code" if flavour == "github" else "invalid_grant"
    assert _error(refused) == expected
    assert refused.status_code == (200 if flavour == "github" else 400)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_code_works_once(browser: httpx.Client, emulator: ForgeEmulator, flavour: str) -> None:
    code, _ = _code(browser, emulator, flavour)
    assert _exchange(browser, emulator, flavour, code=code).json()["access_token"]
    again = _exchange(browser, emulator, flavour, code=code)
    assert _error(again) == ("bad_verification_code" if flavour == "github" else "invalid_grant")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_redirect_uri_must_be_registered_and_the_same_at_exchange(
    browser: httpx.Client, emulator: ForgeEmulator, flavour: str
) -> None:
    params = _authorize_params(emulator, flavour, redirect_uri="https://evil.example/cb")
    page = browser.get(_path(AUTHORIZE, flavour), params=params)
    assert page.status_code == 400
    assert "redirect_uri" in page.text
    code, _ = _code(browser, emulator, flavour)
    other = _exchange(
        browser, emulator, flavour, code=code, redirect_uri="http://127.0.0.1:8765/elsewhere"
    )
    expected = "redirect_uri_mismatch" if flavour == "github" else "invalid_grant"
    assert _error(other) == expected


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_wrong_client_secret_is_refused(
    browser: httpx.Client, emulator: ForgeEmulator, flavour: str
) -> None:
    code, _ = _code(browser, emulator, flavour)
    refused = _exchange(browser, emulator, flavour, code=code, client_secret="not-the-secret")
    expected = {
        "github": "incorrect_client_credentials",
        "gitlab": "invalid_client",
        "gitea": "unauthorized_client",
    }
    assert _error(refused) == expected[flavour]


@pytest.fixture
def short_lived(emulator: ForgeEmulator) -> Iterator[None]:
    """GitLab and Gitea OAuth tokens issued inside the test are expired at once."""
    before = dict(emulator.state.oauth.token_seconds)
    for flavour in REFRESHING:
        emulator.set_oauth_token_lifetime(flavour, 0)
    try:
        yield
    finally:
        emulator.state.oauth.token_seconds.update(before)


@pytest.mark.parametrize("flavour", REFRESHING)
def test_an_expired_token_is_refused_and_refresh_rotates_the_pair(
    browser: httpx.Client, emulator: ForgeEmulator, flavour: str, short_lived: None
) -> None:
    code, _ = _code(browser, emulator, flavour)
    first = _exchange(browser, emulator, flavour, code=code).json()
    assert _user(browser, flavour, first["access_token"]).status_code == 401
    emulator.set_oauth_token_lifetime(flavour, 3600)
    app = emulator.oauth_app(flavour)
    refresh = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "redirect_uri": REDIRECT,
    }
    second = browser.post(_path(TOKEN, flavour), data=refresh)
    assert second.status_code == 200, second.text
    pair = second.json()
    assert pair["access_token"] != first["access_token"]
    assert pair["refresh_token"] != first["refresh_token"]
    assert _user(browser, flavour, pair["access_token"]).status_code == 200
    # The used refresh token is revoked: a second refresh with it is refused.
    assert _error(browser.post(_path(TOKEN, flavour), data=refresh)) == "invalid_grant"
    # And refreshing revokes the access token issued with the old pair.
    newer = browser.post(
        _path(TOKEN, flavour), data={**refresh, "refresh_token": pair["refresh_token"]}
    ).json()
    assert _user(browser, flavour, pair["access_token"]).status_code == 401
    assert _user(browser, flavour, newer["access_token"]).status_code == 200


def test_github_oauth_apps_have_no_refresh_grant(
    browser: httpx.Client, emulator: ForgeEmulator
) -> None:
    app = emulator.oauth_app("github")
    refused = browser.post(
        "/login/oauth/access_token",
        data={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "grant_type": "refresh_token",
            "refresh_token": "anything",
        },
        headers={"Accept": "application/json"},
    )
    assert _error(refused) == "unsupported_grant_type"
