"""A small JSON-over-HTTP client for the forges Slipway drives with httpx (GitLab, Gitea).

Each call goes through `slipway.retry` and `classify`, so adapters state only what a call means
(the action, which scope it needs, what a 404 says, when a refusal means "name taken") and never
handle transport errors, status codes or retries themselves. `call` returns an answer or raises;
`optional` is for reads where a 404 (or another listed status) means "not there": None.
`HttpForge` is the base of the adapters built on it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from slipway.domain.errors import SlipwayError
from slipway.domain.text import t
from slipway.forges._clients import json_client, map_transport_errors
from slipway.forges._errors import (
    TAKEN_STATUSES,
    NameTaken,
    NotVisible,
    Site,
    classify,
    is_rate_limited,
)
from slipway.forges._flows import ForgeFlows
from slipway.retry import DEFAULT_POLICY, Retryable, RetryPolicy, retry_async

# Decides from a 404's answer whether it may be the forge not showing a new repository yet.
NotYet = Callable[[httpx.Response], bool]
# The error a refusal means for this call (a forge that refuses a feature), or None to
# classify it as any other.
Refused = Callable[[httpx.Response], SlipwayError | None]


class JsonApi:
    """Calls to one forge's API root over the connection's client (`client()`, rooted at the
    API URL), with the token in one header of each request."""

    def __init__(
        self,
        *,
        site: Site,
        client: Callable[[], httpx.AsyncClient],
        token: SecretStr,
        auth_scheme: str = "Bearer",
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.site = site
        self.policy = policy
        self._token = token
        self._auth_scheme = auth_scheme
        self._client = client

    def __repr__(self) -> str:
        return f"JsonApi({self.site.label} {self.site.url})"

    async def call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        scope: str | None = None,
        not_found: SlipwayError | None = None,
        taken: Callable[[httpx.Response], bool] | None = None,
        not_yet: NotYet | None = None,
        refused: Refused | None = None,
    ) -> httpx.Response:
        """One API call with retries. A refusal for which `taken` holds raises `NameTaken`;
        a 404 for which `not_yet` holds is retried briefly, then raises `NotVisible`; a
        failure `refused` names raises that error."""

        async def once() -> httpx.Response:
            answer = await self._send(method, path, action=action, json=json, params=params)
            if answer.is_success:
                return answer
            self._raise_not_yet(answer, action, not_yet)
            if taken is not None and answer.status_code in TAKEN_STATUSES and taken(answer):
                raise NameTaken(self.site, action)
            self._raise_refused(answer, refused)
            raise self._failure(answer, action, scope, not_found)

        return await retry_async(once, policy=self._policy(not_yet))

    async def optional(
        self,
        method: str,
        path: str,
        *,
        action: str,
        params: Mapping[str, str | int] | None = None,
        scope: str | None = None,
        absent: Collection[int] = (404,),
        not_yet: NotYet | None = None,
        refused: Refused | None = None,
    ) -> httpx.Response | None:
        """Like `call`, but None when the answer's status is in `absent`, or when a 404 that
        `not_yet` retried briefly stays."""

        async def once() -> httpx.Response | None:
            answer = await self._send(method, path, action=action, params=params)
            if answer.is_success:
                return answer
            self._raise_not_yet(answer, action, not_yet)
            self._raise_refused(answer, refused)
            if answer.status_code in absent:
                return None
            raise self._failure(answer, action, scope, None)

        try:
            return await retry_async(once, policy=self._policy(not_yet))
        except NotVisible:
            return None

    async def _send(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
        with map_transport_errors(self.site, action):
            return await self._client().request(
                method,
                path.lstrip("/"),
                json=json,
                params=params,
                headers={"Authorization": f"{self._auth_scheme} {self._secret()}"},
            )

    def _policy(self, not_yet: NotYet | None) -> RetryPolicy:
        return self.policy.brief() if not_yet is not None else self.policy

    def _raise_not_yet(self, answer: httpx.Response, action: str, not_yet: NotYet | None) -> None:
        if answer.status_code == 404 and not_yet is not None and not_yet(answer):
            raise Retryable(NotVisible(self.site, action))

    def _raise_refused(self, answer: httpx.Response, refused: Refused | None) -> None:
        if refused is None or is_rate_limited(answer.status_code, answer.headers):
            return
        error = refused(answer)
        if error is not None:
            raise error

    def _failure(
        self, answer: httpx.Response, action: str, scope: str | None, not_found: SlipwayError | None
    ) -> SlipwayError | Retryable:
        return classify(
            answer.status_code,
            answer.headers,
            site=self.site,
            action=action,
            scope=scope,
            not_found=not_found
            or self.site.not_found(t("could not {action}: not found", action=action)),
        )

    def _secret(self) -> str:
        return self._token.get_secret_value()


class HttpForge(ForgeFlows):
    """A forge driven through one `JsonApi` over the connection's client."""

    auth_scheme = "Bearer"  # how the token goes in the Authorization header
    _api: JsonApi

    def _connect(self, policy: RetryPolicy) -> None:
        self._api = JsonApi(
            site=self._site,
            client=self._http,
            token=self._token,
            auth_scheme=self.auth_scheme,
            policy=policy,
        )

    def _new_client(self) -> httpx.AsyncClient:
        return json_client(self.api_url)
