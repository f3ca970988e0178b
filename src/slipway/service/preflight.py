"""Preflight before anything is recorded: the one function `create`, `--dry-run` and `doctor`
call. It asks the forge (the token is valid and has the scopes Slipway needs; the repository
name is free, or this project's own) and the cluster (reachable, Flux installed, the RBAC
Slipway needs; no namespace owned by someone else), both at once, and the database (no
namespace recorded for another project). Each problem is one `CheckResult`; the workflow's
in-run preflight stays, because things change between a request and its run."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from slipway import store
from slipway.bootstrap import App
from slipway.domain.errors import (
    CheckResult,
    Conflict,
    PreflightFailed,
    SlipwayError,
    failed_checks,
)
from slipway.domain.model import ForgeKind, ProjectSpec, Step
from slipway.domain.names import ResourceNames
from slipway.domain.text import join, t
from slipway.forges import Account, Connection, Repository
from slipway.gitops import (
    ADOPT_HINT,
    EnvironmentClaim,
    check_ownership,
    remembered_preflight,
    run_preflight,
)
from slipway.service.forges import ForgeIdentity, open_forge, scope_problem

STEP = Step.CREATE_PROJECT.value
# How long a token found valid, with its scopes, is believed without asking again (as the
# cluster's preflight pass): a busy service asks the forge once a minute, not per project.
ACCOUNT_TTL = 60.0


class _RememberedAccounts:
    """Tokens found valid with the scopes Slipway needs, by forge, URL and token fingerprint."""

    def __init__(self) -> None:
        self._seen: dict[Connection, tuple[float, Account]] = {}

    def get(self, key: Connection, *, fresh: bool) -> Account | None:
        seen = self._seen.get(key)
        if fresh or seen is None or time.monotonic() - seen[0] > ACCOUNT_TTL:
            return None
        return seen[1]

    def remember(self, key: Connection, account: Account) -> None:
        self._seen[key] = (time.monotonic(), account)


_accounts = _RememberedAccounts()
CLUSTER = "Kubernetes API"
NAMESPACES = "namespaces"


async def preflight(
    app: App,
    kind: ForgeKind,
    identity: ForgeIdentity,
    spec: ProjectSpec | None = None,
    *,
    adopt: bool = False,
    fresh: bool = False,
) -> list[CheckResult]:
    """Every check, each with its fix; never raises for a failed one. Without `spec` (doctor)
    only the forge account and the cluster are checked. A cluster pass is remembered for a
    minute unless `fresh`."""
    forge, cluster = await asyncio.gather(
        _forge_checks(app, kind, identity, spec, adopt=adopt),
        run_cluster_checks(app, spec, adopt=adopt, fresh=fresh),
    )
    recorded = await asyncio.to_thread(_recorded_namespaces, app, spec) if spec is not None else []
    if recorded:  # the database already names the project: the cluster's line adds nothing
        cluster = [c for c in cluster if c.name != NAMESPACES]
    return [*forge, *recorded, *cluster]


def raise_for_problems(checks: Sequence[CheckResult]) -> None:
    """`Conflict` (exit 4) when every problem is someone else owning a name or a namespace,
    else `PreflightFailed` (exit 5); one short line per problem, the first real causes only."""
    failed = failed_checks(checks)
    if not failed:
        return
    if all(c.conflict for c in failed):
        raise Conflict(
            join("; ", [c.detail for c in failed]),
            step=STEP,
            system="preflight",
            hint=join("; ", fixes)
            if (fixes := list(dict.fromkeys(c.fix for c in failed if c.fix)))
            else None,
        )
    raise PreflightFailed(failed, step=STEP)


async def _forge_checks(
    app: App,
    kind: ForgeKind,
    identity: ForgeIdentity,
    spec: ProjectSpec | None,
    *,
    adopt: bool,
) -> list[CheckResult]:
    name = f"forge {kind.value}"
    try:
        async with open_forge(app, kind, identity, step=STEP) as forge:
            key = forge.connection
            account = _accounts.get(key, fresh=spec is None)
            if account is None:
                account = await forge.validate_token()
                problem = scope_problem(kind, account)
                if problem is not None:
                    return [CheckResult(name, False, *problem)]
                _accounts.remember(key, account)
            checks = [CheckResult(name, True, t("token valid for {login}", login=account.login))]
            if spec is None:
                return checks
            owner = spec.owner or account.login  # known: the adapter need not read it again
            found = await forge.find_repository(owner=owner, name=spec.slug)
            # A repository left by a deleted project of this name: the team's commits on it
            # would stop the push after the project is recorded; say so now instead.
            refused = None
            if (
                found is not None
                and (found.project, found.installation) == (spec.slug, app.installation)
                and not adopt
            ):
                try:
                    await forge.check_branch(found, spec.name)
                except Conflict as exc:
                    refused = exc
    except SlipwayError as exc:
        return [CheckResult(name, False, exc.message, exc.hint)]
    return [*checks, _repository_check(app, spec, found, refused, adopt=adopt)]


def _repository_check(
    app: App, spec: ProjectSpec, found: Repository | None, refused: Conflict | None, *, adopt: bool
) -> CheckResult:
    """The name is free, or the repository is this project's own (a re-run) with nothing on
    its branch Slipway would not write over, or with `adopt` this project's from another
    installation; anything else is in the way."""
    name = "repository name"
    if found is None:
        return CheckResult(name, True, t("{slug} is free", slug=spec.slug))
    full_name, project, installation = found.full_name, found.project, found.installation
    if refused is not None:  # the push's own refusal, said before anything is recorded
        return CheckResult(name, False, refused.message, refused.hint, conflict=True)
    if project == spec.slug and (installation == app.installation or adopt):
        return CheckResult(name, True, t("{full_name} is this project's own", full_name=full_name))
    if project == spec.slug:
        other = installation or t("an older one, without an ID")
        return CheckResult(
            name,
            False,
            t(
                "repository {full_name} belongs to project '{project}' of "
                "another Slipway installation ({other})",
                full_name=full_name,
                project=project,
                other=other,
            ),
            ADOPT_HINT,
            conflict=True,
        )
    whose = t("project '{project}'", project=project) if project else t("no Slipway project")
    return CheckResult(
        name,
        False,
        t(
            "repository {full_name} already exists and belongs to {whose}",
            full_name=full_name,
            whose=whose,
        ),
        t("choose another project name or --owner; Slipway leaves that repository as is"),
        conflict=True,
    )


def _recorded_namespaces(app: App, spec: ProjectSpec) -> list[CheckResult]:
    """A namespace this installation recorded for another project: the Conflict the insert
    would raise (`store.namespace_conflict`), found before anything is created."""
    namespaces = [ResourceNames(spec.slug, env).namespace for env in spec.environments]
    with app.session() as session:
        conflict = store.namespace_conflict(session, namespaces=namespaces, project=spec.name)
    if conflict is None:
        return []
    return [CheckResult("namespace", False, conflict.message, conflict.hint, conflict=True)]


async def run_cluster_checks(
    app: App, spec: ProjectSpec | None = None, *, adopt: bool = False, fresh: bool = True
) -> list[CheckResult]:
    """The cluster's checks, and with `spec` the ownership of its namespaces."""
    try:
        cluster = app.cluster()
    except SlipwayError as exc:
        return [CheckResult(CLUSTER, False, exc.message, exc.hint)]
    async with cluster:
        checks = await (run_preflight(cluster) if fresh else remembered_preflight(cluster))
        if failed_checks(checks) or spec is None:
            return checks
        claims = [EnvironmentClaim(spec.slug, env, app.installation) for env in spec.environments]
        try:
            await check_ownership(cluster, claims, adopt=adopt, step=STEP)
        except Conflict as exc:
            return [*checks, CheckResult(NAMESPACES, False, exc.message, exc.hint, conflict=True)]
        except SlipwayError as exc:
            return [*checks, CheckResult(NAMESPACES, False, exc.message, exc.hint)]
    return checks
