"""Every error the API returns has one shape: RFC 9457 problem details carrying the same
error type, step, system and hint as the CLI's `--json` error, and the CLI's exit code.

A request that fails pydantic's checks gets the same 422 as one that fails the service's
rules: one `errors` item per field, naming the field and the rule."""

from __future__ import annotations

import re
from typing import Any, Final

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from slipway.domain.errors import InvalidInput, SlipwayError, Unauthenticated

from .schemas import Problem, ProblemFieldError

MEDIA_TYPE: Final = "application/problem+json"
# Before a capital that follows a lower-case letter or digit, or that starts a word after a run
# of capitals (`HTTPError` → `HTTP-Error`).
_WORD_BREAK: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
log = structlog.get_logger(__name__)

_TITLES: Final = {
    400: "Bad request",
    401: "Unauthenticated",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid input",
    424: "Preflight failed",
    500: "Internal error",
    502: "External service failed",
}
# The CLI's exit code for an HTTP status no SlipwayError maps to.
_EXIT_CODES: Final = {400: 2, 401: 7, 404: 3, 405: 2, 409: 4, 422: 2, 424: 5, 502: 6}


def problem_type(error: str) -> str:
    """A stable URI per error type (`InvalidInput` → `urn:slipway:problem:invalid-input`,
    `HTTPError` → `urn:slipway:problem:http-error`: a run of capitals is one word)."""
    return f"urn:slipway:problem:{_WORD_BREAK.sub('-', error).lower()}"


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(mode="json"),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def from_error(exc: SlipwayError, instance: str | None) -> Problem:
    status = exc.http_status
    errors = (
        [ProblemFieldError(field=exc.field, rule=exc.rule)] if isinstance(exc, InvalidInput) else []
    )
    error = type(exc).__name__
    return Problem(
        type=problem_type(error),
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=exc.message,
        instance=instance,
        error=error,
        exit_code=exc.exit_code,
        step=exc.step,
        system=exc.system,
        hint=exc.hint,
        errors=errors,
    )


def _field(location: tuple[Any, ...]) -> str:
    """pydantic's location without its source (`body`, `query`), joined with dots."""
    parts = [str(p) for p in location]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def install(api: FastAPI) -> None:
    """Registers the handlers that turn every error into problem details."""

    async def slipway_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SlipwayError)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        return problem_response(from_error(exc, request.url.path), headers)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # pydantic's messages describe the rule; the input value is never echoed back (it may
        # be a token).
        errors = [
            ProblemFieldError(field=_field(tuple(e.get("loc", ()))), rule=str(e.get("msg", "")))
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e.field}: {e.rule}" for e in errors)
        return problem_response(
            Problem(
                type=problem_type(InvalidInput.__name__),
                title=_TITLES[422],
                status=422,
                detail=summary or "the request does not match its schema",
                instance=request.url.path,
                error=InvalidInput.__name__,
                exit_code=InvalidInput.exit_code,
                errors=errors,
            )
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        # A body that is not JSON (400) is bad input, as one that breaks the schema (422) is.
        error = {400: "InvalidInput", 404: "NotFound", 401: "Unauthenticated"}.get(
            status, "HTTPError"
        )
        return problem_response(
            Problem(
                type=problem_type(error),
                title=_TITLES.get(status, "Error"),
                status=status,
                detail=str(exc.detail),
                instance=request.url.path,
                error=error,
                exit_code=_EXIT_CODES.get(status, 1),
            ),
            dict(exc.headers) if exc.headers else None,
        )

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # A bug: logged by type only (the message may quote anything), answered without it.
        log.error("api internal error", path=request.url.path, error=type(exc).__name__)
        return problem_response(
            Problem(
                type=problem_type("InternalError"),
                title=_TITLES[500],
                status=500,
                detail=f"internal error ({type(exc).__name__})",
                instance=request.url.path,
                error="InternalError",
                exit_code=1,
                hint="see the server's log; report it if it happens again",
            )
        )

    api.add_exception_handler(SlipwayError, slipway_error)
    api.add_exception_handler(RequestValidationError, validation_error)
    api.add_exception_handler(StarletteHTTPException, http_error)
    api.add_exception_handler(Exception, internal_error)
