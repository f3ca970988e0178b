"""OAuth tokens kept fresh when nobody uses them, and the cluster kept holding the current one.

A `--git-auth token` project's git Secret carries its connection's forge token; a refresh
revokes the old token, so after any refresh (`App.refresh_if_expiring`, wherever it runs)
`propagate_refresh` re-applies those Secrets at once. The leader of the status sync also runs
a `TokenRefresher`: every pass it refreshes each OAuth token about to expire, and re-applies
every Secret whose token it has not applied yet in its term (a propagation that failed
elsewhere, or here, is retried by the next pass). Only the Secret is applied (server-side,
field manager `slipway`), built by the same `gitops.manifests.build` creation uses.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import structlog

from slipway import store
from slipway.bootstrap import REFRESH_MARGIN, App
from slipway.domain.errors import SlipwayError
from slipway.domain.model import GitAuthMethod, ProjectStatus
from slipway.domain.names import ResourceKind
from slipway.gitops import BasicAuth, ClusterClient
from slipway.gitops.manifests import build
from slipway.pipeline.steps import environment_specs
from slipway.store.models import Project

log = structlog.get_logger("slipway.oauth")

REFRESH_PASS_SECONDS: Final = 60.0
# A project in these states has had its environments applied: its Secret exists to update.
_APPLIED: Final = frozenset({ProjectStatus.ACTIVE, ProjectStatus.DEGRADED})


@dataclass(frozen=True)
class TokenProject:
    """A project whose Flux reads with its connection's token, and where from."""

    project: Project
    connection_id: int
    clone_url: str
    branch: str
    fingerprint: str  # of the connection's token when listed (never the token)


def watch_token_refreshes(app: App) -> None:
    """Registers `propagate_refresh` with `app` (once): every refresh this process makes is
    followed by its Secrets."""
    if propagate_refresh not in app.token_listeners:
        app.token_listeners.append(propagate_refresh)


async def propagate_refresh(app: App, connection_id: int) -> None:
    """The Secrets of the token projects acting as `connection_id`, applied with its current
    token; failures are logged (the leader's next pass tries again)."""
    projects = await asyncio.to_thread(token_projects, app, connection_id)
    if not projects:
        return
    try:
        async with app.cluster() as cluster:
            await apply_token_secrets(app, cluster, projects)
    except SlipwayError as exc:  # no cluster configured or reachable
        log.warning("oauth.token_secrets_failed", connection_id=connection_id, error=str(exc))


def token_projects(app: App, connection_id: int | None = None) -> list[TokenProject]:
    """Every applied `--git-auth token` project acting as a stored connection (only
    `connection_id`'s when given), with its repository and its token's fingerprint."""
    found: list[TokenProject] = []
    fingerprints: dict[int, str] = {}
    with app.session() as session:
        for project in store.list_projects(session):
            cid = project.forge_connection_id
            if (
                project.git_auth is not GitAuthMethod.TOKEN
                or project.status not in _APPLIED
                or cid is None
                or (connection_id is not None and cid != connection_id)
            ):
                continue
            repository = store.get_repository(session, project_id=project.id)
            if repository is None:
                continue
            if cid not in fingerprints:
                try:
                    token = store.load_forge_token(session, connection_id=cid, cipher=app.cipher)
                except SlipwayError:
                    continue  # removed meanwhile, or a key that no longer decrypts it
                fingerprints[cid] = _fingerprint(token.get_secret_value())
            found.append(
                TokenProject(
                    project, cid, repository.clone_url, repository.default_branch, fingerprints[cid]
                )
            )
    return found


async def apply_token_secrets(
    app: App, cluster: ClusterClient, projects: list[TokenProject]
) -> dict[int, str]:
    """Each project's git Secret in every environment, applied with its connection's current
    token; returns project ID -> fingerprint of the token applied, for those that succeeded."""
    applied: dict[int, str] = {}
    credentials: dict[int, BasicAuth | None] = {}
    for item in projects:
        project, cid = item.project, item.connection_id
        if cid not in credentials:
            credentials[cid] = await _credentials(app, project, cid)
        auth = credentials[cid]
        if auth is None:
            continue
        try:
            specs = environment_specs(project, app.installation, item.clone_url, item.branch, auth)
            await asyncio.gather(
                *(cluster.apply_object(build(ResourceKind.SECRET, spec)) for spec in specs)
            )
        except SlipwayError as exc:
            log.warning("oauth.token_secret_failed", project=project.name, error=str(exc))
            continue
        applied[project.id] = _fingerprint(auth.password.get_secret_value())
    return applied


async def _credentials(app: App, project: Project, connection_id: int) -> BasicAuth | None:
    """The git username and current token of the connection, as the creation step gets them."""
    try:
        forge = app.forge(project.forge, connection_id=connection_id)
    except SlipwayError as exc:
        log.warning("oauth.token_unreadable", connection_id=connection_id, error=str(exc))
        return None
    try:
        token = forge.git_credentials()
        return BasicAuth(username=token.username, password=token.password)
    finally:
        await forge.aclose()


def expiring_connections(app: App) -> list[int]:
    """The stored OAuth connections whose token expires within the refresh margin."""
    soon = datetime.now(UTC) + REFRESH_MARGIN
    with app.session() as session:
        return [
            c.id
            for c in store.list_forge_connections(session)
            if c.expires_at is not None
            and c.encrypted_refresh_token is not None
            and c.expires_at <= soon
        ]


class TokenRefresher:
    """Runs on the process's event loop beside the status sync and acts only while it leads
    (`leading`); every `every` seconds one pass (`run_pass`)."""

    def __init__(
        self, app: App, *, leading: Callable[[], bool], every: float = REFRESH_PASS_SECONDS
    ) -> None:
        self._app, self._leading, self._every = app, leading, every
        self._task: asyncio.Task[None] | None = None
        self._applied: dict[int, str] = {}  # project ID -> fingerprint applied this term
        self.passes = 0

    async def start(self, cluster: ClusterClient) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(cluster), name="slipway-token-refresh"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self, cluster: ClusterClient) -> None:
        while True:
            if self._leading():
                try:
                    await self.run_pass(cluster)
                except Exception as exc:  # the database, say: the next pass tries again
                    log.warning("oauth.refresh_pass_failed", error=type(exc).__name__)
            else:
                self._applied.clear()  # another process may have led meanwhile
            await asyncio.sleep(self._every)

    async def run_pass(self, cluster: ClusterClient) -> None:
        """Refreshes every token about to expire, then applies each token project's Secret
        whose current token this term has not applied yet."""
        app = self._app
        for connection_id in await asyncio.to_thread(expiring_connections, app):
            try:
                await app.refresh_if_expiring(connection_id)
            except SlipwayError as exc:
                log.warning("oauth.refresh_failed", connection_id=connection_id, error=str(exc))
        projects = await asyncio.to_thread(token_projects, app)
        stale = [p for p in projects if self._applied.get(p.project.id) != p.fingerprint]
        if stale:
            self._applied.update(await apply_token_secrets(app, cluster, stale))
        self.passes += 1


def _fingerprint(token: str) -> str:
    """Tells tokens apart without keeping one."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]
