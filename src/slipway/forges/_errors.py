"""Turn a forge's HTTP answer into Slipway's errors, the same way for every adapter.

Messages are built from names Slipway chose (forge, URL, owner, repository, scope), never from
response bodies or headers, so a token cannot leak. Transient failures come back as
`slipway.retry.Retryable` so the one shared retry loop handles them. Two answers are not
failures to the flows, and get a type of their own to be caught by: `NameTaken` (a create
raced another) and `NotVisible` (a 404 that persisted through the brief "not there yet" retry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from slipway.domain.errors import Conflict, ForgeError, NotFound, SlipwayError, TokenRejected
from slipway.domain.model import ForgeKind
from slipway.domain.text import Text, t
from slipway.forges.registry import ForgeInfo, forge_info
from slipway.retry import Retryable, parse_retry_after

TAKEN_STATUSES: Final = (400, 409, 422)  # how forges refuse a name that exists


@dataclass(frozen=True)
class Site:
    """Which forge an adapter talks to, for error messages and hints."""

    kind: ForgeKind
    url: str
    step: str | None = None

    @property
    def info(self) -> ForgeInfo:
        return forge_info(self.kind)

    @property
    def label(self) -> str:
        return self.info.label

    @property
    def reconnect(self) -> str:
        return f"slipway forge connect {self.kind.value} --token-stdin --url {self.url}"

    def error(self, message: Text, *, hint: Text | None = None) -> ForgeError:
        return ForgeError(message, step=self.step, system=self.label, hint=hint)

    def not_found(self, message: Text, *, hint: Text | None = None) -> NotFound:
        return NotFound(message, step=self.step, system=self.label, hint=hint)

    def token_rejected(self) -> TokenRejected:
        return TokenRejected(
            t("token rejected by {label} at {url}", label=self.label, url=self.url),
            step=self.step,
            system=self.label,
            hint=t(
                "the token is invalid, expired or revoked: create a new one and run `{reconnect}`",
                reconnect=self.reconnect,
            ),
        )

    def missing_scope(self, action: str, scope: str | None) -> ForgeError:
        needs = t("the `{scope}` scope", scope=scope) if scope else t("more permissions")
        return self.error(
            t(
                "the token may not {action} on {label}: it needs {needs}",
                action=action,
                label=self.label,
                needs=needs,
            ),
            hint=t(
                "create a token with {needs} (and access to the owner) and run `{reconnect}`",
                needs=needs,
                reconnect=self.reconnect,
            ),
        )

    def deploy_keys_refused(self, full_name: str) -> ForgeError:
        """A forge (or its settings, or the token's role) that will not manage deploy keys."""
        return self.error(
            t(
                "{label} refused to manage the deploy keys of {full_name}",
                label=self.label,
                full_name=full_name,
            ),
            hint=t(
                "deploy keys need admin (GitLab: maintainer) rights on the "
                "repository and deploy keys enabled on the forge; else run "
                "with `--git-auth token` to let Flux clone over HTTPS with "
                "the token"
            ),
        )

    def unreachable(self, action: str) -> Retryable:
        return Retryable(
            self.error(
                t(
                    "could not reach {label} at {url} while trying to {action}",
                    label=self.label,
                    url=self.url,
                    action=action,
                ),
                hint=t("check the URL and the network, then try again"),
            )
        )


class NameTaken(Conflict):
    """A create refused because the name exists: the flow re-reads and decides."""

    def __init__(self, site: Site, action: str) -> None:
        super().__init__(
            t("{label} refused to {action}: the name is taken", label=site.label, action=action),
            step=site.step,
            system=site.label,
        )


class NotVisible(NotFound):
    """A 404 retried briefly, as for a repository the forge does not show yet, that stayed."""

    def __init__(self, site: Site, action: str) -> None:
        super().__init__(
            t("could not {action}: not found", action=action), step=site.step, system=site.label
        )


def rate_limit_wait(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from Retry-After or a rate-limit reset header, when the forge sent one."""
    for name in ("retry-after", "x-ratelimit-reset", "ratelimit-reset"):
        wait = parse_retry_after(headers.get(name))
        if wait is not None:
            return wait
    return None


def is_rate_limited(status: int, headers: Mapping[str, str]) -> bool:
    """429, or GitHub's 403 flavours: a secondary limit (Retry-After) or an exhausted quota."""
    if status == 429:
        return True
    if status != 403:
        return False
    remaining = headers.get("x-ratelimit-remaining") or headers.get("ratelimit-remaining")
    return "retry-after" in headers or remaining == "0"


def classify(
    status: int,
    headers: Mapping[str, str],
    *,
    site: Site,
    action: str,
    scope: str | None = None,
    not_found: SlipwayError | None = None,
    conflict: SlipwayError | None = None,
) -> SlipwayError | Retryable:
    """The error (or Retryable) for a failed call that tried to `action` (a verb phrase)."""
    if is_rate_limited(status, headers):
        return Retryable(
            site.error(
                t(
                    "rate limited by {label} while trying to {action}",
                    label=site.label,
                    action=action,
                ),
                hint=t("wait for the rate limit to reset, then run the command again"),
            ),
            retry_after=rate_limit_wait(headers),
        )
    if status >= 500:
        return Retryable(
            site.error(
                t(
                    "{label} answered HTTP {status} while trying to {action}",
                    label=site.label,
                    status=status,
                    action=action,
                ),
                hint=t("{label} had a server error; try again later", label=site.label),
            )
        )
    if status == 401:
        return site.token_rejected()
    if status == 403:
        return site.missing_scope(action, scope)
    if status == 404 and not_found is not None:
        return not_found
    if status in (400, 409, 422) and conflict is not None:
        return conflict
    return site.error(
        t(
            "{label} refused to {action} (HTTP {status})",
            label=site.label,
            action=action,
            status=status,
        ),
        hint=t("check the owner, the repository name and the token's permissions"),
    )
