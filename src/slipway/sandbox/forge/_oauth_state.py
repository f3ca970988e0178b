"""The emulator's OAuth authorization server: one registered application per forge flavour,
the authorization codes it handed out, and the refresh tokens of the access tokens it issued.

Access tokens themselves live with every other token in `ForgeState` (kind "oauth"), so the
REST and git endpoints accept them as the account that consented, with the granted scopes.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

FLAVOURS: Final = ("github", "gitlab", "gitea")
CODE_SECONDS: Final = 600.0  # all three forges keep an unused code ten minutes
# How long an access token lives (None: until revoked, GitHub's OAuth app tokens).
DEFAULT_TOKEN_SECONDS: Final[dict[str, float | None]] = {
    "github": None,
    "gitlab": 7200.0,  # GitLab's fixed two hours
    "gitea": 3600.0,  # Gitea's ACCESS_TOKEN_EXPIRATION_TIME default
}
_LOOPBACK: Final = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class OAuthApp:
    """A registered OAuth application. `redirect_uris` are its callback URLs: a redirect_uri
    is accepted under one of them (same scheme and host, path below it; any port on a
    loopback host, as GitHub and RFC 8252 allow for native apps)."""

    flavour: str
    client_id: str
    client_secret: str
    name: str = "Slipway (sandbox)"
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1/", "http://localhost/")

    def allows(self, redirect_uri: str) -> bool:
        try:
            wanted = urlsplit(redirect_uri)
            wanted_port = wanted.port
        except ValueError:
            return False
        for registered in self.redirect_uris:
            known = urlsplit(registered)
            if (wanted.scheme, wanted.hostname) != (known.scheme, known.hostname):
                continue
            if known.hostname not in _LOOPBACK and wanted_port != known.port:
                continue
            base = known.path.rstrip("/") + "/"
            if (wanted.path.rstrip("/") + "/").startswith(base):
                return True
        return False


@dataclass(frozen=True)
class Grant:
    """An authorization code: who consented, to which app, for what, and the PKCE
    challenge the token request must answer."""

    code: str
    client_id: str
    login: str
    scopes: tuple[str, ...]
    redirect_uri: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float


@dataclass(frozen=True)
class RefreshToken:
    """A refresh token and the access token issued with it (revoked together)."""

    value: str
    client_id: str
    login: str
    scopes: tuple[str, ...]
    access_token: str


def pkce_matches(challenge: str, method: str | None, verifier: str | None) -> bool:
    """RFC 7636 §4.6: S256 is BASE64URL(SHA256(verifier)) without padding; plain is equal."""
    if not verifier:
        return False
    if (method or "plain").upper() == "S256":
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == challenge
    return secrets.compare_digest(verifier, challenge)


@dataclass
class OAuthRegistry:
    """Applications, codes and refresh tokens; thread-safe like `ForgeState`. Set
    `token_seconds[flavour]` to make that flavour's access tokens expire sooner (tests)."""

    apps: dict[str, OAuthApp] = field(default_factory=dict)
    token_seconds: dict[str, float | None] = field(
        default_factory=lambda: dict(DEFAULT_TOKEN_SECONDS)
    )
    _codes: dict[str, Grant] = field(default_factory=dict)
    _refresh: dict[str, RefreshToken] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        for flavour in FLAVOURS:
            if not any(a.flavour == flavour for a in self.apps.values()):
                self.register(_new_app(flavour))

    def register(self, app: OAuthApp) -> OAuthApp:
        with self._lock:
            self.apps = {k: v for k, v in self.apps.items() if v.flavour != app.flavour}
            self.apps[app.client_id] = app
            return app

    def app_for(self, flavour: str) -> OAuthApp:
        with self._lock:
            return next(a for a in self.apps.values() if a.flavour == flavour)

    def app(self, client_id: str | None) -> OAuthApp | None:
        with self._lock:
            return self.apps.get(client_id or "")

    def issue_code(
        self,
        app: OAuthApp,
        *,
        login: str,
        scopes: tuple[str, ...],
        redirect_uri: str,
        code_challenge: str | None,
        code_challenge_method: str | None,
    ) -> Grant:
        grant = Grant(
            secrets.token_hex(10) if app.flavour == "github" else secrets.token_hex(32),
            app.client_id,
            login,
            scopes,
            redirect_uri,
            code_challenge,
            code_challenge_method,
            time.time() + CODE_SECONDS,
        )
        with self._lock:
            self._codes[grant.code] = grant
        return grant

    def take_code(self, code: str | None) -> Grant | None:
        """The grant of `code`, consumed: a code is good for one exchange, even a failed one
        (GitHub, GitLab and Gitea all refuse it the second time). None when unknown, used or
        expired."""
        with self._lock:
            grant = self._codes.pop(code or "", None)
        if grant is None or grant.expires_at < time.time():
            return None
        return grant

    def remember_refresh(self, token: RefreshToken) -> None:
        with self._lock:
            self._refresh[token.value] = token

    def take_refresh(self, value: str | None) -> RefreshToken | None:
        """The refresh token, revoked as it is used (a second use is refused)."""
        with self._lock:
            return self._refresh.pop(value or "", None)

    def put_back_refresh(self, token: RefreshToken) -> None:
        """Undo `take_refresh` for a request refused before anything was issued."""
        self.remember_refresh(token)


def _new_app(flavour: str) -> OAuthApp:
    """Credentials in each forge's own format: a GitHub OAuth app's `Ov23li…` client ID and
    40-hex secret, a GitLab application's 64-hex ID and `gloas-` secret, a Gitea UUID and
    `gto_` secret."""
    if flavour == "github":
        return OAuthApp(flavour, "Ov23li" + secrets.token_hex(7), secrets.token_hex(20))
    if flavour == "gitlab":
        return OAuthApp(flavour, secrets.token_hex(32), "gloas-" + secrets.token_hex(32))
    raw = secrets.token_hex(16)
    uuid = f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
    return OAuthApp(flavour, uuid, "gto_" + secrets.token_hex(26))
