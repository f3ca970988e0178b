"""The first commit as git objects built in memory: deterministic, so its id is known locally.

Author, committer, time and message are fixed by the inputs (Slipway's identity, the
project's creation time, the message with trailers naming project and tree), so the same
files give the same commit id on every attempt: a re-run compares the branch with that id and
pushes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.objects import Commit, ShaFile
from dulwich.pack import write_pack_objects

from slipway.forges._marker import commit_message
from slipway.forges._tree import tree_objects

# Who Slipway's commits say made them; constant, so commit ids depend only on the inputs.
IDENTITY: Final = b"Slipway <slipway@users.noreply.invalid>"


@dataclass(frozen=True)
class Snapshot:
    """A parentless commit and every object it needs, ready to be packed."""

    commit: Commit
    objects: tuple[ShaFile, ...]

    @property
    def sha(self) -> str:
        return self.commit.id.decode("ascii")

    @property
    def tree_sha(self) -> str:
        return str(self.commit.tree.decode("ascii"))

    def pack(self) -> bytes:
        """One pack file holding every object whole (no deltas: nothing on the server to
        base them on, and deltifying costs more CPU than the bytes it saves here)."""
        out = io.BytesIO()
        write_pack_objects(
            out,
            [(o, None) for o in self.objects],
            DEFAULT_OBJECT_FORMAT,
            deltify=False,
        )
        return out.getvalue()


def snapshot(
    files: Mapping[str, bytes], *, message: str, project: str, committed_at: datetime
) -> Snapshot:
    """The commit of exactly `files` (mode 100644) with `message` and Slipway's trailers for
    `project`, made by `IDENTITY` at `committed_at` (a naive time is taken as UTC; stored to
    the second, in UTC)."""
    root, objects = tree_objects(files)
    when = committed_at if committed_at.tzinfo else committed_at.replace(tzinfo=UTC)
    commit = Commit()
    commit.tree = root.id
    commit.parents = []
    commit.author = commit.committer = IDENTITY
    commit.author_time = commit.commit_time = int(when.timestamp())
    commit.author_timezone = commit.commit_timezone = 0
    text = commit_message(message, project=project, tree_sha=root.id.decode("ascii"))
    commit.message = text.encode()
    return Snapshot(commit, (*objects, commit))
