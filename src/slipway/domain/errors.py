"""Slipway's error tree. Every message is built from names Slipway chose, never from request
bodies or headers, so a secret cannot leak through an exception.

    SlipwayError(message, step, system, hint)
    ├── InvalidInput(field, rule)        bad input: nothing was created      (CLI 2, HTTP 422)
    │                                    (`problems`: every bad field of the request)
    ├── NotFound                         a named thing does not exist        (CLI 3, HTTP 404)
    ├── Conflict                         it exists already / someone else owns it (CLI 4, HTTP 409)
    ├── PreflightFailed(checks)          the cluster or forge is not ready    (CLI 5, HTTP 424)
    ├── ExternalError                    a forge or cluster call failed       (CLI 6, HTTP 502)
    │   ├── ForgeError
    │   └── ClusterError
    └── Unauthenticated                  no API token, or an unknown one     (CLI 7, HTTP 401)
        └── Forbidden                    signed in by cookie, without the CSRF token (HTTP 403)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .text import Text, join, t


class SlipwayError(Exception):
    """Base of every error Slipway raises on purpose; `hint` tells the user what to do."""

    exit_code = 1
    http_status = 500

    def __init__(
        self,
        message: str,
        *,
        step: str | None = None,
        system: str | None = None,
        hint: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.step = step
        self.system = system
        self.hint = hint
        # Worth another try later (a connection refused, a timeout, a 5xx or 429 that outlived
        # the call's own retries): the durable run retries the step within its window.
        self.transient = transient

    def __str__(self) -> str:
        where = " ".join(p for p in (f"[{self.step}]" if self.step else "", self.system or "") if p)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} — {self.hint}" if self.hint else text

    def text(self) -> Text:
        """`str(self)` as translatable text: the faces render it in the reader's language."""
        where = " ".join(p for p in (f"[{self.step}]" if self.step else "", self.system or "") if p)
        body = t("{where}: {message}", where=where, message=self.message) if where else None
        body = body or (
            self.message if isinstance(self.message, Text) else t("{message}", message=self.message)
        )
        return t("{text} — {hint}", text=body, hint=self.hint) if self.hint else body

    def to_dict(self) -> dict[str, object]:
        """The JSON shape the CLI (--json) and the API both return."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "step": self.step,
            "system": self.system,
            "hint": self.hint,
        }


class InvalidInput(SlipwayError):
    """Input broke a rule; raised before anything is created anywhere."""

    exit_code = 2
    http_status = 422

    def __init__(self, field: str, rule: str, *, hint: str | None = None) -> None:
        super().__init__(t("{field}: {rule}", field=field, rule=rule), hint=hint)
        self.field = field
        self.rule = rule
        self._problems: tuple[InvalidInput, ...] = (self,)

    @property
    def problems(self) -> tuple[InvalidInput, ...]:
        """Every field this refusal names, each with its own rule and hint (see `every`)."""
        return self._problems

    @classmethod
    def every(cls, found: Sequence[InvalidInput]) -> InvalidInput:
        """One refusal naming every field in `found`, so a user fixes them in one go: the
        first one's field and rule, each field's rule and hint in the message."""
        first, *rest = [problem for error in found for problem in error.problems]
        if not rest:
            return first
        combined = cls(first.field, first.rule)
        combined.message = join("; ", [problem.text() for problem in (first, *rest)])
        combined._problems = (first, *rest)
        return combined

    def to_dict(self) -> dict[str, object]:
        shape = {**super().to_dict(), "field": self.field, "rule": self.rule}
        if len(self.problems) > 1:
            shape["errors"] = [
                {"field": p.field, "rule": p.rule, "hint": p.hint} for p in self.problems
            ]
        return shape


class InputChecks:
    """Checks a request field by field and refuses it once, naming every field that broke a
    rule: a form shows each next to its field instead of one per submission."""

    def __init__(self) -> None:
        self.found: list[InvalidInput] = []

    @contextlib.contextmanager
    def check(self) -> Iterator[None]:
        """Runs one field's check; a broken rule is kept for `refuse` instead of raised."""
        try:
            yield
        except InvalidInput as exc:
            self.found.append(exc)

    def refuse(self) -> None:
        """Raises the one InvalidInput naming every broken rule found so far, if any."""
        if self.found:
            raise InvalidInput.every(self.found)


class NotFound(SlipwayError):
    exit_code = 3
    http_status = 404


class ForgeNotConnected(NotFound):
    """No stored connection and no configured token for the forge a request needs."""

    def __init__(self, forge: str, url: str) -> None:
        super().__init__(
            t("no {forge} connection for {url}", forge=forge, url=url),
            system=forge,
            hint=t("connect one with `slipway forge connect {forge} --token-stdin`", forge=forge),
        )


class Conflict(SlipwayError):
    exit_code = 4
    http_status = 409
    # Held for this project by another installation: `--adopt` on create takes it over, and
    # a repair here says how to let it go instead.
    adoptable = False


@dataclass(frozen=True)
class CheckResult:
    """One preflight check: what was checked, whether it passed, and the fix when it did not."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    ran: bool = True  # False: not run because an earlier check failed (not a cause of its own)
    conflict: bool = False  # someone else owns what the check needs (a name, a namespace)
    transient: bool = False  # failed for an outage (unreachable, timeout), not a setting


def failed_checks(checks: Sequence[CheckResult]) -> list[CheckResult]:
    """The real causes: failed checks that ran (the ones skipped after them add nothing)."""
    return [c for c in checks if not c.ok and c.ran]


class PreflightFailed(SlipwayError):
    exit_code = 5
    http_status = 424

    def __init__(self, checks: Sequence[CheckResult], *, step: str | None = None) -> None:
        failed = failed_checks(checks)
        summary = (
            join("; ", [t("{check}: {detail}", check=c.name, detail=c.detail) for c in failed])
            if failed
            else t("preflight failed")
        )
        fixes = [c.fix for c in failed if c.fix]
        transient = bool(failed) and all(c.transient for c in failed)
        super().__init__(
            summary,
            step=step,
            system="preflight",
            hint=join(" ", fixes) if fixes else None,
            transient=transient,
        )
        self.checks = list(checks)


class ExternalError(SlipwayError):
    """A call to a forge or the cluster failed after its retries."""

    exit_code = 6
    http_status = 502


class ForgeError(ExternalError):
    pass


class TokenRejected(ForgeError):
    """The forge answered 401: the token is invalid, expired or revoked. Where the user just
    typed the token in (connecting a forge) this is bad input, not an outage."""


class ClusterError(ExternalError):
    pass


class Unauthenticated(SlipwayError):
    """A request without a token, or with one no user holds. The message never quotes it."""

    exit_code = 7
    http_status = 401

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message or t("missing or unknown API token"),
            system="slipway",
            hint=t("pass a token from `slipway user create` as a bearer token"),
        )


class Forbidden(Unauthenticated):
    """A request signed in by the web session's cookie that does not prove it came from
    Slipway's own page (no CSRF token): the browser sends the cookie on any site's behalf."""

    http_status = 403

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
