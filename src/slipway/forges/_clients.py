"""`ForgeClients`: the HTTP clients of one process, one per forge connection, kept open.

A new client costs a TLS context and a connection (about 18 ms for githubkit's, a quarter of
a worker's CPU when built per request); kept open, every REST call and git request of every
project on that connection rides the same keep-alive pool. A connection is the forge kind, its
base URL and a fingerprint of the token, so two tokens never share a client and no key, repr
or log line holds a token.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import httpx
from pydantic import SecretStr

from slipway import __version__, metrics
from slipway.domain.model import ForgeKind
from slipway.retry import CONNECT_TIMEOUT_SECONDS, TIMEOUT_SECONDS

if TYPE_CHECKING:
    from slipway.forges._errors import Site

TIMEOUT: Final = httpx.Timeout(TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
# Every forge request Slipway sends says so, REST and git alike: logs (and the sandbox's
# request log) tell Slipway's traffic from anyone else's.
USER_AGENT: Final = f"slipway/{__version__}"
# GitHub (and Bitbucket) answer smart HTTP only to a User-Agent starting with `git/`, so git
# requests name git first, as libgit2 does, then Slipway as a product of its own.
GIT_USER_AGENT: Final = f"git/2.0 {USER_AGENT}"


@functools.cache
def forge_tls() -> ssl.SSLContext:
    """One TLS context for every forge client of the process: building one (loading the CA
    bundle) costs about 0.1 s of CPU, which a client per request spent on the event loop."""
    return httpx.create_ssl_context()


def json_client(api_url: str) -> httpx.AsyncClient:
    """A client for a JSON API rooted at `api_url`; the token goes in each request, so the
    client itself holds none."""
    return httpx.AsyncClient(
        base_url=api_url.rstrip("/") + "/",
        verify=forge_tls(),
        timeout=TIMEOUT,
        headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        follow_redirects=True,
    )


class MeteredTransport(httpx.AsyncBaseTransport):
    """Counts and times each request of a forge client in `slipway.metrics`, by forge kind,
    method and status class (`error` when no answer came): never its URL, which names a
    project."""

    def __init__(self, inner: httpx.AsyncBaseTransport, kind: ForgeKind) -> None:
        self._inner = inner
        self._kind = kind.value

    async def __aenter__(self) -> MeteredTransport:
        await self._inner.__aenter__()
        return self

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except Exception:
            metrics.observe_forge_request(
                self._kind, request.method, None, time.perf_counter() - started
            )
            raise
        metrics.observe_forge_request(
            self._kind, request.method, response.status_code, time.perf_counter() - started
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def metered(client: httpx.AsyncClient, kind: ForgeKind) -> httpx.AsyncClient:
    """`client`, every request it sends (REST or git, through a proxy or not) counted.

    Wrapped after it is built, because githubkit builds the GitHub client with its own TLS
    and proxy settings, and the environment may add proxy routes: httpx has no public way to
    wrap those transports, so this reaches its `_transport` and `_mounts` (httpx 0.2x)."""
    client._transport = MeteredTransport(client._transport, kind)
    client._mounts = {
        pattern: None if route is None else MeteredTransport(route, kind)
        for pattern, route in client._mounts.items()
    }
    return client


@contextmanager
def map_transport_errors(site: Site, action: str) -> Iterator[None]:
    """httpx's timeouts and connection errors become a Retryable naming the forge."""
    try:
        yield
    except httpx.TransportError as exc:
        raise site.unreachable(action) from exc


@dataclass(frozen=True)
class Connection:
    """Which client a request rides: the forge, its URL and which token (by fingerprint)."""

    kind: ForgeKind
    base_url: str
    fingerprint: str

    @classmethod
    def of(cls, kind: ForgeKind, base_url: str, token: SecretStr) -> Connection:
        """The fingerprint is a prefix of the token's SHA-256: it tells tokens apart and
        cannot be turned back into one."""
        digest = hashlib.sha256(token.get_secret_value().encode()).hexdigest()
        return cls(kind, base_url.rstrip("/"), digest[:16])


class ForgeClients:
    """The forge HTTP clients of one process, built on first use and reused until `aclose`.

    An httpx client's connections belong to the event loop that opened them, so one
    `ForgeClients` serves one event loop at a time: using it from another before `aclose`
    raises RuntimeError instead of handing out dead connections. Adapters given it borrow
    their client and leave it open when they close.
    """

    def __init__(self) -> None:
        self._clients: dict[Connection, httpx.AsyncClient] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(
        self, connection: Connection, build: Callable[[], httpx.AsyncClient]
    ) -> httpx.AsyncClient:
        """The open client for `connection`, made by `build` the first time (or after the
        last one was closed). Call it from the event loop that sends the requests."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                "ForgeClients is in use on another event loop: close it (aclose) first, "
                "or give each event loop its own"
            )
        found = self._clients.get(connection)
        if found is None or found.is_closed:
            found = self._clients[connection] = build()
        return found

    async def aclose(self) -> None:
        """Close every client; the next `client` call builds afresh, on any event loop."""
        clients, self._clients, self._loop = list(self._clients.values()), {}, None
        for client in clients:
            await client.aclose()

    def __len__(self) -> int:
        return len(self._clients)

    def __repr__(self) -> str:
        return f"ForgeClients({len(self._clients)} open)"
