"""The deploy-key REST APIs of the forge emulator, through plain httpx (GitHub, Gitea) and
python-gitlab (GitLab): add, list, get, delete, and each forge's refusals: a key already in
use, a malformed key, someone else's repository, a token without the scope."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import gitlab
import httpx
import pytest
from githubkit_schemas.latest.models import DeployKey

from slipway.sandbox.forge import ForgeEmulator

from ._support import LOW_SCOPE_TOKEN, OUTSIDER_TOKEN, TOKEN

GITHUB_INVALID = "key is invalid. You must supply a key in OpenSSH public key format"


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"token {token}"}


def keygen(folder: Path, name: str = "flux") -> tuple[str, str]:
    """(public key line with its comment, private key text) of a fresh ed25519 pair."""
    path = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@test", "-f", str(path)],
        check=True,
    )
    return path.with_suffix(".pub").read_text(), path.read_text()


def new_repo(emulator: ForgeEmulator, owner: str = "alice", *, private: bool = True) -> str:
    name = f"keys-{uuid.uuid4().hex[:8]}"
    path = "/user/repos" if owner in ("alice", "bob") else f"/orgs/{owner}/repos"
    token = OUTSIDER_TOKEN if owner == "bob" else TOKEN
    created = httpx.post(
        emulator.url + path, json={"name": name, "private": private}, headers=auth(token)
    )
    assert created.status_code == 201, created.text
    return name


def github_validation(message: str) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [{"resource": "PublicKey", "code": "custom", "field": "key", "message": message}],
        "documentation_url": "https://docs.github.com/rest/deploy-keys/deploy-keys#create-a-deploy-key",
        "status": "422",
    }


# --- GitHub and GitHub Enterprise ---------------------------------------------------------


@pytest.fixture(params=["", "/api/v3"], ids=["github", "github-enterprise"])
def github(request: pytest.FixtureRequest, emulator: ForgeEmulator) -> str:
    return emulator.url + str(request.param)


def test_github_adds_lists_gets_and_deletes_a_deploy_key(
    github: str, emulator: ForgeEmulator, tmp_path: Path
) -> None:
    name = new_repo(emulator)
    public, _ = keygen(tmp_path)
    keys = f"{github}/repos/alice/{name}/keys"

    added = httpx.post(
        keys, json={"title": "flux", "key": public, "read_only": True}, headers=auth()
    )

    assert added.status_code == 201, added.text
    body = added.json()
    DeployKey.model_validate(body)
    assert set(body) >= {"id", "key", "url", "title", "verified", "created_at", "read_only"}
    assert body["key"] == " ".join(public.split()[:2])  # the comment is not kept
    assert (body["title"], body["read_only"], body["added_by"], body["last_used"]) == (
        "flux",
        True,
        "alice",
        None,
    )
    assert body["url"] == f"{keys}/{body['id']}"
    assert httpx.get(keys, headers=auth()).json() == [body]
    assert httpx.get(f"{keys}/{body['id']}", headers=auth()).json() == body

    assert httpx.delete(f"{keys}/{body['id']}", headers=auth()).status_code == 204
    assert httpx.get(f"{keys}/{body['id']}", headers=auth()).status_code == 404
    assert httpx.delete(f"{keys}/{body['id']}", headers=auth()).status_code == 404
    assert httpx.get(keys, headers=auth()).json() == []


def test_github_refuses_a_key_in_use_on_this_or_any_repository(
    github: str, emulator: ForgeEmulator, tmp_path: Path
) -> None:
    first, second = new_repo(emulator), new_repo(emulator)
    public, _ = keygen(tmp_path)
    key = {"title": "flux", "key": public, "read_only": True}
    assert httpx.post(f"{github}/repos/alice/{first}/keys", json=key, headers=auth()).is_success

    again = httpx.post(f"{github}/repos/alice/{first}/keys", json=key, headers=auth())
    elsewhere = httpx.post(f"{github}/repos/alice/{second}/keys", json=key, headers=auth())

    for refused in (again, elsewhere):
        assert refused.status_code == 422
        assert refused.json() == github_validation("key is already in use")
    assert httpx.get(f"{github}/repos/alice/{second}/keys", headers=auth()).json() == []


@pytest.mark.parametrize("kind", ["garbage", "private key", "truncated", "missing"])
def test_github_refuses_a_malformed_key(
    github: str, emulator: ForgeEmulator, tmp_path: Path, kind: str
) -> None:
    name = new_repo(emulator)
    public, private = keygen(tmp_path)
    given = {
        "garbage": "not a key",
        "private key": private,
        "truncated": public[:40],
        "missing": None,
    }[kind]
    body = {"title": "flux", "read_only": True} | ({"key": given} if given else {})

    refused = httpx.post(f"{github}/repos/alice/{name}/keys", json=body, headers=auth())

    assert refused.status_code == 422
    assert refused.json() == github_validation(GITHUB_INVALID)


@pytest.mark.parametrize("private", [True, False], ids=["private", "public"])
def test_github_hides_deploy_keys_from_non_admins_and_tokens_without_repo(
    github: str, emulator: ForgeEmulator, tmp_path: Path, private: bool
) -> None:
    name = new_repo(emulator, private=private)
    public, _ = keygen(tmp_path)
    keys = f"{github}/repos/alice/{name}/keys"
    key = {"title": "flux", "key": public, "read_only": True}

    for token in (OUTSIDER_TOKEN, LOW_SCOPE_TOKEN):
        assert httpx.post(keys, json=key, headers=auth(token)).status_code == 404
        assert httpx.get(keys, headers=auth(token)).status_code == 404
    assert httpx.post(keys, json=key).status_code == 401
    assert httpx.get(keys, headers=auth()).json() == []


def test_github_an_org_member_manages_the_org_repositorys_keys(
    github: str, emulator: ForgeEmulator, tmp_path: Path
) -> None:
    name = new_repo(emulator, "acme")
    public, _ = keygen(tmp_path)

    added = httpx.post(
        f"{github}/repos/acme/{name}/keys",
        json={"title": "flux", "key": public, "read_only": False},
        headers=auth(),
    )

    assert added.status_code == 201, added.text
    assert added.json()["read_only"] is False


def test_deleting_a_repository_drops_its_keys_so_the_key_is_free_again(
    emulator: ForgeEmulator, tmp_path: Path
) -> None:
    name = new_repo(emulator)
    public, _ = keygen(tmp_path)
    key = {"title": "flux", "key": public, "read_only": True}
    assert httpx.post(f"{emulator.url}/repos/alice/{name}/keys", json=key, headers=auth())
    assert httpx.delete(f"{emulator.url}/repos/alice/{name}", headers=auth()).status_code == 204
    created = httpx.post(
        f"{emulator.url}/user/repos", json={"name": name, "private": True}, headers=auth()
    )
    assert created.status_code == 201

    assert httpx.get(f"{emulator.url}/repos/alice/{name}/keys", headers=auth()).json() == []
    again = httpx.post(f"{emulator.url}/repos/alice/{name}/keys", json=key, headers=auth())
    assert again.status_code == 201, again.text


# --- GitLab ---------------------------------------------------------------------------


def gitlab_client(emulator: ForgeEmulator, token: str = TOKEN) -> gitlab.Gitlab:
    return gitlab.Gitlab(emulator.url, private_token=token)


def test_gitlab_adds_lists_gets_and_deletes_a_deploy_key(
    emulator: ForgeEmulator, tmp_path: Path
) -> None:
    name = new_repo(emulator)
    public, _ = keygen(tmp_path)
    project = gitlab_client(emulator).projects.get(f"alice/{name}")

    key = project.keys.create({"title": "flux", "key": public, "can_push": False})

    fingerprint = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(tmp_path / "flux.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    md5 = subprocess.run(
        ["ssh-keygen", "-l", "-E", "md5", "-f", str(tmp_path / "flux.pub")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    body = key.asdict()
    assert set(body) == {
        "id",
        "title",
        "key",
        "fingerprint",
        "fingerprint_sha256",
        "created_at",
        "expires_at",
        "can_push",
    }
    assert (body["title"], body["can_push"], body["expires_at"]) == ("flux", False, None)
    assert body["fingerprint_sha256"] == fingerprint
    assert f"MD5:{body['fingerprint']}" == md5
    assert [k.id for k in project.keys.list()] == [key.id]
    assert project.keys.get(key.id).asdict() == body

    project.keys.delete(key.id)

    assert project.keys.list() == []
    with pytest.raises(gitlab.GitlabGetError) as missing:
        project.keys.get(key.id)
    assert missing.value.response_code == 404


def test_gitlab_returns_a_key_the_project_has_and_joins_one_from_the_users_other_project(
    emulator: ForgeEmulator, tmp_path: Path
) -> None:
    first, second = new_repo(emulator), new_repo(emulator)
    public, _ = keygen(tmp_path)
    client = gitlab_client(emulator)
    one, two = client.projects.get(f"alice/{first}"), client.projects.get(f"alice/{second}")
    key = one.keys.create({"title": "flux", "key": public})

    again = one.keys.create({"title": "flux", "key": public})
    joined = two.keys.create({"title": "flux", "key": public, "can_push": True})

    assert again.id == joined.id == key.id
    assert [k.id for k in one.keys.list()] == [key.id]
    assert (joined.can_push, one.keys.get(key.id).can_push) == (True, False)


def test_gitlab_refuses_a_key_held_by_someone_elses_project(
    emulator: ForgeEmulator, tmp_path: Path
) -> None:
    mine, bobs = new_repo(emulator), new_repo(emulator, "bob")
    public, _ = keygen(tmp_path)
    gitlab_client(emulator, OUTSIDER_TOKEN).projects.get(f"bob/{bobs}").keys.create(
        {"title": "bob", "key": public}
    )

    taken = httpx.post(
        f"{emulator.url}/api/v4/projects/alice%2F{mine}/deploy_keys",
        json={"title": "flux", "key": public},
        headers={"PRIVATE-TOKEN": TOKEN},
    )

    assert taken.status_code == 400
    assert taken.json() == {
        "message": {"deploy_key.fingerprint_sha256": ["has already been taken"]}
    }


def test_gitlab_refusals_bad_key_missing_fields_scope_and_access(
    emulator: ForgeEmulator, tmp_path: Path
) -> None:
    name = new_repo(emulator)
    public, _ = keygen(tmp_path)
    url = f"{emulator.url}/api/v4/projects/alice%2F{name}/deploy_keys"
    alice = {"PRIVATE-TOKEN": TOKEN}

    bad = httpx.post(url, json={"title": "flux", "key": "ssh-ed25519 AAAAnotakey"}, headers=alice)
    missing = httpx.post(url, json={}, headers=alice)
    low = httpx.post(
        url, json={"title": "flux", "key": public}, headers={"PRIVATE-TOKEN": LOW_SCOPE_TOKEN}
    )
    outsider = httpx.get(url, headers={"PRIVATE-TOKEN": OUTSIDER_TOKEN})

    assert bad.status_code == 400
    assert "deploy_key.key" in bad.json()["message"]
    assert (missing.status_code, missing.json()) == (
        400,
        {"error": "key is missing, title is missing"},
    )
    assert (low.status_code, low.json()["error"]) == (403, "insufficient_scope")
    assert (outsider.status_code, outsider.json()) == (404, {"message": "404 Project Not Found"})
    assert httpx.get(url, headers=alice).json() == []


# --- Gitea ----------------------------------------------------------------------------


def test_gitea_adds_lists_gets_and_deletes_a_deploy_key(
    emulator: ForgeEmulator, tmp_path: Path
) -> None:
    name = new_repo(emulator)
    public, _ = keygen(tmp_path)
    keys = f"{emulator.url}/api/v1/repos/alice/{name}/keys"

    added = httpx.post(
        keys, json={"title": "flux", "key": public, "read_only": True}, headers=auth()
    )

    assert added.status_code == 201, added.text
    body = added.json()
    assert set(body) == {
        "id",
        "key_id",
        "key",
        "url",
        "title",
        "fingerprint",
        "created_at",
        "read_only",
        "repository",
    }
    assert body["url"] == f"{keys}/{body['id']}"
    assert body["fingerprint"].startswith("SHA256:")
    assert body["repository"]["full_name"] == f"alice/{name}"
    assert httpx.get(keys, headers=auth()).json() == [body]
    assert httpx.get(f"{keys}/{body['id']}", headers=auth()).json() == body
    assert httpx.delete(f"{keys}/{body['id']}", headers=auth()).status_code == 204
    assert httpx.get(f"{keys}/{body['id']}", headers=auth()).status_code == 404
    assert httpx.delete(f"{keys}/{body['id']}", headers=auth()).status_code == 204  # as Gitea
    assert httpx.get(keys, headers=auth()).json() == []


def test_gitea_shares_a_key_between_repositories_but_not_twice_or_a_title_on_one(
    emulator: ForgeEmulator, tmp_path: Path
) -> None:
    first, second = new_repo(emulator), new_repo(emulator)
    public, _ = keygen(tmp_path)
    key = {"title": "flux", "key": public, "read_only": True}
    api = f"{emulator.url}/api/v1/repos/alice"
    one = httpx.post(f"{api}/{first}/keys", json=key, headers=auth()).json()

    again = httpx.post(f"{api}/{first}/keys", json=key, headers=auth())
    other = httpx.post(f"{api}/{second}/keys", json=key, headers=auth())

    assert again.status_code == 422
    assert again.json()["message"] == "This key has already been added to this repository"
    assert other.status_code == 201
    assert other.json()["key_id"] == one["key_id"] and other.json()["id"] != one["id"]
    another, _ = keygen(tmp_path, "another")
    same_title = httpx.post(
        f"{api}/{first}/keys", json={"title": "flux", "key": another}, headers=auth()
    )
    assert (same_title.status_code, same_title.json()["message"]) == (
        422,
        "A key with the same name already exists",
    )


def test_gitea_refusals_bad_key_scope_and_access(emulator: ForgeEmulator, tmp_path: Path) -> None:
    name = new_repo(emulator)
    public, _ = keygen(tmp_path)
    keys = f"{emulator.url}/api/v1/repos/alice/{name}/keys"
    key = {"title": "flux", "key": public}

    bad = httpx.post(keys, json={"title": "flux", "key": "nonsense"}, headers=auth())
    untitled = httpx.post(keys, json={"key": public}, headers=auth())
    low = httpx.post(keys, json=key, headers=auth(LOW_SCOPE_TOKEN))
    outsider = httpx.post(keys, json=key, headers=auth(OUTSIDER_TOKEN))

    assert bad.status_code == 422 and bad.json()["message"].startswith("Invalid key content")
    assert (untitled.status_code, untitled.json()["message"]) == (422, "[Title]: Required")
    assert low.status_code == 403
    assert "write:repository" in low.json()["message"]
    assert outsider.status_code == 404
    assert httpx.get(keys, headers=auth()).json() == []
