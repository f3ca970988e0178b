"""A project's read-only deploy keys. The private half is stored only encrypted; during a
rotation the old key is kept until Flux reads with the new one."""

from __future__ import annotations

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
    """Every key of the project, oldest first (the newest is the current key)."""
    return list(
        session.scalars(
            sa.select(DeployKey)
            .where(DeployKey.project_id == project_id)
            .order_by(DeployKey.created_at, DeployKey.id)
        )
    )


def current_deploy_key(session: Session, *, project_id: int) -> DeployKey | None:
    """The key Flux should use: the newest one."""
    keys = deploy_keys(session, project_id=project_id)
    return keys[-1] if keys else None


def private_key(key: DeployKey, cipher: TokenCipher) -> SecretStr:
    return cipher.decrypt(key.encrypted_private_key)


def update_deploy_key(
    session: Session,
    *,
    key_id: int,
    forge_key_id: str | None = None,
    known_hosts: str | None = None,
) -> DeployKey:
    """Records what the forge said (its key ID) and the scanned host keys."""
    key = session.get(DeployKey, key_id)
    if key is None:
        raise LookupError(f"no deploy key with id {key_id}")
    if forge_key_id is not None:
        key.forge_key_id = forge_key_id
    if known_hosts is not None:
        key.known_hosts = known_hosts
    session.flush()
    return key


def delete_deploy_key(session: Session, *, key_id: int) -> None:
    key = session.get(DeployKey, key_id)
    if key is not None:
        session.delete(key)
        session.flush()
