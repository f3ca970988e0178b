"""Executor leases: which live process owns which DBOS executor ID.

DBOS (self-hosted) recovers at launch only the PENDING workflows recorded under its own
executor ID and cannot tell whether another process with that ID is alive. So every Slipway
process gets a unique executor ID, renews a lease in Slipway's database while it lives, and
the workflows of an executor whose lease has expired are taken over by exactly one survivor
(the one whose conditional DELETE of the dead lease succeeds).
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from slipway.store.models import ExecutorLease


def new_executor_id() -> str:
    host = socket.gethostname().split(".")[0][:40]
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


def _now() -> datetime:
    return datetime.now(UTC)


def acquire(session: Session, executor_id: str, ttl: float) -> ExecutorLease:
    now = _now()
    lease = ExecutorLease(
        executor_id=executor_id,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        started_at=now,
        heartbeat_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    session.add(lease)
    session.flush()
    return lease


def renew(session: Session, executor_id: str, ttl: float) -> bool:
    """Extends the lease; False if it is gone (another process presumed this one dead)."""
    now = _now()
    result = session.execute(
        sa.update(ExecutorLease)
        .where(ExecutorLease.executor_id == executor_id)
        .values(heartbeat_at=now, expires_at=now + timedelta(seconds=ttl))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, executor_id: str, *, hand_over: bool) -> None:
    """On shutdown: with `hand_over`, expire the lease now so survivors take over at once."""
    if hand_over:
        session.execute(
            sa.update(ExecutorLease)
            .where(ExecutorLease.executor_id == executor_id)
            .values(expires_at=_now() - timedelta(seconds=1))
        )
    else:
        session.execute(sa.delete(ExecutorLease).where(ExecutorLease.executor_id == executor_id))


def expired(session: Session) -> list[str]:
    return list(
        session.scalars(
            sa.select(ExecutorLease.executor_id).where(ExecutorLease.expires_at < _now())
        )
    )


def claim(session: Session, executor_id: str) -> bool:
    """Removes an expired lease; True only for the one caller that removed it."""
    result = session.execute(
        sa.delete(ExecutorLease).where(
            ExecutorLease.executor_id == executor_id, ExecutorLease.expires_at < _now()
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def live(session: Session) -> list[ExecutorLease]:
    return list(session.scalars(sa.select(ExecutorLease).where(ExecutorLease.expires_at >= _now())))
