"""Slipway's marker: how a repository and a commit say that Slipway made them, for which project.

One scheme on every forge: the repository description ends with
`[slipway:project=<name> installation=<id>]` (the marker that decides reuse; the older
`[slipway:project=<name>]` still reads, without an installation) and the repository carries
the topic `slipway` (so people can find them). A commit Slipway pushed ends with the trailers
`Slipway-Project:` and `Slipway-Tree:`, which let `push_files` recognise its own commit even
where the API does not report tree ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from slipway.domain.errors import InvalidInput
from slipway.domain.text import t

TOPIC = "slipway"
# What GitHub, GitLab and Gitea call the README commit they write when asked to initialise a
# new repository (auto_init, initialize_with_readme): Slipway may replace it.
FORGE_INITIAL_MESSAGE = "Initial commit"
_INSTALLATION = re.compile(r"[0-9a-f]{16}")
_DESCRIPTION_MARKER = re.compile(
    r"\[?slipway:project=([a-z0-9][a-z0-9-]*)(?: installation=([0-9a-f]{16}))?\]?"
)
_PROJECT_TRAILER = re.compile(r"^Slipway-Project: *([a-z0-9][a-z0-9-]*) *$", re.MULTILINE)
_TREE_TRAILER = re.compile(r"^Slipway-Tree: *([0-9a-f]{40}) *$", re.MULTILINE)


@dataclass(frozen=True)
class RepositoryMark:
    """What a description's marker says: the project, and the installation that wrote it
    (None for the older marker, which did not record one)."""

    project: str
    installation: str | None


def check_installation(installation: str | None) -> None:
    """An installation id is 16 lowercase hex characters; anything else would not read back."""
    if installation is not None and not _INSTALLATION.fullmatch(installation):
        raise InvalidInput("installation", t("an installation id is 16 lowercase hex characters"))


def mark_description(description: str, project: str, installation: str | None = None) -> str:
    """The description with Slipway's marker for `project` (and `installation`) appended, any
    old marker removed."""
    check_installation(installation)
    text = _DESCRIPTION_MARKER.sub("", description).strip()
    who = f" installation={installation}" if installation else ""
    marker = f"[slipway:project={project}{who}]"
    return f"{text} {marker}" if text else marker


def description_mark(description: str | None) -> RepositoryMark | None:
    """The project and installation the description's marker names, or None without one."""
    found = _DESCRIPTION_MARKER.search(description or "")
    return RepositoryMark(found.group(1), found.group(2)) if found else None


def project_from_description(description: str | None) -> str | None:
    """The project named by the description's marker, or None when it has none."""
    mark = description_mark(description)
    return mark.project if mark else None


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


def forge_initial(message: str | None) -> bool:
    """Whether a commit's message is the one forges give the commit they initialise with."""
    return (message or "").strip() == FORGE_INITIAL_MESSAGE
