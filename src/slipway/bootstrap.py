"""The one place that wires settings, store, forges, cluster and templates together.

Nothing connects at import; `bootstrap(settings)` builds an `App`, and tests call it with
sandbox URLs. Forge clients and cluster clients are made per use (they are async and bound
to the event loop that uses them); a forge client acts as one stored connection, whose token
is decrypted only here.
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
from slipway.forges import Forge, build_forge, forge_info
from slipway.gitops import ClusterClient
from slipway.templates import TemplateCatalog, load_catalog


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
        """The configured URL of `kind` (SLIPWAY_<FORGE>_URL), else the forge's default."""
        url = self.settings.forge_urls.get(kind) or forge_info(kind).default_url
        if not url:
            raise InvalidInput(
                "forge_url",
                f"no server URL is configured for {kind.value}",
                hint=f"set SLIPWAY_{kind.value.upper()}_URL or pass --url to "
                f"`slipway forge connect {kind.value}`",
            )
        return url.rstrip("/")

    def configured_token(self, kind: ForgeKind) -> SecretStr | None:
        """SLIPWAY_FORGE_TOKEN, which stands for the default forge (SLIPWAY_FORGE) only."""
        return self.settings.forge_token if kind == self.settings.forge else None

    def forge(
        self, kind: ForgeKind, *, connection_id: int | None, step: str | None = None
    ) -> Forge:
        """A client for `kind` acting as the stored connection `connection_id`, or (None) with
        the configured SLIPWAY_FORGE_TOKEN; `ForgeNotConnected` when neither exists."""
        if connection_id is not None:
            with self.session() as session:
                url, token = store.load_forge_credentials(
                    session, connection_id=connection_id, cipher=self.cipher
                )
            return build_forge(kind, base_url=url, token=token, step=step)
        configured = self.configured_token(kind)
        if configured is not None:
            return build_forge(kind, base_url=self.forge_url(kind), token=configured, step=step)
        raise ForgeNotConnected(kind.value, self.forge_url(kind))

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
