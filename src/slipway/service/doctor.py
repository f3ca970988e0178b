"""`doctor`: every preflight check of the cluster and the default forge, each with its fix."""

from __future__ import annotations

from slipway.bootstrap import App
from slipway.domain.errors import CheckResult, SlipwayError
from slipway.gitops import run_preflight
from slipway.service.forges import check_forge


async def doctor(app: App) -> list[CheckResult]:
    """Cluster preflight plus the default forge's token; never raises for a failed check."""
    try:
        cluster = app.cluster()
    except SlipwayError as exc:
        checks = [CheckResult("Kubernetes API", False, exc.message, exc.hint)]
    else:
        async with cluster:
            checks = await run_preflight(cluster)
    return [*checks, await check_forge(app, app.settings.forge)]
