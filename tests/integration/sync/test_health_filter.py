"""Listing projects by health: health is derived from the resources the sync records, not
stored, so a page of one health is read across as many pages of projects as it takes."""

from __future__ import annotations

from slipway import service
from slipway.bootstrap import App
from slipway.domain.health import Health
from slipway.domain.model import ResourceStatus

from ._support import record_project

# Seven projects by name; the healthy ones are not next to each other.
RECORDED = {
    "hf-a": ResourceStatus.READY,
    "hf-b": ResourceStatus.MISSING,
    "hf-c": ResourceStatus.FAILED,
    "hf-d": ResourceStatus.READY,
    "hf-e": ResourceStatus.MISSING,
    "hf-f": ResourceStatus.MISSING,
    "hf-g": ResourceStatus.READY,
}


def test_a_health_filter_fills_each_page_and_pages_on_from_its_last_name(app: App) -> None:
    for name, status in RECORDED.items():
        record_project(app, name, status=status)

    every = service.list_projects(app, health=Health.HEALTHY)
    assert [v.name for v in every] == ["hf-a", "hf-d", "hf-g"]
    assert [v.name for v in service.list_projects(app, health=Health.UNHEALTHY)] == ["hf-c"]

    first = service.list_projects(app, health=Health.DEGRADED, limit=2)
    assert [v.name for v in first] == ["hf-b", "hf-e"]  # hf-c and hf-d read past, not shown
    rest = service.list_projects(app, health=Health.DEGRADED, after="hf-e", limit=2)
    assert [v.name for v in rest] == ["hf-f"]
    assert service.list_projects(app, health=Health.HEALTHY, after="hf-g", limit=2) == []
