"""The OAuth authorize URL Slipway sends a person to, per forge, and the settings that turn
OAuth on: no network."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from slipway.config import Settings
from slipway.domain.model import ForgeKind
from slipway.forges import OAUTH_SCOPES, authorization_request


@pytest.mark.parametrize(
    ("kind", "base_url", "authorize"),
    [
        (ForgeKind.GITHUB, "https://api.github.com", "https://github.com/login/oauth/authorize"),
        (
            ForgeKind.GITHUB,
            "https://ghe.example.com/api/v3",
            "https://ghe.example.com/login/oauth/authorize",
        ),
        (ForgeKind.GITLAB, "https://gitlab.com/", "https://gitlab.com/oauth/authorize"),
        (
            ForgeKind.GITEA,
            "https://git.example.com/sub",
            "https://git.example.com/sub/login/oauth/authorize",
        ),
    ],
)
def test_the_authorize_url_carries_state_pkce_and_the_scopes_slipway_needs(
    kind: ForgeKind, base_url: str, authorize: str
) -> None:
    request = authorization_request(
        kind, base_url, client_id="the-client", redirect_uri="https://slipway.example/cb"
    )
    url, _, query = request.url.partition("?")
    assert url == authorize
    params = {k: v[0] for k, v in parse_qs(query).items()}
    assert params["client_id"] == "the-client"
    assert params["redirect_uri"] == "https://slipway.example/cb"
    assert params["response_type"] == "code"
    assert params["state"] == request.state
    assert params["scope"].split() == list(OAUTH_SCOPES[kind])
    assert params["code_challenge_method"] == "S256"
    digest = hashlib.sha256(request.code_verifier.encode()).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(request.code_verifier) <= 128
    assert request.code_verifier not in request.url
    assert request.state not in repr(request) and request.code_verifier not in repr(request)


def test_each_sign_in_gets_its_own_state_and_verifier() -> None:
    first, second = (
        authorization_request(
            ForgeKind.GITLAB, "https://gitlab.com", client_id="c", redirect_uri="http://x/cb"
        )
        for _ in range(2)
    )
    assert first.state != second.state
    assert first.code_verifier != second.code_verifier
    assert urlsplit(first.url).path == "/oauth/authorize"


def test_oauth_is_configured_per_forge_by_both_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_GITLAB_OAUTH_CLIENT_ID", "gitlab-app")
    monkeypatch.setenv("SLIPWAY_GITLAB_OAUTH_CLIENT_SECRET", "gloas-secret")
    monkeypatch.setenv("SLIPWAY_GITEA_OAUTH_CLIENT_ID", "only-the-id")
    settings = Settings(_env_file=None)
    configured = settings.oauth_client(ForgeKind.GITLAB)
    assert configured is not None
    client_id, secret = configured
    assert (client_id, secret.get_secret_value()) == ("gitlab-app", "gloas-secret")
    assert "gloas-secret" not in repr(settings)
    assert settings.oauth_client(ForgeKind.GITEA) is None
    assert settings.oauth_client(ForgeKind.GITHUB) is None
