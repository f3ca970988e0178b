"""A small JSON-over-HTTP client for the forges Slipway drives with httpx (GitLab, Gitea).

Each call goes through `slipway.retry` and `classify`, so adapters state only what a call means
(the action, which scope it needs, what a 404 or a conflict says) and never handle transport
errors, status codes or retries themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import httpx
import structlog
from pydantic import SecretStr

from slipway.domain.errors import SlipwayError
from slipway.forges._errors import Site, classify
from slipway.retry import DEFAULT_POLICY, Retryable, RetryPolicy, retry_async

log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def brief(policy: RetryPolicy) -> RetryPolicy:
    """A short retry budget for "not there yet" races (a push right after creation)."""
    return replace(
        policy,
        attempts=min(policy.attempts, 4),
        base_delay=min(policy.base_delay, 0.5),
        max_delay=min(policy.max_delay, 2.0),
    )


@contextmanager
def map_transport_errors(site: Site, action: str) -> Iterator[None]:
    """httpx's timeouts and connection errors become a Retryable naming the forge."""
    try:
        yield
    except httpx.TransportError as exc:
        raise site.unreachable(action) from exc


class JsonApi:
    """httpx.AsyncClient bound to one forge's API root with the token in one header."""

    def __init__(
        self,
        *,
        site: Site,
        api_url: str,
        token: SecretStr,
        auth_scheme: str = "Bearer",
        policy: RetryPolicy = DEFAULT_POLICY,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.site = site
        self.policy = policy
        self._token = token
        self._auth_scheme = auth_scheme
        self._client = httpx.AsyncClient(
            base_url=api_url.rstrip("/") + "/",
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "slipway"},
            follow_redirects=True,
        )

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
        conflict: Callable[[httpx.Response], SlipwayError | None] | None = None,
        absent: Collection[int] = (),
        retry_404_if: Callable[[httpx.Response], bool] | None = None,
    ) -> httpx.Response | None:
        """One API call with retries; None when the answer's status is in `absent`.

        A 404 for which `retry_404_if` holds is retried briefly first: that is the forge not
        showing a repository it just created yet.
        """
        gone = not_found or self.site.not_found(f"could not {action}: not found")

        async def once() -> httpx.Response | None:
            with map_transport_errors(self.site, action):
                response = await self._client.request(
                    method,
                    path.lstrip("/"),
                    json=json,
                    params=params,
                    headers={"Authorization": f"{self._auth_scheme} {self._secret()}"},
                )
            status = response.status_code
            if response.is_success:
                return response
            if status == 404 and retry_404_if is not None and retry_404_if(response):
                raise Retryable(gone)
            if status in absent:
                return None
            raise classify(
                status,
                response.headers,
                site=self.site,
                action=action,
                scope=scope,
                not_found=gone,
                conflict=conflict(response) if conflict else None,
            )

        policy = brief(self.policy) if retry_404_if is not None else self.policy
        try:
            return await retry_async(once, policy=policy)
        except SlipwayError as exc:
            if exc is gone and 404 in absent:
                return None
            raise

    def _secret(self) -> str:
        return self._token.get_secret_value()

    async def aclose(self) -> None:
        await self._client.aclose()
