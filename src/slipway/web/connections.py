"""Settings → account connections: the user's forge accounts, connected by OAuth (state and
PKCE verifier kept in the web session between the redirect and the callback), and removed."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from slipway import service
from slipway.domain.errors import SlipwayError
from slipway.domain.model import ForgeKind
from slipway.service import oauth, web_sessions

from ._i18n import N_
from ._render import (
    COOKIE,
    PostedForm,
    SignedIn,
    first,
    render,
    web_of,
)

router = APIRouter(include_in_schema=False)
CALLBACK: Final = "/settings/connections/callback"
DENIED: Final = N_("The forge sign-in was cancelled; nothing was connected.")
NO_SIGN_IN: Final = N_("This browser started no forge sign-in; start again.")
CONNECTED: Final = N_("Connected.")
REMOVED: Final = N_("Removed.")


def _callback_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + CALLBACK


def _page(
    request: Request,
    session: web_sessions.WebSessionView,
    *,
    notice: str | None = None,
    error: str | None = None,
    detail: str | None = None,
    status: int = 200,
) -> Response:
    """`error` is one of this module's messages (translated); `detail` the service's."""
    app = web_of(request).app
    return render(
        request,
        "connections.html",
        session=session,
        connections=service.list_connections(app, actor=session.actor),
        forges=[k.value for k in oauth.oauth_forges(app)],
        notice=notice,
        error=error,
        detail=detail,
        code=status,
    )


@router.get("/settings/connections")
def connections_page(request: Request, session: SignedIn, done: str = "") -> Response:
    notice = {"connected": CONNECTED, "removed": REMOVED}.get(done)
    return _page(request, session, notice=notice)


@router.post("/settings/connections/connect")
async def connect(request: Request, posted: PostedForm) -> Response:
    session, form = posted.session, posted.form
    app = web_of(request).app
    try:
        kind = ForgeKind(first(form, "forge"))
        start = oauth.begin_oauth(app, kind, redirect_uri=_callback_url(request))
    except ValueError:
        return _page(request, session, error=NO_SIGN_IN, status=422)
    except SlipwayError as exc:
        return _page(request, session, detail=exc.text(), status=exc.http_status)
    web_sessions.keep_oauth(
        app,
        request.cookies[COOKIE],
        kind,
        state=start.state,
        verifier=start.code_verifier,
    )
    return RedirectResponse(start.authorize_url, status_code=303)


@router.get(CALLBACK)
async def callback(
    request: Request, session: SignedIn, code: str = "", state: str = "", error: str = ""
) -> Response:
    app = web_of(request).app
    web_sessions.forget_oauth(app, request.cookies[COOKIE])
    if session.oauth_forge is None or not session.oauth_state or not session.oauth_verifier:
        return _page(request, session, error=NO_SIGN_IN, status=400)
    if error:
        return _page(request, session, error=DENIED, status=400)
    try:
        await oauth.complete_oauth(
            app,
            session.oauth_forge,
            code=code,
            state=state,
            expected_state=session.oauth_state,
            code_verifier=session.oauth_verifier,
            redirect_uri=_callback_url(request),
            actor=session.actor,
        )
    except SlipwayError as exc:
        return _page(request, session, detail=exc.text(), status=exc.http_status)
    return RedirectResponse("/settings/connections?done=connected", status_code=303)


@router.post("/settings/connections/remove")
async def remove(request: Request, posted: PostedForm) -> Response:
    session, form = posted.session, posted.form
    try:
        service.disconnect_forge(
            web_of(request).app,
            ForgeKind(first(form, "forge")),
            url=first(form, "url") or None,
            account=first(form, "account") or None,
            actor=session.actor,
        )
    except ValueError:
        return _page(request, session, error=NO_SIGN_IN, status=422)
    except SlipwayError as exc:
        return _page(request, session, detail=exc.text(), status=exc.http_status)
    return RedirectResponse("/settings/connections?done=removed", status_code=303)
