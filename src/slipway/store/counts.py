"""How many projects are in each status, for the `slipway_projects` gauge: one grouped query,
whatever the number of projects."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from slipway.domain.model import ProjectStatus
from slipway.store.models import Project


def project_counts(session: Session) -> dict[ProjectStatus, int]:
    """Every status, with 0 for those no project is in (a gauge series should not vanish)."""
    counts = dict.fromkeys(ProjectStatus, 0)
    query = sa.select(Project.status, sa.func.count()).group_by(Project.status)
    for status, count in session.execute(query):
        counts[ProjectStatus(status)] = int(count)
    return counts
