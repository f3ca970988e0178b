"""githubkit calls run through the one retry loop, its exceptions turned into Slipway's.

The counterpart of `forges._http.JsonApi` for the GitHub adapter: `call` returns an answer or
raises; `optional` returns None for a 404; `answer` returns `Missing` for the statuses a caller
takes as answers (a hidden membership, an empty repository).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pydantic
from githubkit import GitHub
from githubkit.exception import GitHubException, RateLimitExceeded, RequestError, RequestFailed
from pydantic import SecretStr

from slipway.domain.errors import SlipwayError
from slipway.domain.text import t
from slipway.forges._clients import TIMEOUT, USER_AGENT, forge_tls
from slipway.forges._errors import (
    TAKEN_STATUSES,
    NameTaken,
    NotVisible,
    Site,
    classify,
    is_rate_limited,
)
from slipway.retry import Retryable, RetryPolicy, retry_async

T = TypeVar("T")


class SharedClientGitHub(GitHub[Any]):
    """githubkit sending every request through the connection's client (`client()`),
    instead of building a client, a TLS context and a connection per request."""

    def __init__(self, token: str, *, client: Callable[[], httpx.AsyncClient], **options: Any):
        super().__init__(token, **options)
        self._client = client

    @asynccontextmanager
    async def get_async_client(self) -> AsyncIterator[httpx.AsyncClient]:
        yield self._client()  # its owner closes it, not each request

    def new_async_client(self) -> httpx.AsyncClient:
        """A client configured as githubkit would build one (base URL, token, headers)."""
        return httpx.AsyncClient(
            **self._get_client_defaults(),
            transport=self.config.async_transport,
            event_hooks=self.config.async_event_hooks,
        )


def connect(
    api_url: str, token: SecretStr, client: Callable[[], httpx.AsyncClient]
) -> SharedClientGitHub:
    """githubkit without its own retries or HTTP cache: `slipway.retry` is the one retry
    loop, and a cache would hide the branch moving."""
    return SharedClientGitHub(
        token.get_secret_value(),
        client=client,
        base_url=api_url + "/",
        auto_retry=False,
        http_cache=False,
        timeout=TIMEOUT,
        user_agent=USER_AGENT,
        ssl_verify=forge_tls(),
    )


@dataclass(frozen=True)
class Missing:
    """A status the caller takes as an answer: 404 none, 403 hidden from us, 409 empty."""

    status: int


class _Absent(Exception):
    """Carries a `Missing` status out of `_translate` to `answer`, which returns it."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class GitHubApi:
    """Runs githubkit requests for one GitHub site with one retry policy."""

    def __init__(self, site: Site, policy: RetryPolicy) -> None:
        self.site = site
        self.policy = policy

    async def call(self, action: str, request: Callable[[], Awaitable[T]], **rules: Any) -> T:
        """`request`'s answer, with retries; `rules` as `_translate` takes them."""

        async def once() -> T:
            with self._translate(action, **rules):
                return await request()

        return await retry_async(once, policy=self.policy)

    async def answer(
        self,
        action: str,
        request: Callable[[], Awaitable[T]],
        *,
        absent: Collection[int],
        policy: RetryPolicy | None = None,
        **rules: Any,
    ) -> T | Missing:
        """`request`'s answer, or `Missing` for a status in `absent` (404 also after the
        brief retry `retry_404` asks for)."""

        async def once() -> T | Missing:
            try:
                with self._translate(action, absent=absent, **rules):
                    return await request()
            except _Absent as exc:
                return Missing(exc.status)

        try:
            return await retry_async(once, policy=policy or self.policy)
        except NotVisible:
            if 404 in absent:
                return Missing(404)
            raise

    async def optional(
        self, action: str, request: Callable[[], Awaitable[T]], **rules: Any
    ) -> T | None:
        """`request`'s answer, or None when GitHub answers 404."""
        found = await self.answer(action, request, absent=(404,), **rules)
        return None if isinstance(found, Missing) else found

    @contextmanager
    def _translate(
        self,
        action: str,
        *,
        scope: str | None = None,
        not_found: SlipwayError | None = None,
        taken: bool | Callable[[str], bool] = False,
        retry_404: bool = False,
        absent: Collection[int] = (),
        forbidden: SlipwayError | None = None,
    ) -> Iterator[None]:
        """A 404 is retried (`retry_404`) or `not_found`; a refusal is `NameTaken` (`taken`,
        or when `taken` holds for the answer's text); a 403 that is no rate limit is
        `forbidden` when given; a status in `absent` (a rate limit never is) is raised as
        `_Absent`."""
        site = self.site
        try:
            yield
        except RateLimitExceeded as exc:
            limited = classify(429, {}, site=site, action=action)
            error = limited.error if isinstance(limited, Retryable) else limited
            raise Retryable(error, exc.retry_after.total_seconds()) from exc
        except RequestFailed as exc:
            status, headers = exc.response.status_code, exc.response.headers
            if status == 404 and retry_404:
                raise Retryable(NotVisible(site, action)) from exc
            if status in absent and not is_rate_limited(status, headers):
                raise _Absent(status) from exc
            if status in TAKEN_STATUSES and (
                taken(exc.response.text) if callable(taken) else taken
            ):
                raise NameTaken(site, action) from exc
            if status == 403 and forbidden is not None and not is_rate_limited(status, headers):
                raise forbidden from exc
            needed = headers.get("x-accepted-oauth-scopes") or scope
            raise classify(
                status, headers, site=site, action=action, scope=needed, not_found=not_found
            ) from exc
        except RequestError as exc:
            raise site.unreachable(action) from exc
        except (GitHubException, pydantic.ValidationError) as exc:
            raise site.error(
                t(
                    "unexpected answer from GitHub at {url} while trying to {action}",
                    url=site.url,
                    action=action,
                ),
                hint=t("check that the URL points at the GitHub API (GHE: https://HOST/api/v3)"),
            ) from exc
