"""The OAuth authorization-code flow against GitHub, GitLab and Gitea, with plain httpx: the
authorize URL (state, PKCE S256 — all three take it — and the scopes Slipway needs), the
code exchanged for tokens, and a refresh.

Tokens come back as `SecretStr`; an error names the forge and the OAuth error code, never
the forge's description or any request value, so no secret can reach a message.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import httpx
from pydantic import SecretStr

from slipway.domain.errors import ForgeError
from slipway.domain.model import ForgeKind
from slipway.domain.text import Text, t
from slipway.forges._clients import TIMEOUT, USER_AGENT
from slipway.forges.registry import forge_info

# What Slipway asks each forge for: the registry's required scopes, plus what reads an org's
# membership (GitHub `read:org`, Gitea `read:organization`) and deletes a repository on
# request (GitHub `delete_repo`); GitLab's `api` covers all of it.
OAUTH_SCOPES: Final[Mapping[ForgeKind, tuple[str, ...]]] = MappingProxyType(
    {
        ForgeKind.GITHUB: (
            *forge_info(ForgeKind.GITHUB).required_scopes,
            "read:org",
            "delete_repo",
        ),
        ForgeKind.GITLAB: forge_info(ForgeKind.GITLAB).required_scopes,
        ForgeKind.GITEA: (
            *forge_info(ForgeKind.GITEA).required_scopes,
            "read:organization",
            "read:user",
        ),
    }
)
_PATHS: Final = {
    ForgeKind.GITHUB: ("/login/oauth/authorize", "/login/oauth/access_token"),
    ForgeKind.GITLAB: ("/oauth/authorize", "/oauth/token"),
    ForgeKind.GITEA: ("/login/oauth/authorize", "/login/oauth/access_token"),
}
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the person, and what the callback must be checked against: `state`
    and `code_verifier` belong in their session, never in a URL or a log."""

    url: str
    state: str
    code_verifier: str

    def __repr__(self) -> str:
        return "AuthorizationRequest(url=..., state=..., code_verifier=...)"


@dataclass(frozen=True)
class OAuthTokens:
    """What a token endpoint granted. `expires_at` None: the token does not expire (GitHub
    OAuth apps); `refresh_token` None: it cannot be refreshed."""

    access_token: SecretStr
    refresh_token: SecretStr | None
    expires_at: datetime | None
    scopes: tuple[str, ...]


def web_root(kind: ForgeKind, base_url: str) -> str:
    """Where a forge's OAuth pages live: GitHub's web host for its API URL (api.github.com
    -> github.com, GHE's https://HOST/api/v3 -> https://HOST), else the instance URL (and
    the sandbox, whose one root serves the API and the pages)."""
    root = base_url.rstrip("/")
    if kind is ForgeKind.GITHUB:
        if urlsplit(root).hostname == "api.github.com":
            return "https://github.com"
        if root.endswith("/api/v3"):
            return root[: -len("/api/v3")]
    return root


def authorization_request(
    kind: ForgeKind,
    base_url: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: tuple[str, ...] | None = None,
) -> AuthorizationRequest:
    """The authorize URL with a fresh `state` and PKCE S256 challenge."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(scopes if scopes is not None else OAUTH_SCOPES[kind]),
        "state": state,
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    authorize = web_root(kind, base_url) + _PATHS[kind][0]
    return AuthorizationRequest(f"{authorize}?{urlencode(query)}", state, verifier)


async def exchange_code(
    kind: ForgeKind,
    base_url: str,
    *,
    client_id: str,
    client_secret: SecretStr,
    code: str,
    redirect_uri: str,
    code_verifier: str,
    scopes: tuple[str, ...] | None = None,
) -> OAuthTokens:
    """The code from the callback exchanged for tokens. `ForgeError` when the forge refuses
    (the code used, expired or not this verifier's: `invalid_grant`, GitHub's
    `bad_verification_code`), or cannot be reached (transient). `scopes` are those the
    authorize URL asked for, granted when the answer names none (Gitea)."""
    return await _token_request(
        kind,
        base_url,
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "client_secret": client_secret.get_secret_value(),
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        },
        action=t("exchange the authorization code"),
        requested=scopes if scopes is not None else OAUTH_SCOPES[kind],
    )


async def refresh_tokens(
    kind: ForgeKind,
    base_url: str,
    *,
    client_id: str,
    client_secret: SecretStr,
    refresh_token: SecretStr,
    scopes: tuple[str, ...],
) -> OAuthTokens:
    """A new token pair for a refresh token (which the forge then revokes: store the new
    pair before anything else). `scopes` are the pair's, kept when the answer names none.
    `ForgeError` as for `exchange_code`."""
    return await _token_request(
        kind,
        base_url,
        {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret.get_secret_value(),
            "refresh_token": refresh_token.get_secret_value(),
        },
        action=t("refresh the access token"),
        requested=scopes,
    )


async def _token_request(
    kind: ForgeKind,
    base_url: str,
    form: dict[str, str],
    *,
    action: str,
    requested: tuple[str, ...],
) -> OAuthTokens:
    label = forge_info(kind).label
    url = web_root(kind, base_url) + _PATHS[kind][1]
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            response = await client.post(url, data=form, headers=headers)
    except httpx.TransportError as exc:
        raise ForgeError(
            t("could not reach {label} to {action}", label=label, action=action),
            system=kind.value,
            hint=t("check the forge URL and that it is up, then sign in again"),
            transient=True,
        ) from exc
    body = _json(response)
    error = body.get("error") if body is not None else None
    if body is None or error is not None or response.is_error or "access_token" not in body:
        code = str(error) if isinstance(error, str) and _ERROR_CODE.match(error) else None
        raise ForgeError(
            t("{label} refused to {action} ({code})", label=label, action=action, code=code)
            if code
            else t(
                "{label} refused to {action} (HTTP {status})",
                label=label,
                action=action,
                status=response.status_code,
            ),
            system=kind.value,
            hint=_hint(code),
            transient=response.status_code >= 500 or response.status_code == 429,
        )
    return _tokens(body, requested=requested)


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _hint(code: str | None) -> Text:
    if code in ("invalid_grant", "bad_verification_code"):
        return t("the sign-in expired or was used already: connect the forge again")
    if code in ("invalid_client", "unauthorized_client", "incorrect_client_credentials"):
        return t(
            "check SLIPWAY_<FORGE>_OAUTH_CLIENT_ID and SLIPWAY_<FORGE>_OAUTH_CLIENT_SECRET "
            "against the OAuth application registered on the forge"
        )
    if code == "redirect_uri_mismatch":
        return t("the callback URL must be one registered for the OAuth application")
    return t("try connecting the forge again")


def _tokens(body: dict[str, Any], *, requested: tuple[str, ...]) -> OAuthTokens:
    """Scopes from `scope` (GitHub: commas, GitLab: spaces); Gitea names none, and grants
    what was asked. `expires_at` from `expires_in`, counted from GitLab's `created_at` when
    given."""
    raw_scope = body.get("scope")
    scopes = (
        tuple(s for s in str(raw_scope).replace(",", " ").split() if s)
        if raw_scope is not None
        else requested
    )
    expires_at = None
    expires_in = body.get("expires_in")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        created = body.get("created_at")
        start = (
            datetime.fromtimestamp(created, UTC)
            if isinstance(created, int | float) and not isinstance(created, bool)
            else datetime.now(UTC)
        )
        expires_at = start + timedelta(seconds=float(expires_in))
    refresh = body.get("refresh_token")
    return OAuthTokens(
        access_token=SecretStr(str(body["access_token"])),
        refresh_token=SecretStr(refresh) if isinstance(refresh, str) and refresh else None,
        expires_at=expires_at,
        scopes=scopes,
    )
