"""Executor leases: which live process owns which DBOS executor ID.

DBOS (self-hosted) recovers at launch only the PENDING workflows recorded under its own
executor ID and cannot tell whether another process with that ID is alive. So every Slipway
process gets a unique executor ID and renews a lease here while it lives. The workflows of an
executor whose lease expired are taken over by exactly one survivor: the one whose `claim`
succeeds. A claim extends the dead executor's lease for the claimer's `ttl`, so if the
claimer dies in turn before finishing, the lease expires again and another survivor claims it.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from slipway.store.models import ExecutorLease


def new_executor_id() -> str:
    host = socket.gethostname().split(".")[0][:40]
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


def _now() -> datetime:
    return datetime.now(UTC)


def _lease(executor_id: str, ttl: float) -> ExecutorLease:
    now = _now()
    return ExecutorLease(
        executor_id=executor_id,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        started_at=now,
        heartbeat_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )


def acquire(session: Session, executor_id: str, ttl: float) -> None:
    session.add(_lease(executor_id, ttl))
    session.flush()


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


def claim(session: Session, executor_id: str, ttl: float) -> bool:
    """Claims a dead executor's work for `ttl` seconds; True for exactly one of the
    survivors that try at once. An executor with no lease at all (never leased, or released
    while idle) is claimed by the first survivor to record one."""
    now = _now()
    result = session.execute(
        sa.update(ExecutorLease)
        .where(ExecutorLease.executor_id == executor_id, ExecutorLease.expires_at < now)
        .values(heartbeat_at=now, expires_at=now + timedelta(seconds=ttl))
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    if session.get(ExecutorLease, executor_id) is not None:
        return False  # alive, or just claimed by another survivor
    try:
        with session.begin_nested():
            session.add(_lease(executor_id, ttl))
    except IntegrityError:
        return False  # another survivor recorded it first
    return True


def live_executors(session: Session) -> set[str]:
    return set(
        session.scalars(
            sa.select(ExecutorLease.executor_id).where(ExecutorLease.expires_at >= _now())
        )
    )
