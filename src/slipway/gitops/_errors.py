"""Turns lightkube/httpx2 failures into Slipway's errors, inside the adapter (httpx's
`map_httpcore_exceptions`). Messages are built from names Slipway knows (verb, kind, object,
namespace, user, cluster URL) plus parsed, value-free parts of the server's Status: never from
a request body, so a Secret's data cannot reach an error.

    401            -> ClusterError (credentials rejected)
    403            -> ClusterError naming user, verb and resource
    404 Flux kind  -> FluxNotInstalled (a ClusterError) with `flux install`
    404 other      -> NotFound
    409            -> Conflict naming the other field manager(s)
    429, 5xx       -> slipway.retry.Retryable(ClusterError)
    closed unanswered -> slipway.retry.Retryable(ClusterError) (a kept-alive connection)
    no connection  -> ClusterError naming the cluster URL
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
from lightkube import ApiError

from slipway.domain.errors import ClusterError, Conflict, NotFound, SlipwayError
from slipway.domain.names import ResourceKind
from slipway.domain.text import Text, t
from slipway.gitops.kinds import KindInfo
from slipway.retry import Retryable, parse_retry_after

SYSTEM = "kubernetes"
FLUX_FIX = t(
    "install Flux on this cluster: `flux install` (or `flux bootstrap github|gitlab|git ...`), "
    "then run `slipway doctor`"
)
_NO_ROUTE = "the server could not find the requested resource"
_USER = re.compile(r'User "([^"]+)"')
_CANNOT = re.compile(r'cannot (\S+) resource "([^"]+)"')
_MANAGER = re.compile(r'conflict with "([^"]+)"|conflict with (\S+)')


class FluxNotInstalled(ClusterError):
    """The API server does not serve a Flux kind: its CRD is missing (Flux not installed)."""


@dataclass(frozen=True)
class Operation:
    """One API call, described with names only: what error messages are built from."""

    verb: str
    info: KindInfo | None = None
    name: str | None = None
    namespace: str | None = None
    resource: str | None = None  # `plural.group` for kinds outside `KINDS` (CRDs, Deployments)

    @property
    def qualified(self) -> str:
        return self.info.qualified if self.info else (self.resource or "the API")

    def describe(self) -> Text:
        label = str(self.info.kind) if self.info else self.resource
        if label is None:
            return t("the API")
        what = t('{label} "{name}"', label=label, name=self.name) if self.name else self.qualified
        if self.namespace:
            return t('{what} in namespace "{namespace}"', what=what, namespace=self.namespace)
        return what if isinstance(what, Text) else t("{what}", what=what)


@dataclass(frozen=True)
class ClusterIdentity:
    """Where and as whom Slipway talks to the cluster, for messages and hints."""

    server: str
    context: str
    user: str | None


@contextmanager
def map_api_errors(op: Operation, who: ClusterIdentity) -> Iterator[None]:
    try:
        yield
    except ApiError as exc:
        status = exc.status
        error = _from_status(
            op,
            who,
            code=status.code or exc.response.status_code,
            reason=status.reason or "",
            message=status.message or "",
            details=status.details.to_dict() if status.details else {},
            retry_after=exc.response.headers.get("Retry-After"),
        )
        _raise(error, exc, op)
    except httpx2.HTTPStatusError as exc:  # an error body that is not a JSON Status
        error = _from_status(
            op,
            who,
            code=exc.response.status_code,
            reason="",
            message="",
            retry_after=exc.response.headers.get("Retry-After"),
        )
        _raise(error, exc, op)
    except httpx2.TimeoutException as exc:
        raise ClusterError(
            t(
                "the Kubernetes API at {server} did not answer in time ({verb} {describe})",
                server=who.server,
                verb=op.verb,
                describe=op.describe(),
            ),
            system=SYSTEM,
            hint=_reach_hint(who),
            transient=True,
        ) from exc
    except httpx2.RemoteProtocolError as exc:
        # Mostly a kept-alive connection the server closed as the request went out (its idle
        # timeout), not an outage: tried again. Applies, reads and reviews are safe to repeat;
        # a delete repeated reads NotFound, a lease write Conflict (a lost round), both handled.
        raise Retryable(
            ClusterError(
                t(
                    "the Kubernetes API at {server} closed the connection "
                    "without answering ({verb} {describe})",
                    server=who.server,
                    verb=op.verb,
                    describe=op.describe(),
                ),
                system=SYSTEM,
                hint=_reach_hint(who),
            )
        ) from exc
    except httpx2.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        raise ClusterError(
            t(
                "cannot reach the Kubernetes API at {server}: {reason}",
                server=who.server,
                reason=reason,
            ),
            system=SYSTEM,
            hint=_reach_hint(who),
            transient=True,
        ) from exc


def _reach_hint(who: ClusterIdentity) -> Text:
    return t(
        "check that the cluster is running and that KUBECONFIG (context '{context}') "
        "points at it: `kubectl --context {context} cluster-info`",
        context=who.context,
    )


def _raise(error: SlipwayError | Retryable, exc: Exception, op: Operation) -> None:
    if isinstance(error, Retryable):
        raise error from None
    if op.info is not None and op.info.kind == ResourceKind.SECRET:
        raise error from None  # keep the server's text (and the request) out of tracebacks
    raise error from exc


def _from_status(
    op: Operation,
    who: ClusterIdentity,
    *,
    code: int,
    reason: str,
    message: str,
    details: dict[str, Any] | None = None,
    retry_after: str | None = None,
) -> SlipwayError | Retryable:
    details = details or {}
    target = op.describe()
    if code == 401:
        return ClusterError(
            t(
                "the Kubernetes API at {server} rejected the credentials of "
                "user '{value}' (401 Unauthorized)",
                server=who.server,
                value=who.user or "unknown",
            ),
            system=SYSTEM,
            hint=t(
                "refresh the credentials of context '{context}' in your kubeconfig",
                context=who.context,
            ),
        )
    if code == 403:
        return _forbidden(op, who, message)
    if code == 404:
        return _not_found(op, message, details)
    if code == 409:
        return _conflict(op, reason, message, details)
    if code == 422:
        fields = ", ".join(
            str(c.get("field")) for c in details.get("causes", []) or [] if c.get("field")
        )
        shown = message if op.info is None or op.info.kind != ResourceKind.SECRET else fields
        return ClusterError(
            t(
                "the cluster refused {target} as invalid: {value}",
                target=target,
                value=shown or "no details",
            ),
            system=SYSTEM,
            hint=(
                t("the installed Flux CRDs may be older than v1: upgrade Flux (`flux install`)")
                if op.info is not None and op.info.flux_crd
                else t("this is a bug in Slipway; please report it with this message")
            ),
        )
    if code == 429 or code >= 500:
        return Retryable(
            ClusterError(
                t(
                    "the Kubernetes API at {server} failed to {verb} {target} ({code} {value})",
                    server=who.server,
                    verb=op.verb,
                    target=target,
                    code=code,
                    value=reason or "server error",
                ),
                system=SYSTEM,
                hint=t("the API server is overloaded or unhealthy; try again shortly"),
            ),
            retry_after=parse_retry_after(retry_after),
        )
    return ClusterError(
        t(
            "{verb} {target} failed: {code} {value}",
            verb=op.verb,
            target=target,
            code=code,
            value=reason or "error",
        ),
        system=SYSTEM,
    )


def _forbidden(op: Operation, who: ClusterIdentity, message: str) -> ClusterError:
    if "being terminated" in message:
        return ClusterError(
            t(
                'namespace "{namespace}" is being deleted, so {describe} cannot be created',
                namespace=op.namespace,
                describe=op.describe(),
            ),
            system=SYSTEM,
            hint=t("wait until the namespace is gone (`kubectl get ns`), then try again"),
        )
    user_match = _USER.search(message)
    user = user_match.group(1) if user_match else (who.user or "the current user")
    verb, resource = op.verb, op.qualified
    cannot = _CANNOT.search(message)
    if cannot:
        verb, plural = cannot.groups()
        resource = resource if resource.split(".")[0] == plural else plural
    ns_flag = f" -n {op.namespace}" if op.namespace else ""
    return ClusterError(
        t(
            'forbidden: user "{user}" cannot {verb} {resource} in namespace "{namespace}"',
            user=user,
            verb=verb,
            resource=resource,
            namespace=op.namespace,
        )
        if op.namespace
        else t(
            'forbidden: user "{user}" cannot {verb} {resource} at cluster scope',
            user=user,
            verb=verb,
            resource=resource,
        ),
        system=SYSTEM,
        hint=(
            t(
                "grant '{verb}' on '{resource}' to \"{user}\" (ClusterRole + "
                "ClusterRoleBinding); check with `kubectl auth can-i {verb} "
                "{resource}{ns_flag}`",
                verb=verb,
                resource=resource,
                user=user,
                ns_flag=ns_flag,
            )
        ),
    )


def _not_found(op: Operation, message: str, details: dict[str, Any]) -> SlipwayError:
    if details.get("kind") == "namespaces" and op.info is not None and op.info.namespaced:
        return NotFound(
            t('namespace "{value}" does not exist', value=details.get("name") or op.namespace),
            system=SYSTEM,
            hint=t(
                "the environment's Namespace is applied first, so it was "
                "deleted meanwhile: check `kubectl get namespace` and who "
                "deletes it"
            ),
        )
    if (
        op.info is not None
        and op.info.flux_crd
        and (message == _NO_ROUTE or not details.get("name"))
    ):
        served = f"{op.info.qualified}/{op.info.version}"
        return FluxNotInstalled(
            t("Flux is not installed (the API server does not serve {served})", served=served),
            system=SYSTEM,
            hint=FLUX_FIX,
        )
    return NotFound(t("{describe} not found", describe=op.describe()), system=SYSTEM)


def _conflict(op: Operation, reason: str, message: str, details: dict[str, Any]) -> Conflict:
    causes = details.get("causes") or []
    managers: list[str] = []
    fields: list[str] = []
    for cause in causes:
        if cause.get("reason") != "FieldManagerConflict":
            continue
        found = _MANAGER.search(str(cause.get("message", "")))
        manager = (found.group(1) or found.group(2)) if found else None
        if manager and manager not in managers:
            managers.append(manager)
        if cause.get("field"):
            fields.append(str(cause["field"]))
    if not managers and "conflict" in message.lower():
        managers = list(dict.fromkeys(m or n for m, n in _MANAGER.findall(message)))
    if managers:
        who = ", ".join(f'"{m}"' for m in managers)
        owned = f" ({', '.join(fields)})" if fields else ""
        return Conflict(
            t(
                "{describe} has fields{owned} owned by field manager {who}, "
                'so Slipway (field manager "slipway") did not overwrite them',
                describe=op.describe(),
                owned=owned,
                who=who,
            ),
            system=SYSTEM,
            hint=(
                t(
                    "another tool ({who}) changed this object: change the fields "
                    "back in that tool, or hand them to Slipway with `kubectl "
                    "apply --server-side --force-conflicts "
                    "--field-manager=slipway`",
                    who=who,
                )
            ),
        )
    return Conflict(
        t("{describe}: {value}", describe=op.describe(), value=reason or "Conflict"), system=SYSTEM
    )
