"""The OAuth authorization-code flow as the three forges serve it, at the instance root:
GitHub and Gitea at `/login/oauth/authorize` and `/login/oauth/access_token`, GitLab at
`/oauth/authorize` and `/oauth/token`. GitHub and Gitea share paths here (one host plays
both), so the `client_id` decides whose answer a request gets.

The authorize endpoint is a sign-in page of the emulator's own: a form asking which account
consents; "Authorize" redirects to `redirect_uri` with `code` and `state`, "Cancel" with
`error=access_denied`. The token endpoint exchanges a code (checking the client secret, the
redirect_uri and the PKCE verifier) or, on GitLab and Gitea, a refresh token.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import time
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from slipway.sandbox.forge._oauth_state import OAuthApp, RefreshToken, pkce_matches
from slipway.sandbox.forge._state import ForgeState

AUTHORIZE_PATHS: Final = {
    "/login/oauth/authorize": ("github", "gitea"),
    "/oauth/authorize": ("gitlab",),
}
TOKEN_PATHS: Final = {
    "/login/oauth/access_token": ("github", "gitea"),
    "/oauth/token": ("gitlab",),
}
# GitHub takes S256 only; GitLab (Doorkeeper) and Gitea also `plain`.
_CHALLENGE_METHODS: Final = {
    "github": ("S256",),
    "gitlab": ("S256", "plain"),
    "gitea": ("S256", "plain"),
}
_GITHUB_DOCS: Final = (
    "https://docs.github.com/apps/managing-oauth-apps/"
    "troubleshooting-oauth-app-access-token-request-errors"
)
_DENIED: Final = {
    "github": "The user has denied your application access.",
    "gitlab": "The resource owner or authorization server denied the request.",
    "gitea": "The resource owner or authorization server denied the request.",
}
_INVALID_GRANT: Final = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)


async def serve_oauth(request: Request, state: ForgeState) -> Response | None:
    """The answer to an OAuth request, or None when the path is not an OAuth endpoint."""
    path = request.url.path.rstrip("/")
    if path in AUTHORIZE_PATHS and request.method in ("GET", "POST"):
        return await _authorize(request, state, AUTHORIZE_PATHS[path])
    if path in TOKEN_PATHS and request.method == "POST":
        return await _token(request, state, TOKEN_PATHS[path])
    return None


# --- authorize ------------------------------------------------------------------------------


async def _authorize(request: Request, state: ForgeState, flavours: tuple[str, ...]) -> Response:
    form: dict[str, str] = {}
    if request.method == "POST":
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    params = {**dict(request.query_params), **form}
    app = state.oauth.app(params.get("client_id"))
    if app is None or app.flavour not in flavours:
        return _page("Unknown application", "The client_id is not a registered application.", 404)
    redirect_uri = params.get("redirect_uri") or (
        app.redirect_uris[0] if app.flavour == "github" else ""
    )
    if not redirect_uri or not app.allows(redirect_uri):
        return _page(
            "Redirect URI mismatch",
            "The redirect_uri is not associated with this application.",
            400,
        )
    client_state = params.get("state")

    def back(**values: str) -> Response:
        extra = {"state": client_state} if client_state else {}
        return _redirect(redirect_uri, {**values, **extra})

    if app.flavour != "github" and params.get("response_type") != "code":
        return back(
            error="unsupported_response_type",
            error_description="The authorization server does not support this response type.",
        )
    challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or None
    if challenge is not None:
        method = method or ("S256" if app.flavour == "github" else "plain")
        if method not in _CHALLENGE_METHODS[app.flavour]:
            return back(
                error="invalid_request",
                error_description=f"code_challenge_method {method} is not supported",
            )
    scopes = _scopes(params.get("scope", ""))
    if request.method == "GET":
        return _consent_page(app, params, scopes, problem=None)
    if form.get("decision") != "allow":
        return back(error="access_denied", error_description=_DENIED[app.flavour])
    account = state.account(form.get("login", "").strip())
    if account is None or account.is_org:
        return _consent_page(app, params, scopes, problem="Incorrect username.")
    grant = state.oauth.issue_code(
        app,
        login=account.login,
        scopes=scopes,
        redirect_uri=redirect_uri,
        code_challenge=challenge,
        code_challenge_method=method,
    )
    return back(code=grant.code)


def _scopes(raw: str) -> tuple[str, ...]:
    """Scopes as the request lists them: space-separated (all three), commas too (GitHub)."""
    seen: list[str] = []
    for scope in raw.replace(",", " ").split():
        if scope not in seen:
            seen.append(scope)
    return tuple(seen)


def _redirect(uri: str, values: dict[str, str]) -> Response:
    joiner = "&" if "?" in uri else "?"
    return RedirectResponse(f"{uri}{joiner}{urlencode(values)}", status_code=302)


def _consent_page(
    app: OAuthApp, params: dict[str, str], scopes: tuple[str, ...], *, problem: str | None
) -> Response:
    """A sign-in and consent form that posts back to the same address with every parameter
    of the request as a hidden field."""
    hidden = "\n".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k not in ("login", "decision")
    )
    granted = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in scopes) or (
        "<li>public information only</li>"
    )
    alert = f'<p role="alert">{html.escape(problem)}</p>' if problem else ""
    typed = html.escape(params.get("login", ""))
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize {html.escape(app.name)}</title></head>
<body><main>
<h1>Authorize {html.escape(app.name)}</h1>
<p>{html.escape(app.name)} wants to act as your {app.flavour} sandbox account with:</p>
<ul>{granted}</ul>
{alert}
<form method="post">
{hidden}
<label for="login">Account name</label>
<input id="login" name="login" autocomplete="username" required value="{typed}">
<button type="submit" name="decision" value="allow">Authorize</button>
<button type="submit" name="decision" value="deny" formnovalidate>Cancel</button>
</form>
</main></body></html>
"""
    return HTMLResponse(body, status_code=200 if problem is None else 401)


def _page(title: str, message: str, status: int) -> Response:
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><main><h1>{title}</h1><p>{message}</p></main></body></html>"
    )
    return HTMLResponse(body, status_code=status)


# --- token ----------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(error)
        self.error, self.description, self.status = error, description, status


async def _token(request: Request, state: ForgeState, flavours: tuple[str, ...]) -> Response:
    body = await _body(request)
    client_id, client_secret = _client_credentials(request, body)
    app = state.oauth.app(client_id)
    flavour = app.flavour if app is not None and app.flavour in flavours else flavours[0]
    try:
        if app is None or app.flavour not in flavours:
            raise _client_refusal(flavour)
        if not secrets.compare_digest(client_secret or "", app.client_secret):
            raise _client_refusal(flavour)
        grant_type = body.get("grant_type") or ("authorization_code" if flavour == "github" else "")
        if grant_type == "authorization_code":
            answer = _exchange_code(state, app, body)
        elif grant_type == "refresh_token" and flavour != "github":
            answer = _refresh(state, app, body)
        else:
            raise _Refused(
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            )
    except _Refused as refused:
        return _error_response(request, flavour, refused)
    return _token_response(request, flavour, answer)


def _exchange_code(state: ForgeState, app: OAuthApp, body: dict[str, str]) -> dict[str, Any]:
    grant = state.oauth.take_code(body.get("code"))
    if grant is None or grant.client_id != app.client_id:
        raise _code_refusal(app.flavour)
    sent_uri = body.get("redirect_uri")
    if app.flavour == "github":
        if sent_uri and sent_uri != grant.redirect_uri:
            raise _Refused(
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            )
    elif sent_uri != grant.redirect_uri:
        raise _Refused("invalid_grant", _INVALID_GRANT)
    if grant.code_challenge is not None and not pkce_matches(
        grant.code_challenge, grant.code_challenge_method, body.get("code_verifier")
    ):
        if app.flavour == "github":
            raise _code_refusal("github")
        raise _Refused("invalid_grant", _INVALID_GRANT)
    return _issue(state, app, grant.login, grant.scopes)


def _refresh(state: ForgeState, app: OAuthApp, body: dict[str, str]) -> dict[str, Any]:
    """The old pair is revoked as the new one is issued: a refresh token works once."""
    old = state.oauth.take_refresh(body.get("refresh_token"))
    if old is None:
        raise _Refused("invalid_grant", _INVALID_GRANT)
    if old.client_id != app.client_id:
        state.oauth.put_back_refresh(old)
        raise _Refused("invalid_grant", _INVALID_GRANT)
    state.revoke_token(old.access_token)
    return _issue(state, app, old.login, old.scopes)


def _issue(state: ForgeState, app: OAuthApp, login: str, scopes: tuple[str, ...]) -> dict[str, Any]:
    now = time.time()
    lifetime = state.oauth.token_seconds.get(app.flavour)
    value = _access_token_value(app.flavour)
    expires_at = now + lifetime if lifetime is not None else None
    state.add_token(value, login, scopes=scopes, kind="oauth", expires_at=expires_at)
    if app.flavour == "github":
        return {"access_token": value, "scope": ",".join(scopes), "token_type": "bearer"}
    refresh = secrets.token_hex(32) if app.flavour == "gitlab" else _urlsafe(32)
    state.oauth.remember_refresh(RefreshToken(refresh, app.client_id, login, scopes, value))
    answer: dict[str, Any] = {
        "access_token": value,
        "token_type": "Bearer" if app.flavour == "gitlab" else "bearer",
        "expires_in": int(lifetime) if lifetime is not None else None,
        "refresh_token": refresh,
    }
    if app.flavour == "gitlab":
        answer["scope"] = " ".join(scopes)
        answer["created_at"] = int(now)
    return answer


def _access_token_value(flavour: str) -> str:
    if flavour == "github":
        return "gho_" + _urlsafe(27).replace("-", "a").replace("_", "b")[:36]
    if flavour == "gitlab":
        return secrets.token_hex(32)
    return _urlsafe(48)


def _urlsafe(size: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(size)).rstrip(b"=").decode()


def _client_refusal(flavour: str) -> _Refused:
    if flavour == "github":
        return _Refused(
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
        )
    if flavour == "gitlab":
        return _Refused(
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication "
            "included, or unsupported authentication method.",
            401,
        )
    return _Refused("unauthorized_client", "invalid client secret")


def _code_refusal(flavour: str) -> _Refused:
    if flavour == "github":
        return _Refused("bad_verification_code", "The code passed is incorrect or expired.")
    return _Refused("invalid_grant", _INVALID_GRANT)


async def _body(request: Request) -> dict[str, str]:
    """Form-encoded or JSON parameters (GitHub and Gitea take both), plus the query string
    (GitHub also reads parameters there)."""
    raw = await request.body()
    values: dict[str, str] = dict(request.query_params)
    if "json" in request.headers.get("content-type", ""):
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {}
        if isinstance(data, dict):
            values.update({k: str(v) for k, v in data.items() if v is not None})
    else:
        values.update(dict(parse_qsl(raw.decode("utf-8", "replace"))))
    return values


def _client_credentials(request: Request, body: dict[str, str]) -> tuple[str | None, str | None]:
    """HTTP Basic (RFC 6749 §2.3.1) or `client_id` and `client_secret` in the body."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, None
        return user, password
    return body.get("client_id"), body.get("client_secret")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _token_response(request: Request, flavour: str, answer: dict[str, Any]) -> Response:
    """GitHub answers form-encoded unless asked for JSON (Accept); the others always JSON."""
    headers = {"cache-control": "no-store", "pragma": "no-cache"}
    if flavour == "github" and not _wants_json(request):
        return Response(
            urlencode(answer),
            media_type="application/x-www-form-urlencoded; charset=utf-8",
            headers=headers,
        )
    return JSONResponse({k: v for k, v in answer.items() if v is not None}, headers=headers)


def _error_response(request: Request, flavour: str, refused: _Refused) -> Response:
    """GitHub's errors come with status 200 (in the body's `error`); GitLab's and Gitea's
    with 400 (401 for GitLab's unknown client), as RFC 6749 §5.2 says."""
    body = {"error": refused.error, "error_description": refused.description}
    if flavour == "github":
        body["error_uri"] = f"{_GITHUB_DOCS}#{refused.error.replace('_', '-')}"
        return _token_response(request, "github", body)
    return JSONResponse(body, status_code=refused.status)
