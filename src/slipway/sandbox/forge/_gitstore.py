"""Real git objects for the emulator, written with dulwich into bare repositories on disk, so
`git clone` over smart HTTP sees exactly what the REST APIs created."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo

FILE_MODE = 0o100644
TREE_MODE = 0o040000
Entries = dict[str, tuple[int, str]]  # path -> (mode, object sha)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    author_name: str
    author_email: str
    time: int


def init_bare(path: Path, default_branch: str) -> None:
    path.mkdir(parents=True, exist_ok=False)
    repo = Repo.init_bare(str(path), default_branch=default_branch.encode())
    repo.close()


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _ref(name: str) -> Ref:
    return Ref(name.encode())


def _oid(sha: str) -> ObjectID:
    return ObjectID(sha.encode())


def _open(path: Path) -> Repo:
    return Repo(str(path))


def _sha(obj: ShaFile) -> str:
    return obj.id.decode("ascii")


def is_empty(path: Path) -> bool:
    repo = _open(path)
    try:
        return not any(ref.startswith(b"refs/heads/") for ref in repo.refs.allkeys())
    finally:
        repo.close()


def get_ref(path: Path, ref: str) -> str | None:
    repo = _open(path)
    try:
        name = _ref(ref)
        return repo.refs[name].decode("ascii") if name in repo.refs else None
    finally:
        repo.close()


def list_refs(path: Path, prefix: str = "refs/") -> dict[str, str]:
    repo = _open(path)
    try:
        return {
            name.decode(): repo.refs[name].decode("ascii")
            for name in repo.refs.allkeys()
            if name.startswith(prefix.encode()) and name != b"HEAD"
        }
    finally:
        repo.close()


def set_ref(path: Path, ref: str, sha: str) -> None:
    repo = _open(path)
    try:
        repo.refs[_ref(ref)] = _oid(sha)
    finally:
        repo.close()


def delete_ref(path: Path, ref: str) -> bool:
    repo = _open(path)
    try:
        return bool(repo.refs.remove_if_equals(_ref(ref), None))
    finally:
        repo.close()


def object_type(path: Path, sha: str) -> str | None:
    """ "blob", "tree", "commit", "tag", or None when the object is not there."""
    repo = _open(path)
    try:
        if len(sha) != 40 or _oid(sha) not in repo.object_store:
            return None
        return str(repo.object_store[_oid(sha)].type_name.decode())
    finally:
        repo.close()


def add_blobs(path: Path, blobs: list[bytes]) -> list[str]:
    repo = _open(path)
    try:
        objects = [Blob.from_string(data) for data in blobs]
        repo.object_store.add_objects([(o, None) for o in objects])
        return [_sha(o) for o in objects]
    finally:
        repo.close()


def read_blob(path: Path, sha: str) -> bytes | None:
    repo = _open(path)
    try:
        if len(sha) != 40 or _oid(sha) not in repo.object_store:
            return None
        obj = repo.object_store[_oid(sha)]
        return obj.data if isinstance(obj, Blob) else None
    finally:
        repo.close()


def flatten_tree(path: Path, tree_sha: str) -> Entries:
    """Every file under `tree_sha`, by full path."""
    return tree_entries(path, tree_sha, with_trees=False)


def tree_entries(path: Path, tree_sha: str, *, with_trees: bool = True) -> Entries:
    """Every entry under `tree_sha` by full path, in `git ls-tree -r` order; with `with_trees`
    the directories too (mode 040000, their tree id), each before its contents (`-t`)."""
    repo = _open(path)
    try:
        found: Entries = {}

        def walk(sha: ObjectID, prefix: str) -> None:
            tree = repo.object_store[sha]
            assert isinstance(tree, Tree)
            for item in tree.items():
                name = prefix + item.path.decode()
                if item.mode == TREE_MODE:
                    if with_trees:
                        found[name] = (item.mode, item.sha.decode("ascii"))
                    walk(item.sha, name + "/")
                else:
                    found[name] = (item.mode, item.sha.decode("ascii"))

        walk(_oid(tree_sha), "")
        return found
    finally:
        repo.close()


def list_tree(path: Path, tree_sha: str, *, recursive: bool, under: str = "") -> Entries:
    """What `git ls-tree [-r -t] <tree> <under>/` lists: the direct children of `under`, or
    with `recursive` everything below it, directories included, in git's order."""
    prefix = f"{under.strip('/')}/" if under.strip("/") else ""
    return {
        p: entry
        for p, entry in tree_entries(path, tree_sha).items()
        if p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :])
    }


def write_tree(path: Path, entries: Entries) -> str:
    """Write the nested trees holding `entries`; returns the root tree id."""
    root: dict[str, object] = {}
    for file_path, value in entries.items():
        *dirs, leaf = file_path.split("/")
        node = root
        for part in dirs:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"{file_path} is inside a file")
            node = child
        node[leaf] = value
    trees: list[Tree] = []

    def build(node: dict[str, object]) -> Tree:
        tree = Tree()
        for name, value in node.items():
            if isinstance(value, dict):
                tree.add(name.encode(), TREE_MODE, build(value).id)
            else:
                assert isinstance(value, tuple)
                tree.add(name.encode(), value[0], _oid(value[1]))
        trees.append(tree)
        return tree

    top = build(root)
    repo = _open(path)
    try:
        repo.object_store.add_objects([(t, None) for t in trees])
    finally:
        repo.close()
    return _sha(top)


def write_commit(
    path: Path,
    *,
    tree: str,
    parents: list[str],
    message: str,
    author_name: str,
    author_email: str,
) -> str:
    commit = Commit()
    commit.tree = _oid(tree)
    commit.parents = [_oid(p) for p in parents]
    identity = f"{author_name} <{author_email}>".encode()
    commit.author = commit.committer = identity
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = message.encode()
    repo = _open(path)
    try:
        repo.object_store.add_object(commit)
    finally:
        repo.close()
    return _sha(commit)


def read_commit(path: Path, sha: str) -> CommitInfo | None:
    repo = _open(path)
    try:
        if len(sha) != 40 or _oid(sha) not in repo.object_store:
            return None
        commit = repo.object_store[_oid(sha)]
        if not isinstance(commit, Commit):
            return None
        name, _, email = commit.author.decode().partition(" <")
        return CommitInfo(
            sha=sha,
            tree=commit.tree.decode("ascii"),
            parents=tuple(p.decode("ascii") for p in commit.parents),
            message=commit.message.decode("utf-8", "replace"),
            author_name=name,
            author_email=email.rstrip(">"),
            time=commit.commit_time,
        )
    finally:
        repo.close()
