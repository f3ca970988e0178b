"""The Prometheus exposition a `/metrics` route serves: the process's instruments
(`slipway.metrics`) and, read from the App's database at each scrape, the projects by status."""

from __future__ import annotations

from slipway import metrics, store
from slipway.bootstrap import App


def metrics_exposition(app: App) -> tuple[bytes, str]:
    """(body, content type). The project counts come from one grouped query per scrape, so
    they are true whichever process created or changed the projects."""
    with app.session() as session:
        counts = store.project_counts(session)
    projects = metrics.projects_family({status.value: n for status, n in counts.items()})
    return metrics.exposition([projects])
