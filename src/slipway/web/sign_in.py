"""Signing in with an API token (exchanged for a session cookie) and signing out."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from slipway.domain.errors import Unauthenticated
from slipway.service import web_sessions

from ._i18n import N_
from ._render import (
    COOKIE,
    SIGN_IN_COOKIE,
    PostedForm,
    first,
    forbidden,
    form_of,
    new_form_token,
    render,
    secure_cookies,
    session_of,
    to_sign_in,
    web_of,
)

router = APIRouter(include_in_schema=False)
BAD_TOKEN = N_("No user holds this token. Check it and try again.")


def _sign_in_page(request: Request, *, error: str | None = None, status: int = 200) -> Response:
    token = new_form_token()
    page = render(request, "sign_in.html", form_token=token, error=error, code=status)
    page.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    return page


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/projects" if session_of(request) else "/sign-in", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request) -> Response:
    if session_of(request) is not None:
        return RedirectResponse("/projects", status_code=303)
    return _sign_in_page(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await form_of(request)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    sent = first(form, "csrf_token")
    if not expected or not secrets.compare_digest(expected.encode(), sent.encode()):
        return forbidden(request)
    try:
        signed = web_sessions.sign_in(web_of(request).app, first(form, "token").strip())
    except Unauthenticated:
        return _sign_in_page(request, error=BAD_TOKEN, status=401)
    response = RedirectResponse("/projects", status_code=303)
    response.set_cookie(
        COOKIE,
        signed.cookie.get_secret_value(),
        max_age=int(web_sessions.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )
    response.delete_cookie(SIGN_IN_COOKIE)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, posted: PostedForm) -> Response:
    web_sessions.sign_out(web_of(request).app, request.cookies.get(COOKIE))
    response = to_sign_in()
    response.delete_cookie(COOKIE, path="/")
    return response
