"""OAuth tokens kept fresh when nobody uses them, and the cluster kept holding the current one.

A `--git-auth token` project's git Secret carries its connection's forge token; a refresh
revokes the old token, so after any refresh (`App.refresh_if_expiring`, wherever it runs)
`propagate_refresh` re-applies those Secrets at once. The leader of the status sync also runs
a `TokenRefresher`: every pass it refreshes each OAuth token about to expire, and re-applies
every Secret whose token it has not applied yet in its term (a propagation that failed
elsewhere, or here, is retried by the next pass). Only the Secret is applied (server-side,
field manager `slipway`), built by the same `gitops.manifests.build` creation uses.

Both reads are filtered in SQL (`store.token_secrets`): a pass reads only the connections to
refresh and the token projects' rows, and tells a connection's tokens apart by a digest of
the stored ciphertext, so it decrypts a token only to apply it. A project still in a run
(`initializing`) whose Secret was applied is covered too, and applied again on every pass
until the run ends: its GitOps step may have read the token just before a refresh revoked it
and write it after this pass applied the new one, which no fingerprint would show.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from typing import Final

import structlog

from slipway.bootstrap import REFRESH_MARGIN, App
from slipway.domain.errors import SlipwayError
from slipway.domain.names import ResourceKind
from slipway.gitops import BasicAuth, ClusterClient
from slipway.gitops.manifests import build
from slipway.pipeline.steps import environment_specs
from slipway.store.models import Project
from slipway.store.token_secrets import (
    TokenSecretProject,
    expiring_connection_ids,
    token_secret_projects,
)

log = structlog.get_logger("slipway.oauth")

REFRESH_PASS_SECONDS: Final = 60.0


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


def token_projects(app: App, connection_id: int | None = None) -> list[TokenSecretProject]:
    """Every `--git-auth token` project acting as a stored connection (only `connection_id`'s
    when given) whose Secret was applied, with its repository and its token's version."""
    with app.session() as session:
        return token_secret_projects(session, connection_id=connection_id)


async def apply_token_secrets(
    app: App, cluster: ClusterClient, projects: list[TokenSecretProject]
) -> dict[int, str]:
    """Each project's git Secret in every environment, applied with its connection's current
    token; returns project ID -> the token version listed with it, for those that succeeded
    (the token applied was read after the listing: that version or a newer one)."""
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
        applied[project.id] = item.token_version
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
    with app.session() as session:
        return expiring_connection_ids(session, before=datetime.now(UTC) + REFRESH_MARGIN)


class TokenRefresher:
    """Runs on the process's event loop beside the status sync and acts only while it leads
    (`leading`); every `every` seconds one pass (`run_pass`)."""

    def __init__(
        self, app: App, *, leading: Callable[[], bool], every: float = REFRESH_PASS_SECONDS
    ) -> None:
        self._app, self._leading, self._every = app, leading, every
        self._task: asyncio.Task[None] | None = None
        self._applied: dict[int, str] = {}  # project ID -> token version applied this term
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
        whose current token this term has not applied yet, and every running project's."""
        app = self._app
        for connection_id in await asyncio.to_thread(expiring_connections, app):
            try:
                await app.refresh_if_expiring(connection_id)
            except SlipwayError as exc:
                log.warning("oauth.refresh_failed", connection_id=connection_id, error=str(exc))
        projects = await asyncio.to_thread(token_projects, app)
        stale = [
            p for p in projects if p.running or self._applied.get(p.project.id) != p.token_version
        ]
        if stale:
            applied = await apply_token_secrets(app, cluster, stale)
            # A running project is applied again next pass (see the module's docstring).
            running = {p.project.id for p in stale if p.running}
            self._applied.update((k, v) for k, v in applied.items() if k not in running)
        self.passes += 1
