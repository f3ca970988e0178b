"""A project's progress events: the history as JSON, and the live stream as Server-Sent
Events that a late viewer can join (history first, then each event as it is recorded),
resume with `Last-Event-ID`, and that closes after the final event of the current run.
Each event's `message` is in the language the request's Accept-Language chooses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from slipway import service
from slipway.domain.errors import NotFound
from slipway.domain.model import ProgressEvent
from slipway.i18n import localize

from ._context import ActorDep, ContextDep
from ._problems import request_language
from .schemas import EventOut

router = APIRouter(prefix="/projects", tags=["events"])
PING_SECONDS: Final = 15
# The largest sequence the `sequence` column holds (an INTEGER: 4 bytes on PostgreSQL): a
# larger `after` is refused as bad input instead of failing in the database driver.
SEQUENCE_MAX: Final = 2**31 - 1
STREAM_DOC: Final = (
    "`text/event-stream`. Each event: `id` = the event's sequence, `event: progress`, `data` "
    "= the EventOut JSON. After the final event of the current run the stream closes; when "
    "the project is deleted meanwhile, a last `event: deleted` says so."
)


def _integer_header(schema: dict[str, Any]) -> None:
    """An absent header is the None; a header's value is never null, so the schema says
    integer only (pydantic's `int | None` would document a `null` no client can send)."""
    schema.pop("anyOf", None)
    schema.update(type="integer", minimum=0, maximum=SEQUENCE_MAX)


def event_out(event: ProgressEvent, language: str) -> EventOut:
    """The event as the API shows it, its message in `language`."""
    return EventOut.model_validate(event).model_copy(
        update={"message": localize(event.message, language)}
    )


@router.get("/{name}/events", response_model=list[EventOut])
def list_events(
    request: Request,
    name: str,
    ctx: ContextDep,
    actor: ActorDep,
    after: Annotated[
        int, Query(ge=0, le=SEQUENCE_MAX, description="only events after this sequence")
    ] = 0,
) -> list[EventOut]:
    """The events recorded so far, oldest first."""
    language = request_language(request)
    return [
        event_out(e, language)
        for e in service.project_events(ctx.app, name, after=after, actor=actor)
    ]


@router.get(
    "/{name}/events/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": STREAM_DOC}},
)
async def stream_events(
    request: Request,
    name: str,
    ctx: ContextDep,
    actor: ActorDep,
    last_event_id: Annotated[
        int | None,
        Header(
            ge=0,
            le=SEQUENCE_MAX,
            description="resume after this sequence (set on reconnect)",
            json_schema_extra=_integer_header,
        ),
    ] = None,
    after: Annotated[
        int, Query(ge=0, le=SEQUENCE_MAX, description="start after this sequence")
    ] = 0,
) -> EventSourceResponse:
    """History, then live events, until the final event of the current run."""
    start = last_event_id if last_event_id is not None else after
    # Refused before the stream opens: a project you may not see answers 404, not an empty
    # stream (so another user's project and its stream look exactly like a missing one).
    await asyncio.to_thread(service.last_sequence, ctx.app, name, actor=actor)
    language = request_language(request)
    return EventSourceResponse(
        _stream(ctx.app, name, start, actor, language),
        ping=PING_SECONDS,
        headers={"Content-Language": "zh-CN" if language == "zh_CN" else "en"},
    )


async def _stream(
    app: service.App, name: str, after: int, actor: service.Actor, language: str
) -> AsyncIterator[ServerSentEvent]:
    try:
        async for event in service.follow_events(app, name, after=after, actor=actor):
            document = event_out(event, language).model_dump(mode="json")
            yield ServerSentEvent(
                data=json.dumps(document), event="progress", id=str(event.sequence)
            )
    except NotFound:
        yield ServerSentEvent(data=json.dumps({"project": name}), event="deleted")
