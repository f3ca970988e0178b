"""The one place that wires settings, store, forges, cluster and templates together.

Nothing connects at import; `bootstrap(settings)` builds an `App`, and tests call it with
sandbox URLs. A forge client acts as one stored connection, whose token is decrypted only here.

Clients are async and bound to the event loop that uses them. One-shot use cases (the CLI's
`asyncio.run`) build them per use and close them; the worker's steps run on the process's one
long-lived loop (`App.loop`), where one HTTP client per forge connection and one cluster client
are kept open and reused by every project (keep-alive, no TLS handshake per request).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Final, TypeVar

import structlog
from pydantic import SecretStr
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from slipway import store
from slipway.config import Settings, get_settings
from slipway.domain.errors import ForgeError, ForgeNotConnected, InvalidInput
from slipway.domain.model import ForgeKind
from slipway.domain.text import t
from slipway.forges import Forge, ForgeClients, build_forge, forge_info, refresh_tokens
from slipway.gitops import ClusterClient
from slipway.templates import TemplateCatalog, load_catalog

T = TypeVar("T")

log = structlog.get_logger("slipway.oauth")

# An OAuth token expiring sooner than this is refreshed before it is used.
REFRESH_MARGIN: Final = timedelta(minutes=5)

# A connection's expiry this process read is trusted this long without reading it again: its
# own writes are seen at once (`_ExpiryCache`), another process's within this bound.
EXPIRY_RECHECK_SECONDS: Final = 60.0

# Told a connection's ID once this process stored a refreshed token for it (the service layer
# registers the re-apply of the git Secrets that carry the token).
TokenListener = Callable[["App", int], Awaitable[None]]


@dataclass
class App:
    settings: Settings
    engine: Engine
    sessions: store.SessionFactory
    cipher: store.TokenCipher
    # One refresh at a time per connection in this process (a refresh token works once).
    _refreshing: dict[int, threading.Lock] = field(default_factory=dict, init=False, repr=False)
    token_listeners: list[TokenListener] = field(default_factory=list, init=False, repr=False)
    _expiry: _ExpiryCache = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._expiry = _ExpiryCache(self.sessions)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error."""
        with store.unit_of_work(self.sessions) as session:
            yield session

    @cached_property
    def installation(self) -> str:
        """This installation's ID (`store.installation_id`), read once per process."""
        with self.session() as session:
            return store.installation_id(session)

    @cached_property
    def catalog(self) -> TemplateCatalog:
        return load_catalog(self.settings.templates_path)

    def forge_url(self, kind: ForgeKind) -> str:
        """The configured URL of `kind` (SLIPWAY_<FORGE>_URL), else the forge's default."""
        url = self.settings.forge_urls.get(kind) or forge_info(kind).default_url
        if not url:
            raise InvalidInput(
                "forge_url",
                t("no server URL is configured for {forge}", forge=kind.value),
                hint=t(
                    "set SLIPWAY_{upper}_URL or pass --url to `slipway forge connect {forge}`",
                    upper=kind.value.upper(),
                    forge=kind.value,
                ),
            )
        return url.rstrip("/")

    def configured_token(self, kind: ForgeKind) -> SecretStr | None:
        """SLIPWAY_FORGE_TOKEN, which stands for the default forge (SLIPWAY_FORGE) only."""
        return self.settings.forge_token if kind == self.settings.forge else None

    def forge(
        self,
        kind: ForgeKind,
        *,
        connection_id: int | None,
        step: str | None = None,
        clients: ForgeClients | None = None,
        login: str | None = None,
    ) -> Forge:
        """A client for `kind` acting as the stored connection `connection_id`, or (None) with
        the configured SLIPWAY_FORGE_TOKEN (whose account is `login`, when known);
        `ForgeNotConnected` when neither exists. With `clients` it borrows their HTTP client
        for the connection instead of opening one."""
        if connection_id is not None:
            with self.session() as session:
                stored = store.load_forge_credentials(
                    session, connection_id=connection_id, cipher=self.cipher
                )
            url, token, login = stored.url, stored.token, stored.login
        else:
            configured = self.configured_token(kind)
            if configured is None:
                raise ForgeNotConnected(kind.value, self.forge_url(kind))
            url, token = self.forge_url(kind), configured
        return build_forge(
            kind,
            base_url=url,
            token=token,
            login=login,
            step=step,
            push=self.settings.push,
            clients=clients,
        )

    async def refresh_if_expiring(self, connection_id: int) -> bool:
        """Refreshes a stored OAuth token that expires within REFRESH_MARGIN and stores the
        new pair (encrypted) before anything uses it; True when the token changed. Clients
        built afterwards carry the new token (ForgeClients keys by its fingerprint). A
        connection without a refresh token, or not expiring, is left alone; a refresh the
        forge refuses or cannot answer raises `ForgeError` only once the token has expired.
        After a refresh made here, `token_listeners` are awaited (their failures logged).

        A connection read as far from expiry is not read again until it nears it, for at most
        EXPIRY_RECHECK_SECONDS, or until this process writes its row (`_ExpiryCache`)."""
        if self._expiry.far(connection_id):
            return False  # known not to need a refresh: no read for a step's client
        version = self._expiry.version(connection_id)
        with self.session() as session:
            expires_at, refreshable = store.token_expiry(session, connection_id=connection_id)
        if not _expiring(expires_at) or not refreshable:
            self._expiry.remember(connection_id, expires_at, refreshable, version)
            return False
        lock = self._refreshing.setdefault(connection_id, threading.Lock())
        # Polled: an asyncio primitive belongs to one event loop and this lock spans the
        # process's loops; a thread blocked in acquire() would hold it after a cancellation.
        while not lock.acquire(blocking=False):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        try:
            changed, here = await self._refresh(connection_id)
        finally:
            lock.release()
        if here:
            await self._tell_listeners(connection_id)
        return changed

    async def _tell_listeners(self, connection_id: int) -> None:
        for listener in list(self.token_listeners):
            try:
                await listener(self, connection_id)
            except Exception as exc:  # a refresh stands even when what follows it fails
                log.warning(
                    "oauth.token_listener_failed",
                    connection_id=connection_id,
                    error=type(exc).__name__,
                )

    async def _refresh(self, connection_id: int) -> tuple[bool, bool]:
        """Whether the token changed, and whether this call changed it."""
        with self.session() as session:
            stored = store.load_forge_refresh(
                session, connection_id=connection_id, cipher=self.cipher
            )
        if stored is None or not _expiring(stored.expires_at):
            return stored is not None, False  # refreshed meanwhile, by whoever held the lock
        kind = stored.provider
        client = self.settings.oauth_client(kind)
        if client is None:
            if stored.expires_at is not None and stored.expires_at > datetime.now(UTC):
                return False, False  # still good for a while; nothing can renew it here
            raise ForgeError(
                t(
                    "the {forge} OAuth token of this connection expired and this "
                    "installation has no OAuth application to refresh it",
                    forge=kind.value,
                ),
                system=kind.value,
                hint=t(
                    "set SLIPWAY_{upper}_OAUTH_CLIENT_ID and "
                    "SLIPWAY_{upper}_OAUTH_CLIENT_SECRET, or connect the forge "
                    "again",
                    upper=kind.value.upper(),
                ),
            )
        client_id, client_secret = client
        try:
            tokens = await refresh_tokens(
                kind,
                stored.url,
                client_id=client_id,
                client_secret=client_secret,
                refresh_token=stored.refresh_token,
                scopes=stored.scopes,
            )
        except ForgeError:
            # Another process may have used the refresh token first: its pair is stored.
            with self.session() as session:
                now_expires, _ = store.token_expiry(session, connection_id=connection_id)
            if now_expires != stored.expires_at:
                return True, False
            if stored.expires_at is not None and stored.expires_at > datetime.now(UTC):
                return False, False  # the token still works: use it, and try again next time
            raise
        with self.session() as session:
            store.update_forge_tokens(
                session,
                connection_id=connection_id,
                token=tokens.access_token,
                refresh_token=tokens.refresh_token,
                expires_at=tokens.expires_at,
                cipher=self.cipher,
                scopes=tokens.scopes,
            )
        return True, True

    def cluster(self) -> ClusterClient:
        return ClusterClient.from_settings(self.settings)

    @cached_property
    def loop(self) -> ProcessLoop:
        return ProcessLoop(self)

    def close(self) -> None:
        if "loop" in self.__dict__:
            self.loop.close()
        self.engine.dispose()


@dataclass(frozen=True)
class _KnownExpiry:
    expires_at: datetime | None
    refreshable: bool
    read_at: float  # time.monotonic() of the read


class _ExpiryCache:
    """What `refresh_if_expiring` last read of each connection, so the steps' clients of a
    token far from expiry read nothing. Every commit through the App's sessions that wrote a
    connection row (connect, disconnect, refresh, whatever the code path) forgets that
    connection, and a read older than EXPIRY_RECHECK_SECONDS is not trusted: another process
    (`slipway forge connect` beside `serve`) may have replaced the token. A read that began
    before such a commit is not kept (`version`)."""

    def __init__(self, sessions: store.SessionFactory) -> None:
        self._lock = threading.Lock()
        self._known: dict[int, _KnownExpiry] = {}
        self._versions: dict[int, int] = {}
        event.listen(sessions, "after_flush", self._written)
        event.listen(sessions, "after_commit", self._committed)

    def far(self, connection_id: int) -> bool:
        """Read recently enough, and not expiring (or not refreshable) for a while yet."""
        with self._lock:
            known = self._known.get(connection_id)
        if known is None or time.monotonic() - known.read_at > EXPIRY_RECHECK_SECONDS:
            return False
        if not known.refreshable:
            # Nothing to refresh; an expiring one is read again, so it raises when it must.
            return known.expires_at is None or not _expiring(known.expires_at)
        return not _expiring(known.expires_at)

    def version(self, connection_id: int) -> int:
        with self._lock:
            return self._versions.get(connection_id, 0)

    def remember(
        self, connection_id: int, expires_at: datetime | None, refreshable: bool, version: int
    ) -> None:
        with self._lock:
            if self._versions.get(connection_id, 0) == version:
                self._known[connection_id] = _KnownExpiry(expires_at, refreshable, time.monotonic())

    def forget(self, connection_ids: set[int]) -> None:
        with self._lock:
            for connection_id in connection_ids:
                self._known.pop(connection_id, None)
                self._versions[connection_id] = self._versions.get(connection_id, 0) + 1

    def _written(self, session: Session, _context: object) -> None:
        touched = {
            obj.id
            for obj in (*session.new, *session.dirty, *session.deleted)
            if isinstance(obj, store.ForgeConnection) and obj.id is not None
        }
        if touched:
            session.info.setdefault("slipway_connections", set()).update(touched)
            self.forget(touched)  # a read meanwhile sees the old row: not kept either

    def _committed(self, session: Session) -> None:
        touched = session.info.pop("slipway_connections", None)
        if touched:
            self.forget(touched)


class ProcessLoop:
    """The process's one long-lived event loop (a daemon thread, started on first use) and the
    clients that live on it, shared by every project a worker runs.

    Steps run in DBOS's threads and hand their network work here with `run`; they never build
    or close a client themselves.
    """

    def __init__(self, app: App) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._forge_clients: ForgeClients | None = None
        self._cluster: ClusterClient | None = None
        self._logins: dict[ForgeKind, str] = {}

    def run(self, work: Callable[[ProcessLoop], Awaitable[T]]) -> T:
        """Runs `work(self)` on the loop and waits for its result (or exception)."""
        loop = self._started()

        async def call() -> T:
            return await work(self)

        return asyncio.run_coroutine_threadsafe(call(), loop).result()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name="slipway-io", daemon=True
                )
                self._thread.start()
                self._loop = loop
            return self._loop

    async def forge(self, kind: ForgeKind, *, connection_id: int | None, step: str) -> Forge:
        """A forge client over this loop's HTTP client for the connection. The configured
        token (no stored connection, so no stored account) has its account read once per
        process, not once per project."""
        if self._forge_clients is None:
            self._forge_clients = ForgeClients()
        app, clients = self._app, self._forge_clients
        if connection_id is not None:
            await app.refresh_if_expiring(connection_id)
            return app.forge(kind, connection_id=connection_id, step=step, clients=clients)
        if kind not in self._logins:
            anonymous = app.forge(kind, connection_id=None, step=step, clients=clients)
            self._logins[kind] = (await anonymous.validate_token()).login
        login = self._logins[kind]
        return app.forge(kind, connection_id=None, step=step, clients=clients, login=login)

    @property
    def cluster(self) -> ClusterClient:
        """The one cluster client of this loop (use it only from work run by `run`)."""
        if self._cluster is None:
            self._cluster = self._app.cluster()
        return self._cluster

    def close(self) -> None:
        """Closes the clients, then stops the loop; a no-op when it never started."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is None:
            return

        async def close_clients() -> None:
            # Work still running belongs to steps abandoned by a stopped worker: cancel it,
            # so their threads end instead of waiting on a loop that is going away.
            running = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            if self._cluster is not None:
                await self._cluster.aclose()
            if self._forge_clients is not None:
                await self._forge_clients.aclose()

        try:
            asyncio.run_coroutine_threadsafe(close_clients(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=10)
            loop.close()
            self._cluster = self._forge_clients = None


def _expiring(expires_at: datetime | None) -> bool:
    return expires_at is not None and expires_at - datetime.now(UTC) <= REFRESH_MARGIN


def bootstrap(settings: Settings | None = None, *, migrate: bool = True) -> App:
    """Builds the application; with `migrate`, brings the database schema up to date first."""
    settings = settings or get_settings()
    url = settings.sqlalchemy_url
    if migrate:
        store.migrate(url)
    engine = store.create_engine_for(url)
    return App(
        settings=settings,
        engine=engine,
        sessions=store.session_factory(engine),
        cipher=store.load_or_create_key(settings.data_dir, settings.secret_key),
    )
