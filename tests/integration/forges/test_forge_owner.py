"""`check_owner` on every forge flavour, through the real client libraries: the token's own
account and an org it belongs to come back with their canonical name; a missing owner,
another user, an org the account is not in, or one where members may not create
repositories are bad input naming the owner. Nothing is written while checking."""

from __future__ import annotations

import logging

import httpx
import pytest
from githubkit import GitHub

from slipway.domain.errors import ForgeError, InvalidInput
from slipway.domain.model import ForgeKind
from slipway.forges import Forge
from slipway.sandbox.forge import ForgeEmulator

from ._support import (
    FLAVOURS,
    OAUTH_TOKEN,
    TOKEN,
    WRONG_TOKEN,
    Flavour,
    api_calls,
    assert_no_secret,
    make_forge,
    writes,
)

CLOSED_ORG = "closed-org"  # bob's; alice is not a member
LOCKED_ORG = "locked-org"  # alice is a member, but members may not create repositories


@pytest.fixture(scope="module", autouse=True)
def _orgs(emulator: ForgeEmulator) -> None:
    emulator.add_org(CLOSED_ORG, members=("bob",))
    emulator.add_org(LOCKED_ORG, members=("alice",), members_can_create_repositories=False)


@pytest.fixture
def checked(emulator: ForgeEmulator) -> ForgeEmulator:
    """The emulator with an empty request log, to show that checking writes nothing."""
    emulator.clear_requests()
    return emulator


def lookup_path(flavour: Flavour, owner: str) -> str:
    """Where each flavour looks an organisation up first."""
    route = "namespaces" if flavour.kind is ForgeKind.GITLAB else "orgs"
    return f"{flavour.prefix}/{route}/{owner}"


@pytest.mark.parametrize("owner", [None, "alice", "ALICE"], ids=["none", "login", "other-case"])
async def test_own_account_is_the_token_login(
    forge: Forge, checked: ForgeEmulator, owner: str | None
) -> None:
    assert await forge.check_owner(owner) == "alice"
    assert writes(api_calls(checked)) == []


@pytest.mark.parametrize("owner", ["acme", "Acme"], ids=["exact", "other-case"])
async def test_an_org_the_account_belongs_to_comes_back_canonical(
    forge: Forge, checked: ForgeEmulator, owner: str
) -> None:
    assert await forge.check_owner(owner) == "acme"
    assert writes(api_calls(checked)) == []


async def test_an_org_the_account_is_not_in_is_bad_input(
    forge: Forge,
    checked: ForgeEmulator,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidInput) as caught:
        await forge.check_owner(CLOSED_ORG)
    error = caught.value
    assert error.field == "owner"
    assert CLOSED_ORG in error.rule and "alice" in error.rule
    assert error.hint and CLOSED_ORG in error.hint
    assert writes(api_calls(checked)) == []
    assert_no_secret(error, forge, caplog, capsys)


async def test_a_missing_owner_is_bad_input(
    forge: Forge,
    flavour: Flavour,
    emulator: ForgeEmulator,
    checked: ForgeEmulator,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await forge.check_owner("nobody-org")
    error = caught.value
    assert error.field == "owner"
    group = "group" if flavour.kind is ForgeKind.GITLAB else "organization"
    assert f"'nobody-org' is not a user or {group}" in error.rule
    assert error.rule.endswith(f" at {flavour.base_url(emulator)}")
    assert error.hint and "--owner" in error.hint
    assert writes(api_calls(checked)) == []
    assert_no_secret(error, forge, caplog, capsys)


async def test_another_user_is_bad_input(forge: Forge, checked: ForgeEmulator) -> None:
    with pytest.raises(InvalidInput) as caught:
        await forge.check_owner("bob")
    assert caught.value.field == "owner"
    assert "'bob'" in caught.value.rule and "alice" in caught.value.rule
    assert writes(api_calls(checked)) == []


async def test_an_org_whose_members_may_not_create_is_bad_input(
    forge: Forge,
    flavour: Flavour,
    emulator: ForgeEmulator,
    checked: ForgeEmulator,
    repo_name: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GitHub and Gitea report the member's permission; GitLab tells the group's
    `project_creation_level` (Maintainer here) and the member's role (Developer) apart."""
    with pytest.raises(InvalidInput) as caught:
        await forge.check_owner(LOCKED_ORG)
    error = caught.value
    assert error.field == "owner"
    group = "group" if flavour.kind is ForgeKind.GITLAB else "organization"
    assert error.rule.startswith(f"alice may not create repositories in the {group} '{LOCKED_ORG}'")
    assert error.hint and error.hint.startswith(f"ask an owner of {LOCKED_ORG} ")
    if flavour.kind is ForgeKind.GITLAB:
        assert "takes the Maintainer role or higher, and alice's role is Developer" in error.rule
        assert "give alice the Maintainer role" in error.hint
    assert writes(api_calls(checked)) == []
    assert_no_secret(error, forge, caplog, capsys)
    # ... which is what creating there would have run into, and nothing is created
    with pytest.raises(ForgeError):
        await forge.ensure_repository(
            owner=LOCKED_ORG, name=repo_name, project="shop", private=True, description=""
        )
    assert emulator.state.repo(LOCKED_ORG, repo_name) is None


async def test_gitlab_nested_group_the_account_cannot_see_is_bad_input(
    emulator: ForgeEmulator,
) -> None:
    forge = make_forge(emulator, next(f for f in FLAVOURS if f.kind is ForgeKind.GITLAB))
    with pytest.raises(InvalidInput) as caught:
        await forge.check_owner("acme/platform")
    assert "'acme/platform'" in caught.value.rule and "alice" in caught.value.rule
    await forge.aclose()


async def test_github_token_without_read_org_is_not_refused_for_its_org(
    emulator: ForgeEmulator,
) -> None:
    """GitHub hides memberships from a classic token without `read:org`; such a token can
    still create repositories in its orgs, so the owner is let through unverified."""
    forge = make_forge(emulator, FLAVOURS[0], OAUTH_TOKEN)  # scopes: repo, api
    emulator.clear_requests()
    assert await forge.check_owner("acme") == "acme"
    statuses = [(r.path, r.status) for r in api_calls(emulator)]
    assert ("/user/memberships/orgs/acme", 403) in statuses
    await forge.aclose()


async def test_github_rate_limit_on_membership_is_waited_out_not_taken_for_no_access(
    emulator: ForgeEmulator,
) -> None:
    forge = make_forge(emulator, FLAVOURS[0])
    emulator.clear_requests()
    emulator.add_fault(
        403,
        path_prefix=f"/user/memberships/orgs/{CLOSED_ORG}",
        retry_after=0,
        headers={"x-ratelimit-remaining": "0"},
    )
    with pytest.raises(InvalidInput):
        await forge.check_owner(CLOSED_ORG)
    memberships = [r.status for r in emulator.requests() if "/memberships/" in r.path]
    assert memberships == [403, 404]
    await forge.aclose()


async def test_a_server_error_on_the_lookup_is_retried(
    forge: Forge, flavour: Flavour, checked: ForgeEmulator
) -> None:
    checked.add_fault(502, path_prefix=lookup_path(flavour, "acme"), count=2)
    assert await forge.check_owner("acme") == "acme"
    assert [r.status for r in checked.requests() if r.faulted] == [502, 502]


async def test_failures_that_persist_are_forge_errors_not_bad_input(
    forge: Forge, flavour: Flavour, emulator: ForgeEmulator
) -> None:
    emulator.add_fault(503, path_prefix=lookup_path(flavour, "acme"), count=50)
    with pytest.raises(ForgeError) as caught:
        await forge.check_owner("acme")
    emulator.clear_faults()
    assert "HTTP 503" in str(caught.value)

    rejected = make_forge(emulator, flavour, WRONG_TOKEN)
    with pytest.raises(ForgeError) as caught:
        await rejected.check_owner("acme")
    assert "token rejected" in str(caught.value)
    await rejected.aclose()


async def test_emulated_account_answers_parse_as_githubkit_models(emulator: ForgeEmulator) -> None:
    """The GitHub shapes the owner check reads validate against githubkit's models."""
    gh = GitHub(TOKEN, base_url=emulator.url + "/", auto_retry=False, http_cache=False)
    org = (await gh.rest.orgs.async_get("acme")).parsed_data
    assert (org.login, org.type) == ("acme", "Organization")
    user = (await gh.rest.users.async_get_by_username("bob")).parsed_data
    assert (user.login, user.type) == ("bob", "User")
    membership = (
        await gh.rest.orgs.async_get_membership_for_authenticated_user("locked-org")
    ).parsed_data
    assert (membership.state, membership.role, membership.organization.login) == (
        "active",
        "member",
        LOCKED_ORG,
    )
    assert membership.user is not None and membership.user.login == "alice"
    assert membership.permissions and membership.permissions.can_create_repository is False


async def test_emulated_gitlab_and_gitea_owner_endpoints(emulator: ForgeEmulator) -> None:
    """The fields and status codes the GitLab and Gitea checks rely on."""
    headers = {"Authorization": f"token {TOKEN}"}
    async with httpx.AsyncClient(base_url=emulator.url, headers=headers) as client:
        group = await client.get("/api/v4/namespaces/acme")
        assert group.status_code == 200
        assert (group.json()["kind"], group.json()["full_path"]) == ("group", "acme")
        hidden = await client.get(f"/api/v4/namespaces/{CLOSED_ORG}")
        assert hidden.status_code == 404
        exists = await client.get(f"/api/v4/namespaces/{CLOSED_ORG}/exists")
        assert exists.json() == {"exists": True, "suggests": [f"{CLOSED_ORG}1"]}
        missing = await client.get("/api/v4/namespaces/nobody-org/exists")
        assert missing.json() == {"exists": False, "suggests": []}
        alice, bob = emulator.state.account("alice"), emulator.state.account("bob")
        assert alice is not None and bob is not None
        levels: dict[str, str] = {}
        for name in ("acme", LOCKED_ORG):
            group = (await client.get(f"/api/v4/groups/{name}")).json()
            levels[name] = group["project_creation_level"]
            role = await client.get(f"/api/v4/groups/{group['id']}/members/all/{alice.id}")
            assert role.json()["access_level"] == 30  # Developer
        assert levels == {"acme": "developer", LOCKED_ORG: "maintainer"}
        hidden_group = await client.get(f"/api/v4/groups/{CLOSED_ORG}")
        assert (hidden_group.status_code, hidden_group.json()) == (
            404,
            {"message": "404 Group Not Found"},
        )
        outsider = await client.get(f"/api/v4/groups/acme/members/all/{bob.id}")
        assert (outsider.status_code, outsider.json()) == (404, {"message": "404 Not found"})

        assert (await client.get("/api/v1/orgs/acme/members/alice")).status_code == 204
        assert (await client.get(f"/api/v1/orgs/{CLOSED_ORG}/members/alice")).status_code == 404
        asking_about_bob = await client.get(f"/api/v1/orgs/{CLOSED_ORG}/members/bob")
        assert asking_about_bob.status_code == 303  # not a member: sent to public membership
        assert asking_about_bob.headers["location"].endswith(
            f"/api/v1/orgs/{CLOSED_ORG}/public_members/bob"
        )
        permissions = await client.get(f"/api/v1/users/alice/orgs/{LOCKED_ORG}/permissions")
        assert permissions.json() == {
            "is_owner": False,
            "is_admin": False,
            "can_write": True,
            "can_read": True,
            "can_create_repository": False,
        }
        assert (await client.get("/api/v1/users/nobody-org")).status_code == 404


async def test_with_an_owner_the_account_and_the_namespace_are_read_once(
    emulator: ForgeEmulator, flavour: Flavour, repo_name: str
) -> None:
    """Checking `--owner` and then creating there, on one adapter: the account is read once
    and remembered, and GitLab's namespace (whose id the create call needs) once."""
    forge = make_forge(emulator, flavour)
    with emulator.recording() as log:
        assert await forge.check_owner("acme") == "acme"
        await forge.ensure_repository(
            owner="acme", name=repo_name, project="shop", private=True, description=""
        )
    await forge.aclose()
    reads = [r.path for r in log.requests() if r.method == "GET"]
    assert reads.count(f"{flavour.prefix}/user") == 1
    if flavour.kind is ForgeKind.GITLAB:
        assert reads.count(f"{flavour.prefix}/namespaces/acme") == 1


@pytest.mark.parametrize("owner", [None, "alice", "acme"], ids=["none", "login", "org"])
async def test_a_stored_login_is_never_read_again(
    emulator: ForgeEmulator, flavour: Flavour, repo_name: str, owner: str | None
) -> None:
    forge = make_forge(emulator, flavour, login="alice")
    with emulator.recording() as log:
        repo = await forge.ensure_repository(
            owner=owner, name=repo_name, project="shop", private=True, description=""
        )
    await forge.aclose()
    assert repo.owner == (owner or "alice")
    assert f"{flavour.prefix}/user" not in [r.path for r in log.requests()]
