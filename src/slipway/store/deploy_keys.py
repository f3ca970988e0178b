"""A project's read-only deploy keys. The private half is stored only encrypted; during a
rotation the old key is kept (retired) until the forge has dropped it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.orm import Session

from slipway.store.crypto import TokenCipher
from slipway.store.models import DeployKey


def add_deploy_key(
    session: Session,
    *,
    project_id: int,
    public_key: str,
    private_key: SecretStr,
    cipher: TokenCipher,
    known_hosts: str | None = None,
) -> DeployKey:
    """A new key for the project, not yet on the forge (`forge_key_id` None)."""
    key = DeployKey(
        project_id=project_id,
        public_key=public_key,
        encrypted_private_key=cipher.encrypt(private_key),
        known_hosts=known_hosts,
    )
    session.add(key)
    session.flush()
    return key


def deploy_keys(session: Session, *, project_id: int) -> list[DeployKey]:
    """Every key of the project, oldest first (the newest unretired one is the current key)."""
    return list(
        session.scalars(
            sa.select(DeployKey)
            .where(DeployKey.project_id == project_id)
            .order_by(DeployKey.created_at, DeployKey.id)
        )
    )


def current_deploy_key(session: Session, *, project_id: int) -> DeployKey | None:
    """The key Flux should use: the newest one not retired."""
    live = [k for k in deploy_keys(session, project_id=project_id) if k.retired_at is None]
    return live[-1] if live else None


def private_key(key: DeployKey, cipher: TokenCipher) -> SecretStr:
    return cipher.decrypt(key.encrypted_private_key)


def update_deploy_key(
    session: Session,
    *,
    key_id: int,
    forge_key_id: str | None = None,
    known_hosts: str | None = None,
    retired: bool | None = None,
) -> DeployKey:
    """Records what the forge said (its key ID), the scanned host keys, or the retirement."""
    key = session.get(DeployKey, key_id)
    if key is None:
        raise LookupError(f"no deploy key with id {key_id}")
    if forge_key_id is not None:
        key.forge_key_id = forge_key_id
    if known_hosts is not None:
        key.known_hosts = known_hosts
    if retired is not None:
        key.retired_at = datetime.now(UTC) if retired else None
    session.flush()
    return key


def delete_deploy_key(session: Session, *, key_id: int) -> None:
    key = session.get(DeployKey, key_id)
    if key is not None:
        session.delete(key)
        session.flush()
