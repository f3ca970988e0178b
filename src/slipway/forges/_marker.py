"""Slipway's marker: how a repository and a commit say that Slipway made them, for which project.

One scheme on every forge: the repository description ends with `[slipway:project=<name>]` (the
marker that decides reuse) and the repository carries the topic `slipway` (so people can find
them). A commit Slipway pushed ends with the trailers `Slipway-Project:` and `Slipway-Tree:`,
which let `push_files` recognise its own commit even where the API does not report tree ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOPIC = "slipway"
_DESCRIPTION_MARKER = re.compile(r"\[?slipway:project=([a-z0-9][a-z0-9-]*)\]?")
_PROJECT_TRAILER = re.compile(r"^Slipway-Project: *([a-z0-9][a-z0-9-]*) *$", re.MULTILINE)
_TREE_TRAILER = re.compile(r"^Slipway-Tree: *([0-9a-f]{40}) *$", re.MULTILINE)


def mark_description(description: str, project: str) -> str:
    """The description with Slipway's marker for `project` appended (any old marker removed)."""
    text = _DESCRIPTION_MARKER.sub("", description).strip()
    marker = f"[slipway:project={project}]"
    return f"{text} {marker}" if text else marker


def project_from_description(description: str | None) -> str | None:
    """The project named by the description's marker, or None when it has none."""
    found = _DESCRIPTION_MARKER.search(description or "")
    return found.group(1) if found else None


def commit_message(message: str, *, project: str, tree_sha: str) -> str:
    return f"{message.strip()}\n\nSlipway-Project: {project}\nSlipway-Tree: {tree_sha}\n"


@dataclass(frozen=True)
class CommitMark:
    project: str
    tree_sha: str


def commit_mark(message: str | None) -> CommitMark | None:
    """The project and tree a Slipway commit message declares, or None for anyone else's."""
    project = _PROJECT_TRAILER.search(message or "")
    tree = _TREE_TRAILER.search(message or "")
    if project is None or tree is None:
        return None
    return CommitMark(project=project.group(1), tree_sha=tree.group(1))
