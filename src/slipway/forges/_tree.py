"""Git object ids of a file set, computed locally (no I/O), and the text/binary split.

Knowing the tree id before talking to the forge makes `push_files` idempotent in one read: the
branch already holds the commit we would write exactly when its tree id equals this one.
"""

from __future__ import annotations

from collections.abc import Mapping

from dulwich.objects import Blob, ShaFile, Tree

from slipway.domain.errors import InvalidInput
from slipway.domain.text import t

FILE_MODE = 0o100644
TREE_MODE = 0o040000


def check_paths(files: Mapping[str, bytes]) -> None:
    """Reject paths git or the forges would refuse, before anything is written."""
    if not files:
        raise InvalidInput("files", t("at least one file is needed for a commit"))
    for path in files:
        parts = path.split("/")
        if path.startswith("/") or any(p in ("", ".", "..", ".git") for p in parts):
            raise InvalidInput(
                "files", t("{path!r} is not a relative path inside the repository", path=path)
            )


def is_text(data: bytes) -> bool:
    """Text goes inline in API requests; anything that is not NUL-free UTF-8 is sent as a blob."""
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def blob_sha(data: bytes) -> str:
    return str(Blob.from_string(data).id.decode("ascii"))


def tree_sha(files: Mapping[str, bytes]) -> str:
    """git's id of the tree holding exactly `files` (every file mode 100644)."""
    return _build(_nest(files), {}).id.decode("ascii")


def tree_objects(files: Mapping[str, bytes]) -> tuple[Tree, list[ShaFile]]:
    """The root tree of `files` and every blob and tree under it, each once: what a pack
    carrying them needs."""
    objects: dict[bytes, ShaFile] = {}
    root = _build(_nest(files), objects)
    return root, list(objects.values())


def _nest(files: Mapping[str, bytes]) -> dict[str, object]:
    root: dict[str, object] = {}
    for path, data in files.items():
        *dirs, leaf = path.split("/")
        node = root
        for part in dirs:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise InvalidInput(
                    "files", t("{path!r} is inside {part!r}, which is a file", path=path, part=part)
                )
            node = child
        if isinstance(node.get(leaf), dict):
            raise InvalidInput("files", t("{path!r} is both a file and a folder", path=path))
        node[leaf] = data
    return root


def _build(node: dict[str, object], objects: dict[bytes, ShaFile]) -> Tree:
    """The tree of `node`; every object made on the way is collected in `objects` by id."""
    tree = Tree()
    for name, value in node.items():
        if isinstance(value, dict):
            tree.add(name.encode(), TREE_MODE, _build(value, objects).id)
        else:
            assert isinstance(value, bytes)
            blob = Blob.from_string(value)
            objects[blob.id] = blob
            tree.add(name.encode(), FILE_MODE, blob.id)
    objects[tree.id] = tree
    return tree


def plan_changes(
    existing: Mapping[str, str], files: Mapping[str, bytes]
) -> tuple[list[str], list[str], list[str]]:
    """(create, update, delete) paths that turn a tree (path -> blob id) into exactly `files`;
    unchanged files are left out."""
    create = sorted(p for p in files if p not in existing)
    update = sorted(p for p in files if p in existing and existing[p] != blob_sha(files[p]))
    delete = sorted(p for p in existing if p not in files)
    return create, update, delete
