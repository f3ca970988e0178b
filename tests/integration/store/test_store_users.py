"""Users and API tokens: names are unique, a token is found by its hash only, deleting a user
takes their tokens with it and leaves their projects to the operator."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from tests.integration.store.conftest import NewProject

from slipway.domain.errors import Conflict
from slipway.store import (
    ApiToken,
    Project,
    SessionFactory,
    User,
    add_token,
    create_user,
    list_users,
    touch_token,
    unit_of_work,
    user_by_token_hash,
)

TOKEN_HASH = hashlib.sha256(b"slw_example").hexdigest()


def test_a_user_is_found_by_the_hash_of_their_token_and_no_other(factory: SessionFactory) -> None:
    with unit_of_work(factory) as session:
        alice = create_user(session, name="alice", is_admin=True)
        create_user(session, name="bob")
        add_token(session, user_id=alice.id, token_hash=TOKEN_HASH, prefix="slw_exam")

    with unit_of_work(factory) as session:
        found = user_by_token_hash(session, token_hash=TOKEN_HASH)
        assert found is not None
        assert (found.name, found.is_admin) == ("alice", True)
        assert user_by_token_hash(session, token_hash="0" * 64) is None
        assert [(u.name, u.is_admin) for u in list_users(session)] == [
            ("alice", True),
            ("bob", False),
        ]


def test_a_taken_name_is_a_conflict_and_the_session_stays_usable(factory: SessionFactory) -> None:
    with unit_of_work(factory) as session:
        create_user(session, name="alice")
        with pytest.raises(Conflict, match="a user named 'alice' already exists"):
            create_user(session, name="alice")
        create_user(session, name="carol")
    with unit_of_work(factory) as session:
        assert [u.name for u in list_users(session)] == ["alice", "carol"]


def test_touching_a_token_records_its_last_use(factory: SessionFactory) -> None:
    with unit_of_work(factory) as session:
        user = create_user(session, name="alice")
        add_token(session, user_id=user.id, token_hash=TOKEN_HASH, prefix="slw_exam")
    with unit_of_work(factory) as session:
        assert session.scalars(sa.select(ApiToken.last_used_at)).one() is None
        touch_token(session, token_hash=TOKEN_HASH)
    with unit_of_work(factory) as session:
        assert session.scalars(sa.select(ApiToken.last_used_at)).one() is not None


def test_deleting_a_user_removes_their_tokens_and_keeps_their_projects(
    factory: SessionFactory, new_project: NewProject
) -> None:
    with unit_of_work(factory) as session:
        user = create_user(session, name="alice")
        add_token(session, user_id=user.id, token_hash=TOKEN_HASH, prefix="slw_exam")
        project = new_project(session, "shop")
        project.user_id = user.id
    with unit_of_work(factory) as session:
        session.delete(session.scalars(sa.select(User)).one())
    with unit_of_work(factory) as session:
        assert session.scalars(sa.select(ApiToken)).all() == []
        assert session.scalars(sa.select(Project.user_id)).one() is None
