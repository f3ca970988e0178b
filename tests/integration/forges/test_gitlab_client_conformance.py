"""The GitLab emulator seen through python-gitlab, a client nobody here wrote: what its users
read back (projects, commits, files, pages) and the exceptions it raises must match GitLab.

python-gitlab is synchronous; it talks to the emulator's uvicorn thread over real HTTP.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import gitlab
import pytest
from gitlab.client import GitlabList
from gitlab.exceptions import (
    GitlabAuthenticationError,
    GitlabCreateError,
    GitlabError,
    GitlabGetError,
)
from gitlab.v4.objects import Project

from slipway.sandbox.forge import ForgeEmulator

from ._support import OUTSIDER_TOKEN, TOKEN, WRONG_TOKEN

MAINTAINERS_ONLY = "maintainers-only"  # alice is a Developer; creating takes a Maintainer
PNG = bytes(range(256)) + b"\x89PNG\r\n\x1a\n\x00\xff"  # not UTF-8: must go as base64
KUSTOMIZATION = "resources:\n  - deployment.yaml\n"


def error_body(error: GitlabError) -> Any:
    """The decoded JSON `message` (python-gitlab types it as `str`, but keeps GitLab's dict)."""
    return error.error_message


def client(emulator: ForgeEmulator, token: str) -> gitlab.Gitlab:
    """python-gitlab pointed at the instance URL, as a user would configure it."""
    return gitlab.Gitlab(emulator.url, private_token=token, timeout=10)


@pytest.fixture(scope="module", autouse=True)
def _maintainers_only(emulator: ForgeEmulator) -> None:
    emulator.add_org(MAINTAINERS_ONLY, members=("alice",), members_can_create_repositories=False)


@pytest.fixture
def gl(emulator: ForgeEmulator) -> gitlab.Gitlab:
    emulator.clear_faults()
    return client(emulator, TOKEN)


@pytest.fixture
def acme_id(gl: gitlab.Gitlab) -> int:
    return int(gl.namespaces.get("acme").id)


@pytest.fixture
def project(gl: gitlab.Gitlab, acme_id: int, repo_name: str) -> Iterator[Project]:
    """A private project in the `acme` group with GitLab's initial README commit."""
    created = gl.projects.create(
        {
            "name": repo_name,
            "namespace_id": acme_id,
            "visibility": "private",
            "initialize_with_readme": True,
        }
    )
    yield created
    created.delete()


def add_files(project: Project, message: str, files: dict[str, bytes]) -> str:
    """One commit creating `files` (text inline, anything else base64); returns its id."""
    actions = []
    for path, data in files.items():
        try:
            action = {"content": data.decode(), "encoding": "text"}
        except UnicodeDecodeError:
            action = {"content": base64.b64encode(data).decode(), "encoding": "base64"}
        actions.append({"action": "create", "file_path": path, **action})
    commit = project.commits.create(
        {"branch": "main", "commit_message": message, "actions": actions}
    )
    return str(commit.id)


def test_auth_reads_the_token_owner(gl: gitlab.Gitlab) -> None:
    gl.auth()
    assert gl.user is not None
    assert gl.user.username == "alice"
    assert isinstance(gl.user.id, int)


def test_a_wrong_token_fails_auth_with_401(emulator: ForgeEmulator) -> None:
    with pytest.raises(GitlabAuthenticationError) as caught:
        client(emulator, WRONG_TOKEN).auth()
    assert caught.value.response_code == 401
    assert caught.value.error_message == "401 Unauthorized"


def test_a_project_created_in_a_group_reads_back_by_path_and_by_id(
    gl: gitlab.Gitlab, emulator: ForgeEmulator, acme_id: int, repo_name: str
) -> None:
    namespace = gl.namespaces.get("acme")
    assert (namespace.kind, namespace.full_path) == ("group", "acme")
    created = gl.projects.create(
        {
            "name": repo_name,
            "namespace_id": acme_id,
            "visibility": "private",
            "description": "made by python-gitlab",
            "initialize_with_readme": True,
            "topics": ["slipway", "gitops"],
        }
    )
    by_path = gl.projects.get(f"acme/{repo_name}")  # sent as acme%2F<name>
    by_id = gl.projects.get(created.id)
    for seen in (created, by_path, by_id):
        assert seen.id == created.id
        assert seen.path_with_namespace == f"acme/{repo_name}"
        assert seen.default_branch == "main"
        assert seen.http_url_to_repo == f"{emulator.url}/acme/{repo_name}.git"
        assert seen.web_url == f"{emulator.url}/acme/{repo_name}"
        assert seen.visibility == "private"
        assert seen.topics == ["slipway", "gitops"]
        assert seen.description == "made by python-gitlab"
        assert seen.empty_repo is False
        assert seen.namespace["id"] == acme_id
        assert (seen.namespace["full_path"], seen.namespace["kind"]) == ("acme", "group")
    readme = by_path.files.get(file_path="README.md", ref="main")
    assert readme.decode() == f"# {repo_name}\n".encode()
    created.delete()
    with pytest.raises(GitlabGetError):
        gl.projects.get(created.id)


def test_a_project_without_readme_is_empty_and_has_no_default_branch(
    gl: gitlab.Gitlab, repo_name: str
) -> None:
    created = gl.projects.create({"name": repo_name, "visibility": "private"})
    try:
        assert created.path_with_namespace == f"alice/{repo_name}"
        assert created.namespace["kind"] == "user"
        assert created.empty_repo is True
        assert created.default_branch is None
        assert created.commits.list(get_all=True) == []
    finally:
        created.delete()


def test_a_commit_with_text_and_binary_files_reads_back(project: Project) -> None:
    (initial,) = project.commits.list(get_all=True)
    sha = add_files(
        project,
        "Add the base\n\nfrom python-gitlab",
        {"k8s/base/kustomization.yaml": KUSTOMIZATION.encode(), "assets/logo.png": PNG},
    )
    assert len(sha) == 40
    commits = project.commits.list(get_all=True)
    assert [c.id for c in commits] == [sha, initial.id]
    commit = project.commits.get(sha)
    assert (commit.title, commit.message) == ("Add the base", "Add the base\n\nfrom python-gitlab")
    assert commit.parent_ids == [initial.id]
    assert commit.short_id == sha[:8]

    text = project.files.get(file_path="k8s/base/kustomization.yaml", ref="main")
    assert text.decode() == KUSTOMIZATION.encode()
    assert (text.file_name, text.file_path, text.ref) == (
        "kustomization.yaml",
        "k8s/base/kustomization.yaml",
        "main",
    )
    assert text.size == len(KUSTOMIZATION)
    assert text.content_sha256 == hashlib.sha256(KUSTOMIZATION.encode()).hexdigest()
    assert (text.commit_id, text.last_commit_id) == (sha, sha)
    logo = project.files.get(file_path="assets/logo.png", ref=sha)
    assert logo.decode() == PNG
    assert project.files.raw(file_path="assets/logo.png", ref="main") == PNG
    assert project.files.raw(file_path="k8s/base/kustomization.yaml") == KUSTOMIZATION.encode()
    readme = project.files.get(file_path="README.md", ref="main")
    assert (readme.commit_id, readme.last_commit_id) == (sha, initial.id)
    tree = project.repository_tree(ref="main", recursive=True, get_all=True)
    blobs = sorted(i["path"] for i in tree if i["type"] == "blob")
    assert blobs == ["README.md", "assets/logo.png", "k8s/base/kustomization.yaml"]
    # Directories are entries too: recursive lists them, a plain listing shows one level.
    assert sorted(i["path"] for i in tree if i["type"] == "tree") == ["assets", "k8s", "k8s/base"]
    top = project.repository_tree(ref="main", get_all=True)
    assert [(i["type"], i["name"]) for i in top] == [
        ("tree", "assets"),
        ("tree", "k8s"),
        ("blob", "README.md"),
    ]
    base = project.repository_tree(ref="main", path="k8s/base", get_all=True)
    assert [(i["path"], i["mode"]) for i in base] == [("k8s/base/kustomization.yaml", "100644")]


def test_update_and_delete_actions_change_what_files_return(project: Project) -> None:
    project.commits.create(
        {
            "branch": "main",
            "commit_message": "Replace the README",
            "actions": [
                {"action": "update", "file_path": "README.md", "content": "# new\n"},
                {"action": "create", "file_path": "docs/a.md", "content": "a\n"},
            ],
        }
    )
    removed = project.commits.create(
        {
            "branch": "main",
            "commit_message": "Drop the docs",
            "actions": [{"action": "delete", "file_path": "docs/a.md"}],
        }
    )
    assert project.files.raw(file_path="README.md", ref="main") == b"# new\n"
    with pytest.raises(GitlabGetError) as caught:
        project.files.get(file_path="docs/a.md", ref="main")
    assert (caught.value.response_code, caught.value.error_message) == (404, "404 File Not Found")
    older = project.files.get(file_path="docs/a.md", ref=removed.parent_ids[0])
    assert older.decode() == b"a\n"


def test_creating_a_file_that_exists_is_a_400(project: Project) -> None:
    with pytest.raises(GitlabCreateError) as caught:
        add_files(project, "again", {"README.md": b"x\n"})
    assert caught.value.response_code == 400
    assert caught.value.error_message == "A file with this name already exists"


def test_a_missing_project_is_a_404(gl: gitlab.Gitlab) -> None:
    with pytest.raises(GitlabGetError) as caught:
        gl.projects.get("acme/no-such-project")
    assert (caught.value.response_code, caught.value.error_message) == (
        404,
        "404 Project Not Found",
    )


def test_a_taken_name_is_a_400_naming_the_fields(
    gl: gitlab.Gitlab, acme_id: int, project: Project
) -> None:
    with pytest.raises(GitlabCreateError) as caught:
        gl.projects.create({"name": project.name, "namespace_id": acme_id})
    assert caught.value.response_code == 400
    message = caught.value.error_message
    assert isinstance(message, dict)
    assert message["name"] == ["has already been taken"]
    assert message["path"] == ["has already been taken"]


def test_an_outsider_can_neither_see_nor_create_in_the_group(
    emulator: ForgeEmulator, acme_id: int, project: Project, repo_name: str
) -> None:
    bob = client(emulator, OUTSIDER_TOKEN)
    bob.auth()
    assert bob.user is not None and bob.user.username == "bob"
    with pytest.raises(GitlabGetError) as hidden:
        bob.namespaces.get("acme")
    assert (hidden.value.response_code, hidden.value.error_message) == (
        404,
        "404 Namespace Not Found",
    )
    for ident in (project.path_with_namespace, project.id):
        with pytest.raises(GitlabGetError) as missing:
            bob.projects.get(ident)
        assert missing.value.response_code == 404
    with pytest.raises(GitlabCreateError) as refused:
        bob.projects.create({"name": repo_name, "namespace_id": acme_id})
    assert refused.value.response_code == 400
    assert error_body(refused.value) == {"namespace": ["is not valid"]}
    with pytest.raises(GitlabCreateError) as blocked:
        bob.projects.get(project.id, lazy=True).commits.create(
            {
                "branch": "main",
                "commit_message": "sneak in",
                "actions": [{"action": "create", "file_path": "x.txt", "content": "x"}],
            }
        )
    assert blocked.value.response_code == 404
    own = bob.projects.create({"name": repo_name})  # the same name is free in bob's namespace
    try:
        assert own.path_with_namespace == f"bob/{repo_name}"
    finally:
        own.delete()


def test_get_all_follows_the_link_header_across_pages(project: Project) -> None:
    files = {f"k8s/f{n:02}.yaml": f"n: {n}\n".encode() for n in range(25)}
    add_files(project, "many files", files)
    pages = project.repository_tree(ref="main", recursive=True, iterator=True, per_page=10)
    assert isinstance(pages, GitlabList)
    assert (pages.total, pages.total_pages, pages.per_page, pages.next_page) == (27, 3, 10, 2)
    listed = project.repository_tree(ref="main", recursive=True, get_all=True, per_page=10)
    assert sorted(i["path"] for i in listed) == sorted([*files, "README.md", "k8s"])


def test_commit_pages_carry_no_totals_like_gitlab(project: Project) -> None:
    for n in range(4):
        add_files(project, f"commit {n}", {f"c{n}.txt": b"x\n"})
    pages = project.commits.list(per_page=2, iterator=True)
    assert (pages.total, pages.total_pages, pages.next_page) == (None, None, 2)
    assert len(project.commits.list(per_page=2, get_all=True)) == 5
    # Without get_all a full page and no total make python-gitlab warn, as it does on GitLab.
    with pytest.warns(UserWarning, match="get_all=True"):
        assert len(project.commits.list(per_page=2)) == 2


def test_groups_tell_who_may_create_projects_and_the_member_role(
    gl: gitlab.Gitlab, emulator: ForgeEmulator, repo_name: str
) -> None:
    """What an owner check reads: the group's `project_creation_level` and the member's
    `access_level`, by path or id; a Developer is refused where Maintainers create."""
    gl.auth()
    assert gl.user is not None
    acme = gl.groups.get("acme")
    assert (acme.full_path, acme.project_creation_level) == ("acme", "developer")
    assert acme.members_all.get(gl.user.id).access_level == 30
    locked = gl.groups.get(MAINTAINERS_ONLY)
    assert gl.groups.get(locked.id).project_creation_level == "maintainer"
    member = locked.members_all.get(gl.user.id)
    assert (member.id, member.username, member.access_level) == (gl.user.id, "alice", 30)
    with pytest.raises(GitlabCreateError) as refused:
        gl.projects.create({"name": repo_name, "namespace_id": locked.id})
    assert (refused.value.response_code, error_body(refused.value)) == (
        400,
        {"namespace": ["is not valid"]},
    )
    with pytest.raises(GitlabGetError):
        gl.projects.get(f"{MAINTAINERS_ONLY}/{repo_name}")

    bob = client(emulator, OUTSIDER_TOKEN)
    bob.auth()
    assert bob.user is not None
    with pytest.raises(GitlabGetError) as hidden:
        bob.groups.get("acme")
    assert (hidden.value.response_code, hidden.value.error_message) == (
        404,
        "404 Group Not Found",
    )
    with pytest.raises(GitlabGetError) as outsider:
        acme.members_all.get(bob.user.id)
    assert (outsider.value.response_code, outsider.value.error_message) == (404, "404 Not found")
