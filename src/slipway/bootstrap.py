"""The one place that wires settings, store, forges, cluster and templates together.

Nothing connects at import; `bootstrap(settings)` builds an `App`, and tests call it with
sandbox URLs. Forge clients and cluster clients are made per use (they are async and bound
to the event loop that uses them), from the stored, encrypted forge token.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from slipway import store
from slipway.config import Settings, get_settings
from slipway.domain.errors import ForgeNotConnected, InvalidInput
from slipway.domain.model import ForgeKind
from slipway.forges import Forge, build_forge
from slipway.gitops import ClusterClient
from slipway.templates import TemplateCatalog, load_catalog


@dataclass(frozen=True)
class ForgeAccess:
    """Where a forge is and the token to use there (the token never leaves a SecretStr)."""

    kind: ForgeKind
    base_url: str
    token: SecretStr
    account: str | None
    connection_id: int | None


@dataclass
class App:
    settings: Settings
    engine: Engine
    sessions: store.SessionFactory
    cipher: store.TokenCipher

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error."""
        with store.unit_of_work(self.sessions) as session:
            yield session

    @cached_property
    def catalog(self) -> TemplateCatalog:
        return load_catalog(self.settings.templates_path)

    def forge_url(self, kind: ForgeKind) -> str:
        urls = {
            ForgeKind.GITHUB: self.settings.github_url,
            ForgeKind.GITLAB: self.settings.gitlab_url,
            ForgeKind.GITEA: self.settings.gitea_url,
        }
        url = urls[kind]
        if not url:
            raise InvalidInput(
                "forge_url",
                f"no server URL is configured for {kind.value}",
                hint=f"set SLIPWAY_{kind.value.upper()}_URL or pass --url to "
                f"`slipway forge connect {kind.value}`",
            )
        return url.rstrip("/")

    def forge_access(self, kind: ForgeKind) -> ForgeAccess:
        """The stored connection for `kind` at its configured URL, else SLIPWAY_FORGE_TOKEN."""
        base_url = self.forge_url(kind)
        with self.session() as session:
            connection = store.get_forge_connection(session, provider=kind, server_url=base_url)
            if connection is not None:
                token = store.load_forge_token(
                    session, connection_id=connection.id, cipher=self.cipher
                )
                return ForgeAccess(kind, base_url, token, connection.account_name, connection.id)
        if self.settings.forge_token is not None and kind == self.settings.forge:
            return ForgeAccess(kind, base_url, self.settings.forge_token, None, None)
        raise ForgeNotConnected(
            f"no {kind.value} connection for {base_url}",
            system=kind.value,
            hint=f"connect one with `slipway forge connect {kind.value} --token-stdin`",
        )

    def forge(self, kind: ForgeKind, *, step: str | None = None) -> Forge:
        access = self.forge_access(kind)
        return build_forge(kind, base_url=access.base_url, token=access.token, step=step)

    def cluster(self) -> ClusterClient:
        return ClusterClient.from_settings(self.settings)

    def close(self) -> None:
        self.engine.dispose()


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
