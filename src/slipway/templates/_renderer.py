"""Renders a template with copier into memory: `{path: bytes}` plus a digest for idempotency.

The template is first copied into a private staging folder (refusing symlinks and special
files), so copier never follows a link out of the template, never sees a surrounding git
repository (it would render the last commit instead of the files on disk), and never reads
the user's copier settings. Copier runs with `unsafe=False`: templates with tasks, migrations
or Jinja extensions are refused. Every produced path is checked to stay inside the output.
Rendering is synchronous disk work; async callers wrap it in `asyncio.to_thread`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import copier
from copier.errors import CopierError, ForbiddenPathError, PathError, UnsafeTemplateError
from jinja2 import TemplateError

from slipway.domain.errors import InvalidInput
from slipway.domain.names import DEFAULT_ENVIRONMENTS, project_slug, validate_environments
from slipway.domain.text import Text, t
from slipway.templates._parameters import validate_parameters
from slipway.templates.catalog import ParameterValue, TemplateInfo

EXECUTABLE_MODE = 0o755
REGULAR_MODE = 0o644
_SKIPPED_SOURCE_DIRS = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True)
class RenderedTemplate:
    """A rendered project: POSIX relative paths to bytes, git-style modes, and a digest that
    changes exactly when a path, a mode or a content changes."""

    template: str
    files: dict[str, bytes]
    modes: dict[str, int] = field(default_factory=dict)
    digest: str = ""

    def write_to(self, root: Path) -> None:
        """Writes the files under `root` (created if missing), keeping executable bits."""
        for rel, content in self.files.items():
            target = root.joinpath(*PurePosixPath(rel).parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(self.modes.get(rel, REGULAR_MODE))


def render_template(
    info: TemplateInfo,
    *,
    project: str,
    environments: Sequence[str],
    parameters: Mapping[str, object],
) -> RenderedTemplate:
    """Validates the inputs, then renders `info` for `project` with an overlay per environment.

    The repository always gets the development, staging and production overlays, plus one for
    each other environment in `environments`. Raises InvalidInput for bad inputs and for a
    template that misbehaves (escaping paths, symlinks, unsafe features, render errors).
    """
    envs = validate_environments(environments)
    slug = project_slug(project, envs, field="project")
    values = validate_parameters(info, _plain(parameters), project=slug)
    overlays = list(dict.fromkeys([*DEFAULT_ENVIRONMENTS, *envs]))
    data: dict[str, Any] = {**values, "project_name": slug, "environments": overlays}
    with tempfile.TemporaryDirectory(prefix="slipway-render-") as tmp:
        source = Path(tmp) / "template"
        output = Path(tmp) / "output"
        _stage(info, source)
        _run_copier(info, source, output, data)
        files, modes = _collect(info, output)
    return RenderedTemplate(
        template=info.name, files=files, modes=modes, digest=compute_digest(files, modes)
    )


def compute_digest(files: Mapping[str, bytes], modes: Mapping[str, int]) -> str:
    """sha256 over the sorted paths, modes and contents (length-prefixed, so unambiguous)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        content = files[path]
        mode = modes.get(path, REGULAR_MODE)
        digest.update(f"{path}\0{mode:o}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def _plain(parameters: Mapping[str, object]) -> dict[str, ParameterValue]:
    result: dict[str, ParameterValue] = {}
    for name, value in parameters.items():
        if not isinstance(value, str | int | bool):
            raise InvalidInput(f"parameters.{name}", t("must be a string, an integer or a boolean"))
        result[name] = value
    return result


def _unsafe(info: TemplateInfo, rule: Text) -> InvalidInput:
    return InvalidInput(
        f"template.{info.name}",
        rule,
        hint=t(
            "fix the template in {path}; Slipway renders only regular "
            "files that stay inside the project folder",
            path=info.path,
        ),
    )


def _stage(info: TemplateInfo, target: Path) -> None:
    """Copies the template's regular files and folders; any symlink or special file is refused."""
    root = info.path
    for current, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_SOURCE_DIRS)
        for name in [*dirs, *files]:
            path = Path(current) / name
            rel = path.relative_to(root).as_posix()
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                raise _unsafe(
                    info, t("'{rel}' is a symlink; templates may not contain symlinks", rel=rel)
                )
            if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise _unsafe(info, t("'{rel}' is not a regular file or folder", rel=rel))
    shutil.copytree(
        root, target, symlinks=True, ignore=shutil.ignore_patterns(*_SKIPPED_SOURCE_DIRS)
    )


def _run_copier(info: TemplateInfo, source: Path, output: Path, data: dict[str, Any]) -> None:
    try:
        copier.run_copy(
            str(source),
            output,
            data=data,
            defaults=True,
            unsafe=False,
            quiet=True,
            vcs_ref=None,
            settings=copier.Settings(),
            overwrite=True,
        )
    except (ForbiddenPathError, PathError) as exc:
        raise _unsafe(
            info, t("a file would be written outside the project folder ({exc})", exc=exc)
        ) from None
    except UnsafeTemplateError:
        raise _unsafe(
            info, t("uses copier tasks, migrations or Jinja extensions, which Slipway never runs")
        ) from None
    except (CopierError, TemplateError, ValueError) as exc:
        raise InvalidInput(
            f"template.{info.name}",
            t("does not render: {exc}", exc=exc),
            hint=t("check {path} and the parameters given", path=info.path),
        ) from None


def _collect(info: TemplateInfo, output: Path) -> tuple[dict[str, bytes], dict[str, int]]:
    """Reads what copier produced, refusing symlinks and any path that is not plainly relative."""
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    if not output.is_dir():
        return files, modes
    for current, dirs, names in os.walk(output, followlinks=False):
        dirs.sort()
        for name in [*dirs, *names]:
            path = Path(current) / name
            rel = PurePosixPath(path.relative_to(output).as_posix())
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                raise _unsafe(
                    info, t("the rendered project contains a symlink at '{rel}'", rel=rel)
                )
            if rel.is_absolute() or any(part in ("", ".", "..") for part in rel.parts):
                raise _unsafe(
                    info, t("the rendered path '{rel}' is not a plain relative path", rel=rel)
                )
            if stat.S_ISREG(st.st_mode):
                files[str(rel)] = path.read_bytes()
                modes[str(rel)] = EXECUTABLE_MODE if st.st_mode & 0o111 else REGULAR_MODE
    return files, modes
