"""Template catalog: what `slipway templates list` shows, and where templates come from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slipway.domain.errors import InvalidInput, NotFound
from slipway.templates import INJECTED, load_catalog


def write_template(folder: Path, copier_yml: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "copier.yml").write_text(copier_yml)
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


MINIMAL = """\
_templates_suffix: .jinja
_slipway:
  description: {description}
project_name:
  type: str
"""


def test_builtins_are_listed_with_their_parameters() -> None:
    catalog = load_catalog()
    assert [t.name for t in catalog.list()] == ["fastapi", "nextjs", "static-site"]
    for info in catalog.list():
        assert info.builtin
        assert info.description
        names = [p.name for p in info.parameters]
        assert {"image", "port"} <= set(names)
        assert not set(INJECTED) & set(names), "Slipway-injected values are not parameters"
        assert "health_path" not in names, "computed (when: false) values are not parameters"

    static = catalog.get("static-site")
    port = static.parameter("port")
    assert port is not None
    assert (port.type, port.default, port.minimum, port.maximum) == ("int", 8080, 1024, 65535)
    title = static.parameter("page_title")
    assert title is not None and title.pattern and title.help

    python = catalog.get("fastapi").parameter("python_version")
    assert python is not None
    assert (python.type, python.default) == ("choice", "3.12")
    assert "3.12" in python.choices

    node = catalog.get("nextjs").parameter("node_version")
    assert node is not None and node.type == "choice" and node.default in node.choices


def test_to_dict_is_json_with_every_parameter_field() -> None:
    data = json.loads(json.dumps(load_catalog().get("fastapi").to_dict()))
    assert data["name"] == "fastapi"
    assert Path(data["path"]).is_dir()
    params = {p["name"]: p for p in data["parameters"]}
    assert params["python_version"]["choices"] == ["3.11", "3.12", "3.13"]
    assert params["image"]["pattern"]
    assert params["image"]["required"] is False
    assert {"name", "type", "default", "pattern", "help", "choices"} <= set(params["port"])


def test_unknown_template_is_not_found_and_names_the_available_ones() -> None:
    with pytest.raises(NotFound) as caught:
        load_catalog().get("rails")
    assert "rails" in str(caught.value)
    assert caught.value.hint is not None
    for name in ("fastapi", "nextjs", "static-site"):
        assert name in caught.value.hint


def test_extra_template_with_a_builtin_name_overrides_it(tmp_path: Path) -> None:
    extra = tmp_path / "mine"
    write_template(extra / "static-site", MINIMAL.format(description="our own static site"))
    write_template(extra / "worker", MINIMAL.format(description="a queue worker"))
    (extra / "not-a-template").mkdir()

    catalog = load_catalog([extra])

    assert catalog.names() == ["fastapi", "nextjs", "static-site", "worker"]
    static = catalog.get("static-site")
    assert static.description == "our own static site"
    assert static.path == (extra / "static-site").resolve()
    assert not static.builtin
    assert catalog.get("fastapi").builtin


def test_first_extra_path_wins_and_a_path_may_be_a_template_itself(tmp_path: Path) -> None:
    first = write_template(tmp_path / "a" / "worker", MINIMAL.format(description="first"))
    write_template(tmp_path / "b" / "worker", MINIMAL.format(description="second"))
    catalog = load_catalog([first, tmp_path / "b"])
    assert catalog.get("worker").description == "first"


def test_missing_extra_path_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_catalog([tmp_path / "nope"])
    assert caught.value.field == "templates_path"
    assert "nope" in caught.value.rule


@pytest.mark.parametrize(
    ("question", "field", "rule"),
    [
        ("ratio:\n  type: float\n  default: 0.5\n", "template.bad.ratio", "float"),
        (
            "tags:\n  type: str\n  choices: [a, b]\n  multiselect: true\n",
            "template.bad.tags",
            "multiselect",
        ),
        (
            "_slipway:\n  parameters:\n    prot: {min: 1}\nport: 80\n",
            "template.bad._slipway.parameters",
            "prot",
        ),
        (
            "port:\n  default: 80\n_slipway:\n  parameters:\n    port: {min: low}\n",
            "template.bad.port",
            "integers",
        ),
        (
            "name:\n  default: x\n_slipway:\n  parameters:\n    name: {pattern: '('}\n",
            "template.bad.name",
            "regex",
        ),
        ("_external_data:\n  x: /etc/passwd\n", "template.bad._external_data", "own files"),
    ],
)
def test_a_broken_template_names_the_key_and_the_rule(
    tmp_path: Path, question: str, field: str, rule: str
) -> None:
    write_template(tmp_path / "bad", question)
    with pytest.raises(InvalidInput) as caught:
        load_catalog([tmp_path])
    assert caught.value.field == field
    assert rule in caught.value.rule


def test_copier_short_form_questions_infer_their_type(tmp_path: Path) -> None:
    write_template(tmp_path / "short", "replicas: 2\ndebug: false\ngreeting: hi\n")
    info = load_catalog([tmp_path]).get("short")
    assert [(p.name, p.type, p.default) for p in info.parameters] == [
        ("replicas", "int", 2),
        ("debug", "bool", False),
        ("greeting", "str", "hi"),
    ]
