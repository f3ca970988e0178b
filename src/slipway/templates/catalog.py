"""Template catalog: finds copier templates and describes their parameters without rendering.

A template is a folder with a `copier.yml`. Its questions are the parameters; an optional
`_slipway` block adds what copier does not say in a machine-readable way (a description, and a
regex `pattern` or an int `min`/`max` per parameter), so Slipway can validate input before
anything is created. See `templates/README.md` for the layout.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from slipway.domain.errors import InvalidInput, NotFound
from slipway.domain.text import t

BUILTIN_DIR = Path(__file__).parent / "builtin"
CONFIG_FILES = ("copier.yml", "copier.yaml")
METADATA_KEY = "_slipway"
# Set by Slipway itself for every render, never by the user: the project slug and the
# environments whose overlays the repository must contain.
INJECTED = ("project_name", "environments")

ParameterType = Literal["str", "int", "bool", "choice"]
ParameterValue = str | int | bool
_COPIER_TYPES: dict[str, ParameterType] = {"str": "str", "int": "int", "bool": "bool"}
_JSON_TYPES: dict[ParameterType, str] = {
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "choice": "string",
}
_TEMPLATE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class TemplateParameter:
    """One user-settable question of a template; `default` may be a Jinja string that refers
    to `project_name` (copier renders it; so does `validate_parameters` when given a project)."""

    name: str
    type: ParameterType
    default: ParameterValue | None = None
    pattern: str | None = None
    help: str = ""
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    secret: bool = False  # copier's `secret: true`: the value is never echoed in errors

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class TemplateInfo:
    """What the catalog knows about one template; `path` is the folder holding copier.yml."""

    name: str
    description: str
    path: Path
    parameters: tuple[TemplateParameter, ...] = field(default_factory=tuple)
    builtin: bool = False

    def parameter(self, name: str) -> TemplateParameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def parameters_schema(self) -> dict[str, Any]:
        """The JSON Schema of the `parameters` a create of this template takes: what a form
        or an API client needs to ask for them (secrets marked writeOnly, as passwords)."""
        properties: dict[str, dict[str, Any]] = {}
        for p in self.parameters:
            prop: dict[str, Any] = {"type": _JSON_TYPES[p.type]}
            if p.help:
                prop["description"] = p.help
            if p.choices:
                prop["enum"] = list(p.choices)
            if p.pattern:
                prop["pattern"] = p.pattern
            if p.minimum is not None:
                prop["minimum"] = p.minimum
            if p.maximum is not None:
                prop["maximum"] = p.maximum
            if p.default is not None and not (isinstance(p.default, str) and "{{" in p.default):
                prop["default"] = p.default  # a Jinja default depends on the project name
            if p.secret:
                prop.update(writeOnly=True, format="password")
            properties[p.name] = prop
        return {
            "type": "object",
            "properties": properties,
            "required": [p.name for p in self.parameters if p.required],
            "additionalProperties": False,
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["parameters"] = [
            {**asdict(p), "choices": list(p.choices), "required": p.required}
            for p in self.parameters
        ]
        return data


class TemplateCatalog:
    """Templates by name; an earlier source wins over a later one (see `load_catalog`)."""

    def __init__(self, templates: Iterable[TemplateInfo]) -> None:
        self._templates: dict[str, TemplateInfo] = {}
        for info in templates:
            self._templates.setdefault(info.name, info)

    def list(self) -> list[TemplateInfo]:
        return sorted(self._templates.values(), key=lambda t: t.name)

    def names(self) -> builtins.list[str]:
        return sorted(self._templates)

    def get(self, name: str) -> TemplateInfo:
        try:
            return self._templates[name]
        except KeyError:
            available = ", ".join(self.names()) or "none"
            raise NotFound(
                t("template '{name}' does not exist", name=name),
                step="load_template",
                system="templates",
                hint=t(
                    "available templates: {available}; add your own with SLIPWAY_TEMPLATES_PATH",
                    available=available,
                ),
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._templates

    def __len__(self) -> int:
        return len(self._templates)


def load_catalog(extra_paths: Sequence[Path] = ()) -> TemplateCatalog:
    """Built-in templates plus those under each extra path (SLIPWAY_TEMPLATES_PATH order).

    Like PATH, the first template found under a name wins: extra paths are searched in order,
    then the built-ins, so an extra template named `static-site` replaces the built-in one.
    """
    found: list[TemplateInfo] = []
    for extra in extra_paths:
        path = Path(extra).expanduser()
        if not path.is_dir():
            raise InvalidInput(
                "templates_path",
                t("'{path}' is not a directory", path=path),
                hint=t(
                    "SLIPWAY_TEMPLATES_PATH lists folders (colon-separated) that "
                    "hold template folders, each with a copier.yml"
                ),
            )
        found.extend(read_template(folder) for folder in _template_folders(path))
    found.extend(read_template(folder, builtin=True) for folder in _template_folders(BUILTIN_DIR))
    return TemplateCatalog(found)


def _template_folders(path: Path) -> list[Path]:
    """`path` itself when it is a template, else its direct sub-folders that are templates."""
    if _config_file(path) is not None:
        return [path]
    return sorted(p for p in path.iterdir() if p.is_dir() and _config_file(p) is not None)


def _config_file(folder: Path) -> Path | None:
    return next((folder / n for n in CONFIG_FILES if (folder / n).is_file()), None)


def read_template(folder: Path, *, builtin: bool = False) -> TemplateInfo:
    """Reads one template's copier.yml; raises InvalidInput naming the template and the key."""
    name = folder.name
    where = f"template.{name}"
    if not _TEMPLATE_NAME.fullmatch(name):
        raise InvalidInput(
            where, t("folder name '{name}' must be lowercase letters, digits and '-'", name=name)
        )
    config_path = _config_file(folder)
    if config_path is None:
        raise InvalidInput(where, t("'{folder}' has no copier.yml", folder=folder))
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            where, t("{name} is not valid YAML: {exc}", name=config_path.name, exc=exc)
        ) from None
    if not isinstance(config, dict):
        raise InvalidInput(where, t("{name} must be a mapping", name=config_path.name))
    if "_external_data" in config:
        raise InvalidInput(
            f"{where}._external_data", t("is not supported: a template may read only its own files")
        )
    meta = config.get(METADATA_KEY) or {}
    if not isinstance(meta, dict):
        raise InvalidInput(f"{where}.{METADATA_KEY}", t("must be a mapping"))
    rules = meta.get("parameters") or {}
    if not isinstance(rules, dict):
        raise InvalidInput(f"{where}.{METADATA_KEY}.parameters", t("must be a mapping"))
    parameters = tuple(
        _parameter(where, key, question, rules.get(key) or {})
        for key, question in config.items()
        if not key.startswith("_") and key not in INJECTED and _user_settable(question)
    )
    unknown = sorted(set(rules) - {p.name for p in parameters})
    if unknown:
        raise InvalidInput(
            f"{where}.{METADATA_KEY}.parameters",
            t("rules for {unknown} match no user-settable question", unknown=", ".join(unknown)),
        )
    return TemplateInfo(
        name=name,
        description=str(meta.get("description") or "").strip(),
        path=folder.resolve(),
        parameters=parameters,
        builtin=builtin,
    )


def _user_settable(question: object) -> bool:
    """Questions with `when: false` are computed values, not parameters."""
    return not (isinstance(question, dict) and question.get("when") is False)


def _parameter(
    where: str, name: str, question: object, rules: Mapping[str, Any]
) -> TemplateParameter:
    field_name = f"{where}.{name}"
    if not isinstance(question, dict):
        # copier's short form `name: default` infers the type from the default.
        question = {"default": question}
    default = question.get("default")
    copier_type = str(question.get("type") or _infer_type(default))
    if copier_type not in _COPIER_TYPES:
        raise InvalidInput(
            field_name,
            t(
                "type '{copier_type}' is not supported; use str, int or bool",
                copier_type=copier_type,
            ),
        )
    if question.get("multiselect"):
        raise InvalidInput(field_name, t("multiselect questions are not supported"))
    choices = _choices(field_name, question.get("choices"))
    kind: ParameterType = "choice" if choices else _COPIER_TYPES[copier_type]
    if default is not None and not isinstance(default, str | int | bool):
        raise InvalidInput(field_name, t("default must be a string, number or boolean"))
    pattern = rules.get("pattern")
    if pattern is not None:
        try:
            re.compile(str(pattern))
        except re.error as exc:
            raise InvalidInput(
                field_name, t("pattern is not a valid regex: {exc}", exc=exc)
            ) from None
    minimum, maximum = rules.get("min"), rules.get("max")
    for bound in (minimum, maximum):
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
            raise InvalidInput(field_name, t("min and max must be integers"))
    if kind == "choice" and isinstance(default, int | bool):
        default = str(default)
    return TemplateParameter(
        name=name,
        type=kind,
        default=default,
        pattern=str(pattern) if pattern is not None else None,
        help=str(question.get("help") or "").strip(),
        choices=choices,
        minimum=minimum,
        maximum=maximum,
        secret=bool(question.get("secret")),
    )


def _infer_type(default: object) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    return "str"


def _choices(field_name: str, raw: object) -> tuple[str, ...]:
    """copier allows a list or a {label: value} mapping; Slipway keeps the values."""
    if raw is None:
        return ()
    if isinstance(raw, dict):
        raw = list(raw.values())
    if not isinstance(raw, list) or not all(isinstance(c, str | int) for c in raw):
        raise InvalidInput(field_name, t("choices must be a list of strings or numbers"))
    return tuple(str(c) for c in raw)
