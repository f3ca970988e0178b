"""Template catalog: finds templates and describes their parameters (stub until issue 2 lands)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TemplateParameter:
    name: str
    type: str
    default: str | int | bool | None = None
    pattern: str | None = None
    help: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class TemplateInfo:
    name: str
    description: str
    path: Path
    parameters: tuple[TemplateParameter, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


class TemplateCatalog:
    def __init__(self, templates: Sequence[TemplateInfo]) -> None:
        self._templates = {t.name: t for t in templates}

    def list(self) -> list[TemplateInfo]:
        return sorted(self._templates.values(), key=lambda t: t.name)


def load_catalog(extra_paths: Sequence[Path] = ()) -> TemplateCatalog:
    return TemplateCatalog([])
