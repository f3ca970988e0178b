"""Assertions on the end state of a project, read from each system with its own client:
the forge through git, the cluster through the emulator's API, the database through SQL."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from tests.support.commands import git

from slipway import store
from slipway.bootstrap import App
from slipway.domain.names import ResourceNames
from slipway.sandbox.runner import SANDBOX_USER, Sandbox
from slipway.templates import render_template

FLUX_SOURCE = "source.toolkit.fluxcd.io/v1"
FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io/v1"


def clone(sandbox: Sandbox, name: str, dest: Path, *, owner: str = SANDBOX_USER) -> Path:
    assert sandbox.forge is not None
    url = sandbox.forge.clone_url(owner, name).replace(
        "http://", f"http://{SANDBOX_USER}:{sandbox.forge_token}@"
    )
    git(dest.parent, "clone", "--quiet", url, str(dest))
    return dest


def push_own_commit(sandbox: Sandbox, name: str, checkout: Path, path: str, text: str) -> str:
    """A person's commit on `name`'s main (one file written), pushed over HTTP from a clone
    at `checkout`; its sha."""
    clone(sandbox, name, checkout)
    (checkout / path).write_text(text)
    git(checkout, "add", path)
    git(checkout, "commit", "--quiet", "-m", f"Write {path}")
    git(checkout, "push", "--quiet", "origin", "HEAD:main")
    return git(checkout, "rev-parse", "HEAD")


def tree_files(repo: Path) -> dict[str, bytes]:
    files = git(repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    return {path: (repo / path).read_bytes() for path in files}


def rows(app: App, sql: str, **params: Any) -> list[sa.Row[Any]]:
    with app.engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def assert_project_complete(app: App, sandbox: Sandbox, name: str, workdir: Path) -> None:
    """The end state of DESIGN.md, checked on the forge, the cluster and the database."""
    assert sandbox.forge is not None and sandbox.kube is not None
    with app.session() as session:
        project = store.require_project(session, name=name)
        repo_row = store.get_repository(session, project_id=project.id)
    assert project.status.value == "active", (project.failed_step, project.error_message)

    # forge: exactly one repository, exactly one commit, tree == rendered template
    repos = [r for r in sandbox.forge.state.repos() if r.name == name]
    assert len(repos) == 1
    checkout = clone(sandbox, name, workdir / f"clone-{name}")
    assert git(checkout, "rev-list", "--count", "HEAD") == "1"
    rendered = render_template(
        app.catalog.get(project.template),
        project=project.slug,
        environments=project.environments,
        parameters=project.parameters,
    )
    assert tree_files(checkout) == rendered.files
    assert repo_row is not None
    assert repo_row.initial_commit_sha == git(checkout, "rev-parse", "HEAD")

    # cluster: the objects of DESIGN.md per environment, with the right fields
    for env in project.environments:
        names = ResourceNames(project.slug, env)
        namespace = sandbox.kube.get("v1", "Namespace", names.namespace)
        assert namespace is not None
        assert namespace["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "slipway",
            "slipway.dev/project": project.slug,
            "slipway.dev/environment": env,
            "slipway.dev/installation": app.installation,
            "kubernetes.io/metadata.name": names.namespace,  # set by the API server
        }
        secret = sandbox.kube.get("v1", "Secret", names.git_secret, names.namespace)
        assert secret is not None
        decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        if project.git_auth.value == "ssh":
            # What Flux documents for SSH: a read-only deploy key and the forge's host keys.
            assert set(decoded) == {"identity", "identity.pub", "known_hosts"}
            assert decoded["known_hosts"] == sandbox.forge.ssh_known_hosts()
            assert sandbox.forge_token not in "".join(decoded.values())
        else:
            assert set(decoded) == {"username", "password"}
        assert sandbox.kube.get("v1", "ServiceAccount", names.service_account, names.namespace)
        binding = sandbox.kube.get(
            "rbac.authorization.k8s.io/v1", "RoleBinding", names.role_binding, names.namespace
        )
        assert binding is not None
        assert binding["subjects"][0]["name"] == names.service_account
        source = sandbox.kube.get(
            FLUX_SOURCE, "GitRepository", names.git_repository, names.namespace
        )
        assert source is not None
        expected_url = repo_row.ssh_url if project.git_auth.value == "ssh" else repo_row.clone_url
        assert source["spec"]["url"] == expected_url
        assert source["spec"]["ref"] == {"branch": repo_row.default_branch}
        assert source["spec"]["secretRef"] == {"name": names.git_secret}
        assert source["spec"]["interval"] == "1m"
        kustomization = sandbox.kube.get(
            FLUX_KUSTOMIZE, "Kustomization", names.kustomization, names.namespace
        )
        assert kustomization is not None
        spec = kustomization["spec"]
        assert spec["path"] == f"./k8s/overlays/{env}"
        assert spec["prune"] is True
        assert (spec["interval"], spec["timeout"]) == ("5m", "2m")
        assert spec["sourceRef"] == {"kind": "GitRepository", "name": names.git_repository}
        assert spec["targetNamespace"] == names.namespace
        assert spec["serviceAccountName"] == names.service_account
        revision = kustomization["status"]["lastAppliedRevision"]
        assert revision == f"{repo_row.default_branch}@sha1:{repo_row.initial_commit_sha}"

    # database: one row per object, all ready; no duplicates anywhere
    envs = len(project.environments)
    resources = rows(
        app,
        "SELECT id, project_id, environment_id, type, name, namespace, status, error_message,"
        " created_at, updated_at FROM gitops_resources WHERE project_id = :p",
        p=project.id,
    )
    assert len(resources) == 6 * envs
    assert {r.status for r in resources} == {"ready"}
    assert len(rows(app, "SELECT * FROM environments WHERE project_id = :p", p=project.id)) == envs
    assert len(rows(app, "SELECT * FROM repositories WHERE project_id = :p", p=project.id)) == 1
    assert_progress_monotonic(app, project.id, final="completed")


def assert_progress_monotonic(app: App, project_id: int, *, final: str) -> list[sa.Row[Any]]:
    events = rows(
        app,
        "SELECT sequence, step, percent, final FROM project_events WHERE project_id = :p"
        " ORDER BY sequence",
        p=project_id,
    )
    sequences = [e.sequence for e in events]
    assert sequences == list(range(1, len(events) + 1))
    percents = [e.percent for e in events]
    assert percents == sorted(percents)
    assert percents[0] == 0
    assert events[-1].final == final
    assert [e.final for e in events[:-1]] == [None] * (len(events) - 1)
    if final == "completed":
        assert percents[-1] == 100
    return events
