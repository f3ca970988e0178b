"""What every page shares: the Jinja environment per language, the signed-in session read
from the cookie, the CSRF check of a POST, and url-encoded form bodies (parsed here, so no
multipart library is needed)."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import parse_qs

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from slipway import service
from slipway.domain.errors import Unauthenticated
from slipway.i18n import localize
from slipway.service import web_sessions

from ._i18n import negotiate, translations

TEMPLATES: Final = Path(__file__).parent / "templates"
COOKIE: Final = web_sessions.COOKIE_NAME
# Before sign-in there is no session to hold a form token: the sign-in form's token is
# also set in this short-lived cookie and both must match (double submit).
SIGN_IN_COOKIE: Final = "slipway_sign_in"
MAX_FORM_BYTES: Final = 256 * 1024
# Our own script and stylesheet only; inline style attributes (the progress bar's width) are
# allowed. No form-action: Chromium applies it to the redirect to a forge's sign-in page.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Web:
    """The App and worker the pages use (`serve`'s)."""

    app: service.App
    worker: service.Worker


def web_of(request: Request) -> Web:
    found = request.app.state.slipway_web
    assert isinstance(found, Web)
    return found


@functools.cache
def environment(language: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = _when
    # Slipway's own messages (events, errors, rules) in the page's language.
    env.filters["text"] = functools.partial(_text, language=language)
    return env


def _text(value: str | None, language: str) -> str:
    return localize(value, language) or ""


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def language_of(request: Request) -> str:
    return negotiate(request.headers.get("accept-language"))


def render(
    request: Request,
    page_name: str,
    /,
    *,
    session: web_sessions.WebSessionView | None = None,
    code: int = 200,
    **values: Any,
) -> HTMLResponse:
    """The page `template` in the request's language; a signed-in page gets its user and
    the form token every one of its forms carries."""
    language = language_of(request)
    page = environment(language).get_template(page_name)
    html = page.render(
        html_lang="zh-CN" if language == "zh_CN" else "en",
        user=session.actor if session else None,
        csrf=session.csrf_token if session else "",
        path=request.url.path,
        **values,
    )
    response = HTMLResponse(html, status_code=code, headers=SECURITY_HEADERS)
    response.headers["Content-Language"] = "zh-CN" if language == "zh_CN" else "en"
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response


def session_of(request: Request) -> web_sessions.WebSessionView | None:
    """The signed-in session of this browser, or None."""
    try:
        return web_sessions.session_of(web_of(request).app, request.cookies.get(COOKIE))
    except Unauthenticated:
        return None


def to_sign_in() -> RedirectResponse:
    return RedirectResponse("/sign-in", status_code=303)


async def form_of(request: Request) -> dict[str, list[str]]:
    """The url-encoded body's fields (a field given twice keeps both values)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def first(form: Mapping[str, list[str]], name: str, default: str = "") -> str:
    values = form.get(name)
    return values[0] if values else default


def forbidden(request: Request) -> HTMLResponse:
    return render(request, "forbidden.html", code=403)


class LeavePage(Exception):
    """Ends a page before its route runs, answering `response` (`install` registers the
    handler): to sign-in when no one is signed in, 403 when a form lacks its CSRF token."""

    def __init__(self, response: Response) -> None:
        super().__init__("leave page")
        self.response = response


def signed_in(request: Request) -> web_sessions.WebSessionView:
    """The page's session; no session: off to sign-in."""
    session = session_of(request)
    if session is None:
        raise LeavePage(to_sign_in())
    return session


@dataclass(frozen=True)
class Posted:
    """A form posted by a signed-in browser from one of Slipway's pages (its CSRF token
    matched)."""

    session: web_sessions.WebSessionView
    form: dict[str, list[str]]


async def posted(request: Request) -> Posted:
    session = signed_in(request)
    form = await form_of(request)
    if not csrf_ok(session, form):
        raise LeavePage(forbidden(request))
    return Posted(session, form)


SignedIn = Annotated[web_sessions.WebSessionView, Depends(signed_in)]
PostedForm = Annotated[Posted, Depends(posted)]


def csrf_ok(session: web_sessions.WebSessionView, form: Mapping[str, list[str]]) -> bool:
    return web_sessions.csrf_matches(session, first(form, "csrf_token"))


def new_form_token() -> str:
    return secrets.token_urlsafe(32)


def secure_cookies(request: Request) -> bool:
    """Secure cookies when the page was reached over HTTPS (directly or behind a proxy that
    says so)."""
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"
