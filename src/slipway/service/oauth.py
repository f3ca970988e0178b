"""Connecting a forge account by OAuth (authorization-code flow with PKCE): `begin_oauth`
gives the forge's sign-in URL and the state and verifier the caller keeps in the person's
session; `complete_oauth` checks the state, exchanges the code and stores the connection as
`connect_forge` does, with the refresh token and expiry a GitLab or Gitea token comes with.
Expiring tokens are refreshed where they are used (`App.refresh_if_expiring`, called by
`service.forges.open_forge` and by the worker's `ProcessLoop.forge`); the forge clients built
afterwards carry the new token, since `ForgeClients` keys its clients by token fingerprint.

A project created with `--git-auth token` holds the token in its environments' git Secrets:
after every refresh, and on the status sync leader's periodic pass (which also refreshes
tokens nobody is using before they expire), those Secrets are applied again with the current
token (`service.token_refresh`). The default, deploy keys, does not depend on the user's
token at all."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from pydantic import SecretStr

from slipway.bootstrap import App
from slipway.domain.actors import OPERATOR, Actor
from slipway.domain.errors import InvalidInput
from slipway.domain.model import ForgeKind
from slipway.domain.text import t
from slipway.forges import (
    TokenKind,
    authorization_request,
    build_forge,
    exchange_code,
    forge_info,
)
from slipway.service.forges import store_connection
from slipway.service.views import ConnectionView

STEP = "forge connect"


@dataclass(frozen=True)
class OAuthStart:
    """Send the person to `authorize_url`; keep `state` and `code_verifier` in their session
    (server side or in a signed, HttpOnly cookie) for `complete_oauth`."""

    authorize_url: str
    state: str
    code_verifier: str

    def __repr__(self) -> str:
        return "OAuthStart(authorize_url=..., state=..., code_verifier=...)"


def oauth_forges(app: App) -> list[ForgeKind]:
    """The forges this installation can connect by OAuth (both settings of each are set)."""
    return [kind for kind in ForgeKind if app.settings.oauth_client(kind) is not None]


def begin_oauth(app: App, kind: ForgeKind, *, redirect_uri: str) -> OAuthStart:
    """The authorize URL of the configured server of `kind`, with a fresh state and PKCE
    challenge and the scopes Slipway needs. `InvalidInput` naming the settings when the
    forge has no OAuth application configured."""
    client_id, _ = _client(app, kind)
    request = authorization_request(
        kind, app.forge_url(kind), client_id=client_id, redirect_uri=redirect_uri
    )
    return OAuthStart(request.url, request.state, request.code_verifier)


async def complete_oauth(
    app: App,
    kind: ForgeKind,
    *,
    code: str,
    state: str,
    expected_state: str,
    code_verifier: str,
    redirect_uri: str,
    actor: Actor = OPERATOR,
) -> ConnectionView:
    """Finishes a sign-in `begin_oauth` started: the callback's `state` must be the one kept
    in the session (else `InvalidInput`, and nothing is asked or stored), the code is
    exchanged (with the verifier and the same redirect_uri), the token's account read, and
    the connection stored encrypted as `actor`'s, with its refresh token and expiry."""
    if not expected_state or not secrets.compare_digest(state.encode(), expected_state.encode()):
        raise InvalidInput(
            "state",
            t("does not match the sign-in this session started"),
            hint=t(
                "start connecting {label} again from the same browser", label=forge_info(kind).label
            ),
        )
    if not code.strip():
        raise InvalidInput("code", t("is missing from the forge's answer"))
    client_id, client_secret = _client(app, kind)
    base_url = app.forge_url(kind)
    tokens = await exchange_code(
        kind,
        base_url,
        client_id=client_id,
        client_secret=client_secret,
        code=code.strip(),
        redirect_uri=redirect_uri,
        code_verifier=code_verifier,
    )
    forge = build_forge(kind, base_url=base_url, token=tokens.access_token, step=STEP)
    try:
        account = await forge.validate_token()
    finally:
        await forge.aclose()
    account = replace(account, token_kind=TokenKind.OAUTH)
    view = store_connection(
        app,
        kind,
        base_url,
        account,
        tokens.access_token,
        scopes=tokens.scopes,
        actor=actor,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
    )
    required = forge_info(kind).required_scopes
    return replace(
        view,
        scopes=tokens.scopes,
        missing_scopes=tuple(s for s in required if s not in tokens.scopes),
    )


def _client(app: App, kind: ForgeKind) -> tuple[str, SecretStr]:
    client = app.settings.oauth_client(kind)
    if client is None:
        prefix = f"SLIPWAY_{kind.value.upper()}_OAUTH_CLIENT"
        raise InvalidInput(
            "forge",
            t("{label} has no OAuth application configured", label=forge_info(kind).label),
            hint=t(
                "set {prefix}_ID and {prefix}_SECRET to the application "
                "registered on the forge, or connect with a token: `slipway "
                "forge connect {forge} --token-stdin`",
                prefix=prefix,
                forge=kind.value,
            ),
        )
    return client
