"""This installation's identity: the one row migration 0003 creates with a random ID."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from slipway.domain.errors import SlipwayError
from slipway.domain.text import t
from slipway.store.models import Installation


def installation_id(session: Session) -> str:
    """The stable ID every repository marker and cluster label of this installation carries."""
    found = session.scalars(sa.select(Installation.id).order_by(Installation.created_at)).first()
    if found is None:
        raise SlipwayError(
            t("the database has no installation ID"),
            system="database",
            hint=t("run the migrations again (`slipway doctor` applies them)"),
        )
    return found
