"""Who sees what: a user their own, admins and the operator everything."""

from __future__ import annotations

from slipway.domain.actors import OPERATOR, Actor


def test_a_user_sees_only_what_they_own_and_admins_and_the_operator_see_all() -> None:
    alice, admin = Actor(1, "alice"), Actor(3, "root", is_admin=True)
    assert alice.may_see(1)
    assert not alice.may_see(2)
    assert not alice.may_see(None)  # the operator's, created on the command line
    assert all(admin.may_see(owner) for owner in (1, 2, None))
    assert all(OPERATOR.may_see(owner) for owner in (1, 2, None))
    assert Actor.operator() == OPERATOR and OPERATOR.user_id is None
