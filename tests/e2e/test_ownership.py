"""Issue 10's ownership findings, reproduced as a stranger would: `slipway` processes against
the session sandbox, one data directory per installation. Each refusal is checked on all
three systems: the forge (repositories, branch heads, the write requests Slipway made), the
cluster (namespaces, labels, the write requests Slipway made) and the database (rows).

Findings: 1, two projects whose names compose into one namespace; 2, a second installation
rewriting a repository another one created; 4, preflight found only after recording."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.helpers import FLUX_KUSTOMIZE, FLUX_SOURCE, push_own_commit
from tests.e2e.test_cli_input import slipway_rows, snapshot
from tests.support.cli import CliResult, SlipwayProcesses, Transcript, clean_environment
from tests.support.commands import git

from slipway.domain.names import ResourceNames
from slipway.sandbox.kube import KubeEmulator
from slipway.sandbox.runner import FLUX_USER, SANDBOX_USER, Sandbox

LABEL_INSTALLATION = "slipway.dev/installation"
LABEL_PROJECT = "slipway.dev/project"
# A token the forge rejects and a token without the `repo` scope: neither may be printed.
WRONG_TOKEN = f"own_wrong_{secrets.token_hex(8)}"
READ_ONLY_TOKEN = f"own_readonly_{secrets.token_hex(8)}"
WRITES = {"create", "update", "patch", "delete", "deletecollection"}
# (api version, kind, attribute of ResourceNames); the Namespace is the environment's own.
OBJECTS = (
    ("v1", "Secret", "git_secret"),
    ("v1", "ServiceAccount", "service_account"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "role_binding"),
    (FLUX_SOURCE, "GitRepository", "git_repository"),
    (FLUX_KUSTOMIZE, "Kustomization", "kustomization"),
)


@dataclass
class Installation:
    """One Slipway installation: its own data directory (database, installation ID), the
    shared sandbox's forge and cluster. Every output is checked for the tokens."""

    data_dir: Path
    slipway: SlipwayProcesses
    _id: str | None = field(default=None, init=False)

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        return self.slipway(*args, env=env)

    def show(self, name: str) -> dict[str, Any]:
        done = self("project", "show", name, "--json")
        assert done.returncode == 0, done.stderr
        view: dict[str, Any] = json.loads(done.stdout)
        return view

    def rows(self) -> dict[str, int]:
        return slipway_rows(self.data_dir)

    @property
    def id(self) -> str:
        """The installation ID as `slipway doctor` prints it."""
        if self._id is None:
            self._id = doctor_installation_id(self)
        return self._id


def doctor_installation_id(installation: Installation) -> str:
    done = installation("doctor")
    assert done.returncode == 0, done.stdout
    found = re.search(r"^ok\s+installation: ([0-9a-f]{8,}) ", done.stdout, re.MULTILINE)
    assert found is not None, done.stdout
    return found.group(1)


def make_installation(sandbox: Sandbox, root: Path) -> Installation:
    env = clean_environment(
        **sandbox.environment(),
        SLIPWAY_DATA_DIR=str(root / "data"),
        SLIPWAY_READY_TIMEOUT="60",
        SLIPWAY_LEASE_SECONDS="2",
        SLIPWAY_LOG_LEVEL="warning",
    )
    tokens = (sandbox.forge_token, WRONG_TOKEN, READ_ONLY_TOKEN)
    root.mkdir(parents=True, exist_ok=True)
    return Installation(root / "data", SlipwayProcesses(env, root, Transcript(tokens)))


@pytest.fixture(scope="module")
def first(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Installation:
    """Installation one, shared by the module: it owns the projects the others run into."""
    return make_installation(sandbox, tmp_path_factory.mktemp("own-first"))


@pytest.fixture
def installation(sandbox: Sandbox, tmp_path: Path) -> Callable[[str], Installation]:
    """Another installation per call, each with its own data directory."""
    return lambda name: make_installation(sandbox, tmp_path / name)


@pytest.fixture(scope="module")
def coll(first: Installation, sandbox: Sandbox) -> str:
    """Project `own-coll` with environment `a-staging`: namespace project-own-coll-a-staging,
    which project `own-coll-a` with environment `staging` would compose into as well."""
    done = first(
        "project", "create", "own-coll", "-t", "static-site", "--env", "a-staging", "--wait"
    )
    assert done.returncode == 0, done.stderr
    return "own-coll"


# --- reading the three systems --------------------------------------------------------


def authed_url(sandbox: Sandbox, name: str) -> str:
    assert sandbox.forge is not None
    return sandbox.forge.clone_url(SANDBOX_USER, name).replace(
        "http://", f"http://{SANDBOX_USER}:{sandbox.forge_token}@"
    )


def branch_head(sandbox: Sandbox, name: str, tmp_path: Path, branch: str = "main") -> str:
    """The branch's commit as `git ls-remote` sees it over HTTPS."""
    listed = git(tmp_path, "ls-remote", authed_url(sandbox, name), f"refs/heads/{branch}")
    return listed.split()[0]


def environment_objects(sandbox: Sandbox, project: str, env: str) -> dict[str, dict[str, Any]]:
    """The environment's Namespace and the five objects in it, by kind; absent ones left out."""
    assert sandbox.kube is not None
    names = ResourceNames(project, env)
    found = {"Namespace": sandbox.kube.get("v1", "Namespace", names.namespace)}
    for api_version, kind, attribute in OBJECTS:
        found[kind] = sandbox.kube.get(
            api_version, kind, getattr(names, attribute), names.namespace
        )
    return {kind: obj for kind, obj in found.items() if obj is not None}


def labelled(sandbox: Sandbox, project: str) -> list[str]:
    """Every object in the cluster that carries `project`'s label, as kind/namespace/name."""
    assert sandbox.kube is not None
    selector = f"{LABEL_PROJECT}={project}"
    return [
        f"{kind}/{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
        for api_version, kind in [("v1", "Namespace"), *((a, k) for a, k, _ in OBJECTS)]
        for obj in sandbox.kube.list(api_version, kind, label_selector=selector)
    ]


def ownership(objects: dict[str, dict[str, Any]]) -> dict[str, tuple[str | None, str | None]]:
    """Each object's project and installation labels, by kind."""
    return {
        kind: (
            obj["metadata"]["labels"].get(LABEL_PROJECT),
            obj["metadata"]["labels"].get(LABEL_INSTALLATION),
        )
        for kind, obj in objects.items()
    }


def specs(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What Slipway writes of each object (labels, spec, data): not Flux's status."""
    return {
        kind: (obj["metadata"].get("labels"), obj.get("spec"), obj.get("data"))
        for kind, obj in objects.items()
    }


@dataclass
class Writes:
    forge: list[str] = field(default_factory=list)
    cluster: list[str] = field(default_factory=list)


@contextmanager
def slipway_writes(sandbox: Sandbox) -> Iterator[Writes]:
    """Every write Slipway (not git fetches, not the Flux emulator, not the cluster's own
    controllers) made to the forge and the cluster inside the block; access reviews and
    server-side dry runs store nothing."""
    assert sandbox.forge is not None and sandbox.kube is not None
    writes = Writes()
    with sandbox.forge.recording() as forge, sandbox.kube.recording() as kube:
        yield writes
    writes.forge = [
        f"{r.method} {r.path}"
        for r in forge.requests()
        if r.method in ("POST", "PUT", "PATCH", "DELETE") and not r.path.endswith("git-upload-pack")
    ]
    writes.cluster = [
        f"{r.verb} {r.path}"
        for r in kube.requests()
        if r.verb in WRITES
        and FLUX_USER not in (r.user, r.impersonator)
        and not r.user.startswith("system:")  # the cluster's own controllers (deployments)
        and r.group != "authorization.k8s.io"  # access and rules reviews store nothing
        and "dryRun" not in r.query
    ]


def one_error_line(done: CliResult) -> str:
    """A refusal prints one short line on stderr and nothing on stdout."""
    assert done.stdout == "", done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert "not checked" not in lines[0]
    return lines[0]


def problems(done: CliResult) -> list[str]:
    """The `# problem: ...` lines a dry run prints before the files and manifests."""
    return [line for line in done.stdout.splitlines() if line.startswith("# problem: ")]


# --- finding 1: two projects, one namespace -------------------------------------------


def test_a_composed_namespace_collision_is_refused_and_the_first_project_keeps_it(
    first: Installation, coll: str, sandbox: Sandbox
) -> None:
    namespace = "project-own-coll-a-staging"
    assert sandbox.forge is not None
    before_objects = environment_objects(sandbox, coll, "a-staging")
    assert ownership(before_objects) == {kind: (coll, first.id) for kind in before_objects}
    assert len(before_objects) == 6
    before_rows, before_systems = first.rows(), snapshot(sandbox)

    args = ("project", "create", "own-coll-a", "-t", "static-site", "--env", "staging")
    with slipway_writes(sandbox) as writes:
        refused = first(*args, "--wait")
        dry = first(*args, "--dry-run")
    assert refused.returncode == 4, refused.stderr
    line = one_error_line(refused)
    assert line.count(namespace) == 1 and f"project '{coll}'" in line  # said once
    assert "--adopt" not in line  # another project's namespace is never to be taken over
    assert dry.returncode == 4, dry.stdout
    listed = problems(dry)
    assert len(listed) == 1, dry.stdout
    assert namespace in listed[0] and f"'{coll}'" in listed[0]

    # forge: no own-coll-a repository, nothing written
    assert writes.forge == []
    assert sandbox.forge.state.repo(SANDBOX_USER, "own-coll-a") is None
    # cluster: own-coll's namespace and objects exactly as they were, nothing written
    assert writes.cluster == []
    assert specs(environment_objects(sandbox, coll, "a-staging")) == specs(before_objects)
    assert labelled(sandbox, "own-coll-a") == []
    assert snapshot(sandbox) == before_systems
    # database: nothing recorded for own-coll-a; own-coll still active
    assert first.rows() == before_rows
    assert first("project", "show", "own-coll-a").returncode == 3
    view = first.show(coll)
    assert view["status"] == "active"
    assert [(e["name"], e["status"]) for e in view["environments"]] == [("a-staging", "ready")]


def test_the_same_collision_from_another_installation_is_refused_by_the_cluster(
    first: Installation,
    coll: str,
    installation: Callable[[str], Installation],
    sandbox: Sandbox,
) -> None:
    """Installation two has no row for own-coll: only the cluster's labels can tell."""
    namespace = "project-own-coll-a-staging"
    second = installation("second")
    before_objects = environment_objects(sandbox, coll, "a-staging")
    before_systems = snapshot(sandbox)

    args = ("project", "create", "own-coll-a", "-t", "static-site", "--env", "staging")
    with slipway_writes(sandbox) as writes:
        refused = second(*args, "--wait")
        dry = second(*args, "--dry-run")
    assert refused.returncode == 4, refused.stderr
    line = one_error_line(refused)
    assert namespace in line and f"project '{coll}'" in line
    assert f"another Slipway installation ({first.id})" in line
    assert "--adopt" not in line  # another project's namespace is never to be taken over
    assert dry.returncode == 4, dry.stdout
    listed = problems(dry)
    assert len(listed) == 1, dry.stdout
    assert namespace in listed[0] and first.id in listed[0]

    assert writes.forge == [] and writes.cluster == []
    assert snapshot(sandbox) == before_systems
    assert specs(environment_objects(sandbox, coll, "a-staging")) == specs(before_objects)
    assert labelled(sandbox, "own-coll-a") == []
    assert not any(second.rows().values()), second.rows()
    assert second("project", "show", "own-coll-a").returncode == 3
    assert first.show(coll)["status"] == "active"


# --- finding 2: another installation's repository --------------------------------------


def test_another_installations_repository_is_refused_then_adopted_without_a_rewrite(
    first: Installation,
    installation: Callable[[str], Installation],
    sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    assert sandbox.forge is not None
    name, env = "own-adopt2", "dev"
    created = first("project", "create", name, "-t", "nextjs", "--env", env, "--wait")
    assert created.returncode == 0, created.stderr

    # a user pushes a commit of their own
    users_commit = push_own_commit(
        sandbox, name, tmp_path / "checkout", "NOTES.md", "written by a person, not by Slipway\n"
    )
    assert branch_head(sandbox, name, tmp_path) == users_commit
    before_objects = environment_objects(sandbox, name, env)
    assert ownership(before_objects) == {kind: (name, first.id) for kind in before_objects}

    second = installation("second")
    args = ("project", "create", name, "-t", "nextjs", "--env", env)
    with slipway_writes(sandbox) as writes:
        refused = second(*args, "--wait")
        dry = second(*args, "--dry-run")
    assert refused.returncode == 4, refused.stderr
    line = one_error_line(refused)
    assert f"another Slipway installation ({first.id})" in line and "--adopt" in line
    assert dry.returncode == 4, dry.stdout
    assert [p for p in problems(dry) if first.id in p], dry.stdout

    # forge: the user's commit is the head, the repository still marked by installation one
    assert writes.forge == []
    assert branch_head(sandbox, name, tmp_path) == users_commit
    repo = sandbox.forge.state.repo(SANDBOX_USER, name)
    assert repo is not None
    assert f"[slipway:project={name} installation={first.id}]" in repo.description
    # cluster: every object still installation one's
    assert writes.cluster == []
    assert specs(environment_objects(sandbox, name, env)) == specs(before_objects)
    # database: installation two recorded nothing; installation one's project is untouched
    assert not any(second.rows().values()), second.rows()
    assert second("project", "show", name).returncode == 3
    assert first.show(name)["status"] == "active"

    adopted = second(*args, "--adopt", "--wait")
    assert adopted.returncode == 0, adopted.stderr
    assert second.id != first.id
    # forge: taken over (marker), never rewritten (the user's commit is still the head)
    assert branch_head(sandbox, name, tmp_path) == users_commit
    repo = sandbox.forge.state.repo(SANDBOX_USER, name)
    assert repo is not None
    assert f"[slipway:project={name} installation={second.id}]" in repo.description
    assert len([r for r in sandbox.forge.state.repos() if r.name == name]) == 1
    # cluster: every object now installation two's
    after = environment_objects(sandbox, name, env)
    assert ownership(after) == {kind: (name, second.id) for kind in before_objects}
    # database: installation two's project is active
    view = second.show(name)
    assert view["status"] == "active"
    assert {r["status"] for r in view["resources"]} == {"ready"}
    # Flux deploys the commit that was kept, not the one installation one had applied
    flux_revisions = {r["revision"] for r in view["resources"] if r["kind"] in FLUX_KINDS}
    assert flux_revisions == {f"main@sha1:{users_commit}"}, view["resources"]
    # only installation two's read-only key is left on the repository
    keys = sandbox.forge.state.deploy_keys(repo)
    assert [k.title for k in keys] == [
        k.title for k in keys if f"installation {second.id}" in k.title
    ]
    assert len(keys) == 1 and keys[0].read_only

    # installation one learns its project was taken over, not deleted
    synced = first("sync", "--once")
    assert synced.returncode == 0, synced.stderr
    left = first.show(name)
    assert {r["status"] for r in left["resources"]} == {"missing"}, left["resources"]
    assert all("took it over" in r["message"] for r in left["resources"]), left["resources"]
    assert "deleted outside Slipway" not in synced.stdout

    # a repair cannot take it back, and says how to let it go
    repaired = first("project", "repair", name, "--wait")
    assert repaired.returncode == 1, repaired.stderr
    assert f"`slipway project delete {name}` here lets it go" in repaired.stdout, repaired.stdout

    # and can let it go: its delete ends at once (nothing of its own to wait for) and takes
    # only its records; installation two's objects, key and repository stay
    with slipway_writes(sandbox) as writes:
        let_go = first("project", "delete", name, "--yes", env={"SLIPWAY_READY_TIMEOUT": "15"})
    assert let_go.returncode == 0, let_go.stderr
    assert writes.cluster == []
    assert first("project", "show", name).returncode == 3
    assert ownership(environment_objects(sandbox, name, env)) == ownership(after)
    assert [k.title for k in sandbox.forge.state.deploy_keys(repo)] == [k.title for k in keys]
    assert second.show(name)["status"] == "active"


FLUX_KINDS = ("GitRepository", "Kustomization")


# --- finding 4: preflight before anything is recorded -----------------------------------


def stopped_cluster(tmp_path: Path) -> dict[str, str]:
    """KUBECONFIG pointing at a Kubernetes API that is no longer running."""
    stopped = KubeEmulator().start()
    kubeconfig = stopped.write_kubeconfig(tmp_path / "kubeconfig-down")
    stopped.stop()
    return {"KUBECONFIG": str(kubeconfig)}


def read_only_token(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    """A token of the sandbox user that may read but lacks GitHub's `repo` scope."""
    assert sandbox.forge is not None
    sandbox.forge.add_token(READ_ONLY_TOKEN, SANDBOX_USER, scopes=("read:org", "read:user"))
    return {"SLIPWAY_FORGE_TOKEN": READ_ONLY_TOKEN}


def taken_repository(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    """The name is taken by a repository the user made by hand (GitHub's REST API)."""
    assert sandbox.forge is not None
    made = httpx.post(
        f"{sandbox.forge.url}/user/repos",
        json={"name": "own-taken", "description": "made by hand", "auto_init": True},
        headers={"Authorization": f"token {sandbox.forge_token}"},
    )
    assert made.status_code == 201, made.text
    return {}


def test_a_deleted_projects_repository_holding_the_teams_commit_is_refused_up_front(
    installation: Callable[[str], Installation], sandbox: Sandbox, tmp_path: Path
) -> None:
    """Deleted without --delete-repo, the repository stays with the team's commits on it;
    creating the name again is refused before anything is recorded (it used to fail at the
    push, a failed project that `create --adopt` could not reach), and --adopt keeps them."""
    here = installation("kept")
    name, env = "own-kept", "dev"
    args = ("project", "create", name, "-t", "static-site", "--env", env)
    assert here(*args, "--wait").returncode == 0
    teams_commit = push_own_commit(
        sandbox, name, tmp_path / "checkout", "NOTES.md", "the team's own work\n"
    )
    assert here("project", "delete", name, "--yes").returncode == 0

    with slipway_writes(sandbox) as writes:
        refused = here(*args, "--wait")
    assert refused.returncode == 4, refused.stderr
    line = one_error_line(refused)
    assert f"holds commit {teams_commit[:12]} that Slipway did not write" in line, line
    assert "run again with `--adopt` to keep the branch main as it is" in line, line
    assert (writes.forge, writes.cluster) == ([], [])
    assert here("project", "show", name).returncode == 3  # nothing recorded

    adopted = here(*args, "--adopt", "--wait")
    assert adopted.returncode == 0, adopted.stderr
    assert branch_head(sandbox, name, tmp_path) == teams_commit


@pytest.mark.parametrize(
    ("name", "arrange", "code", "says"),
    [
        ("own-badtoken", lambda s, p: {"SLIPWAY_FORGE_TOKEN": WRONG_TOKEN}, 5, "token rejected"),
        ("own-noscope", read_only_token, 5, "lacks scopes: repo"),
        ("own-taken", taken_repository, 4, "sandbox/own-taken already exists"),
        ("own-offline", lambda s, p: stopped_cluster(p), 5, "cannot reach the Kubernetes API"),
    ],
    ids=["token-rejected", "token-without-repo-scope", "repository-name-taken", "cluster-down"],
)
def test_preflight_refuses_before_anything_is_recorded_or_created(
    name: str,
    arrange: Callable[[Sandbox, Path], dict[str, str]],
    code: int,
    says: str,
    installation: Callable[[str], Installation],
    sandbox: Sandbox,
    tmp_path: Path,
) -> None:
    assert sandbox.forge is not None
    user = installation("user")
    env = arrange(sandbox, tmp_path)
    taken = sandbox.forge.state.repo(SANDBOX_USER, name)
    taken_head = branch_head(sandbox, name, tmp_path) if taken is not None else None
    before = snapshot(sandbox)

    args = ("project", "create", name, "-t", "static-site", "--env", "dev")
    with slipway_writes(sandbox) as writes:
        refused = user(*args, "--wait", env=env)
        dry = user(*args, "--dry-run", env=env)
    assert refused.returncode == code, refused.stderr
    line = one_error_line(refused)
    assert says in line and len(line) < 400, line
    assert dry.returncode == code, dry.stdout
    listed = problems(dry)
    assert len(listed) == 1 and says in listed[0], dry.stdout
    assert "not checked" not in dry.stdout

    # forge and cluster: nothing written, nothing new; a hand-made repository untouched
    assert writes.forge == [] and writes.cluster == []
    assert snapshot(sandbox) == before
    if taken is not None:
        assert branch_head(sandbox, name, tmp_path) == taken_head
        still = sandbox.forge.state.repo(SANDBOX_USER, name)
        assert still is not None and still.description == "made by hand"
    # database: nothing recorded, the name is still free
    assert not any(user.rows().values()), user.rows()
    assert user("project", "show", name).returncode == 3
    if taken is None:
        assert user(*args, "--dry-run").returncode == 0  # with the sandbox's own settings


# --- the installation ID -------------------------------------------------------------


def test_doctor_prints_an_installation_id_stable_per_data_directory(
    installation: Callable[[str], Installation],
) -> None:
    one, two = installation("one"), installation("two")
    first_run = doctor_installation_id(one)
    assert doctor_installation_id(one) == first_run
    assert doctor_installation_id(two) != first_run
    assert doctor_installation_id(two) == doctor_installation_id(two)
