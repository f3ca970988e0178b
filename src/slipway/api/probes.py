"""Probes and metrics, outside /api/v1 and without a token: kubelet and Prometheus call them.
They say nothing about any project or user: counts and durations only."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from slipway import service

from ._context import ContextDep
from .schemas import Health, Readiness

router = APIRouter(tags=["probes"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process answers (liveness)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "not ready"}},
)
async def readyz(ctx: ContextDep, response: Response) -> Readiness:
    """The database answers and its schema is the one this version expects (readiness)."""
    state = await asyncio.to_thread(service.readiness, ctx.app)
    if not state.ready:
        response.status_code = 503
    return Readiness(
        ready=state.ready,
        database=state.database,
        schema_revision=state.schema_revision,
        expected_revision=state.expected_revision,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(ctx: ContextDep) -> Response:
    """Prometheus metrics: projects by status, step durations, failures by step and cause,
    retries, forge and cluster calls with latencies, and the status sync's lag."""
    body, content_type = await asyncio.to_thread(service.metrics_exposition, ctx.app)
    return Response(content=body, media_type=content_type)
