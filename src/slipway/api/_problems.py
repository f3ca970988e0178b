"""Every error the API returns has one shape: RFC 9457 problem details carrying the same
error type, step, system and hint as the CLI's `--json` error, and the CLI's exit code.

A request that fails pydantic's checks gets the same 422 as one that fails the service's
rules: one `errors` item per field, naming the field and the rule.

`title`, `detail`, `hint` and each `errors[].rule` are in the language the request's
Accept-Language chooses (English or Simplified Chinese), named by `Content-Language`; the
other fields are identifiers and stay as they are. pydantic's and Starlette's own English
never reaches a response: their refusals are rewritten as Slipway's rules (`_validation`)."""

from __future__ import annotations

import re
from typing import Final

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from slipway.domain.errors import InvalidInput, SlipwayError
from slipway.domain.text import Text, join, t
from slipway.i18n import localize, negotiate

from . import _validation
from .schemas import Problem, ProblemFieldError

MEDIA_TYPE: Final = "application/problem+json"
# Before a capital that follows a lower-case letter or digit, or that starts a word after a run
# of capitals (`HTTPError` → `HTTP-Error`).
_WORD_BREAK: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# A `{name}` of an OpenAPI path template, once re.escape'd.
_PATH_PARAMETER: Final = re.compile(r"\\\{[^}]*\\\}")
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
log = structlog.get_logger(__name__)

_TITLES: Final = {
    400: t("Bad request"),
    401: t("Unauthenticated"),
    403: t("Forbidden"),
    404: t("Not found"),
    405: t("Method not allowed"),
    409: t("Conflict"),
    422: t("Invalid input"),
    424: t("Preflight failed"),
    500: t("Internal error"),
    502: t("External service failed"),
}
_ERROR_TITLE: Final = t("Error")
# The Content-Language of each language's problem details.
_CONTENT_LANGUAGE: Final = {"en": "en", "zh_CN": "zh-CN"}
# The CLI's exit code for an HTTP status no SlipwayError maps to.
_EXIT_CODES: Final = {400: 2, 401: 7, 403: 7, 404: 3, 405: 2, 409: 4, 422: 2, 424: 5, 502: 6}


def problem_type(error: str) -> str:
    """A stable URI per error type (`InvalidInput` → `urn:slipway:problem:invalid-input`,
    `HTTPError` → `urn:slipway:problem:http-error`: a run of capitals is one word)."""
    return f"urn:slipway:problem:{_WORD_BREAK.sub('-', error).lower()}"


def request_language(request: Request | None) -> str:
    """The language the request's Accept-Language chooses (English without one)."""
    return negotiate(request.headers.get("accept-language") if request is not None else None)


def problem_response(
    problem: Problem, headers: dict[str, str] | None = None, *, language: str = "en"
) -> JSONResponse:
    """The problem as JSON, saying which language its human-readable fields are in."""
    return JSONResponse(
        problem.model_dump(mode="json"),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers={**(headers or {}), "Content-Language": _CONTENT_LANGUAGE[language]},
    )


def _title(status: int, language: str) -> str:
    return localize(_TITLES.get(status, _ERROR_TITLE), language) or ""


def from_error(exc: SlipwayError, instance: str | None, language: str = "en") -> Problem:
    """The problem details of `exc`, its message, hint and rule in `language`."""
    status = exc.http_status
    errors = (
        [
            ProblemFieldError(field=p.field, rule=localize(p.rule, language) or "")
            for p in exc.problems
        ]
        if isinstance(exc, InvalidInput)
        else []
    )
    error = type(exc).__name__
    return Problem(
        type=problem_type(error),
        title=_title(status, language),
        status=status,
        detail=localize(exc.message, language),
        instance=instance,
        error=error,
        exit_code=exc.exit_code,
        step=exc.step,
        system=exc.system,
        hint=localize(exc.hint, language),
        errors=errors,
    )


def _allowed(request: Request, exc: StarletteHTTPException) -> str:
    """Every method the API takes at the request's path, from its OpenAPI description:
    Starlette's own Allow names only the first route there (POST where GET answers too)."""
    methods: set[str] = set()
    app = request.scope.get("app")
    paths = app.openapi().get("paths", {}) if isinstance(app, FastAPI) else {}
    for template, operations in paths.items():
        pattern = _PATH_PARAMETER.sub("[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {m.upper() for m in operations if m.upper() in _METHODS}
    return ", ".join(sorted(methods)) or (exc.headers or {}).get("Allow", "")


def _http_detail(exc: StarletteHTTPException, request: Request, allowed: str) -> Text:
    """What the framework's own refusal means, as Slipway says it: its details are English
    status phrases ("Not Found"), so only a detail that is itself a Text is kept."""
    if isinstance(exc.detail, Text):
        return exc.detail
    path = request.url.path
    if exc.status_code == 404:
        return t("there is nothing at {path}", path=path)
    if exc.status_code == 405:
        return t(
            "{path} does not take {method}; it takes {allowed}",
            path=path,
            method=request.method,
            allowed=allowed,
        )
    if exc.status_code == 400:
        return t("the request's body could not be read")
    return t("the request was refused (HTTP {status})", status=exc.status_code)


def install(api: FastAPI) -> None:
    """Registers the handlers that turn every error into problem details."""

    async def slipway_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SlipwayError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        language = request_language(request)
        return problem_response(
            from_error(exc, request.url.path, language), headers, language=language
        )

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Each rule is Slipway's template for pydantic's error type (never pydantic's English);
        # the input value is never echoed back (it may be a token).
        language = request_language(request)
        found = _validation.field_rules(exc.errors())
        errors = [
            ProblemFieldError(field=name, rule=localize(rule, language) or "")
            for name, rule in found
        ]
        summary = join("; ", [t("{field}: {rule}", field=name, rule=rule) for name, rule in found])
        return problem_response(
            Problem(
                type=problem_type(InvalidInput.__name__),
                title=_title(422, language),
                status=422,
                detail=localize(
                    summary if found else t("the request does not match its schema"), language
                )
                or "",
                instance=request.url.path,
                error=InvalidInput.__name__,
                exit_code=InvalidInput.exit_code,
                errors=errors,
            ),
            language=request_language(request),
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        # A body that is not JSON (400) is bad input, as one that breaks the schema (422) is.
        error = {400: "InvalidInput", 404: "NotFound", 401: "Unauthenticated"}.get(
            status, "HTTPError"
        )
        language = request_language(request)
        headers = dict(exc.headers) if exc.headers else {}
        allowed = _allowed(request, exc) if status == 405 else ""
        if allowed:
            headers["Allow"] = allowed
        return problem_response(
            Problem(
                type=problem_type(error),
                title=_title(status, language),
                status=status,
                detail=localize(_http_detail(exc, request, allowed), language) or "",
                instance=request.url.path,
                error=error,
                exit_code=_EXIT_CODES.get(status, 1),
            ),
            headers or None,
            language=language,
        )

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # A bug: logged by type only (the message may quote anything), answered without it.
        log.error("api internal error", path=request.url.path, error=type(exc).__name__)
        language = request_language(request)
        return problem_response(
            Problem(
                type=problem_type("InternalError"),
                title=_title(500, language),
                status=500,
                detail=localize(t("internal error ({error})", error=type(exc).__name__), language),
                instance=request.url.path,
                error="InternalError",
                exit_code=1,
                hint=localize(t("see the server's log; report it if it happens again"), language),
            ),
            language=request_language(request),
        )

    api.add_exception_handler(SlipwayError, slipway_error)
    api.add_exception_handler(RequestValidationError, validation_error)
    api.add_exception_handler(StarletteHTTPException, http_error)
    api.add_exception_handler(Exception, internal_error)
