"""`doctor`: this installation's ID, then the same preflight `create` runs (the default
forge's token and scopes, the cluster), each failed check with its fix."""

from __future__ import annotations

from slipway.bootstrap import App
from slipway.domain.errors import CheckResult, SlipwayError
from slipway.domain.text import t
from slipway.service.forges import forge_identity
from slipway.service.preflight import preflight, run_cluster_checks


async def doctor(app: App) -> list[CheckResult]:
    """Never raises for a failed check."""
    installation = CheckResult(
        "installation",
        True,
        t(
            "{installation} (on repository markers and cluster labels)",
            installation=app.installation,
        ),
    )
    kind = app.settings.forge
    try:
        identity = forge_identity(app, kind)
    except SlipwayError as exc:
        forge = CheckResult(f"forge {kind.value}", False, exc.message, exc.hint)
        return [installation, *await run_cluster_checks(app), forge]
    return [installation, *await preflight(app, kind, identity, fresh=True)]
