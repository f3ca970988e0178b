"""Parameters from the CLI (`--param k=v`): typed, defaulted and checked before anything exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slipway.domain.errors import InvalidInput
from slipway.templates import TemplateInfo, load_catalog, validate_parameters

CATALOG = load_catalog()
STATIC = CATALOG.get("static-site")
FASTAPI = CATALOG.get("fastapi")


def test_defaults_fill_in_and_jinja_defaults_use_the_project() -> None:
    values = validate_parameters(STATIC, {}, project="shop")
    assert values == {
        "image": "ghcr.io/example/shop",
        "port": 8080,
        "page_title": "Hello from shop",
    }


def test_without_a_project_jinja_defaults_are_left_to_copier() -> None:
    assert validate_parameters(STATIC, {}) == {"port": 8080}


def test_cli_strings_become_the_declared_types() -> None:
    values = validate_parameters(
        FASTAPI, {"port": "9000", "python_version": "3.13", "image": "ghcr.io/acme/shop"}
    )
    assert values == {"image": "ghcr.io/acme/shop", "port": 9000, "python_version": "3.13"}


@pytest.mark.parametrize(
    ("info", "raw", "field", "rule"),
    [
        (STATIC, {"port": "http"}, "parameters.port", "must be an integer, got 'http'"),
        (STATIC, {"port": "80"}, "parameters.port", "must be at least 1024, got 80"),
        (STATIC, {"port": 70000}, "parameters.port", "must be at most 65535, got 70000"),
        (STATIC, {"port": True}, "parameters.port", "not a boolean"),
        (
            FASTAPI,
            {"python_version": "2.7"},
            "parameters.python_version",
            "must be one of 3.11, 3.12, 3.13",
        ),
        (STATIC, {"image": "GHCR.io/Acme/Shop"}, "parameters.image", "does not match the pattern"),
        (STATIC, {"page_title": "<script>"}, "parameters.page_title", "does not match the pattern"),
        (STATIC, {"page_title": False}, "parameters.page_title", "must be text"),
        (
            STATIC,
            {"colour": "blue"},
            "parameters.colour",
            "is not a parameter of template 'static-site'",
        ),
        (STATIC, {"project_name": "x"}, "parameters.project_name", "set by Slipway"),
        (STATIC, {"environments": "qa"}, "parameters.environments", "set by Slipway"),
    ],
)
def test_each_error_names_the_parameter_and_the_rule(
    info: TemplateInfo, raw: dict[str, str | int | bool], field: str, rule: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(info, raw, project="shop")
    assert caught.value.field == field
    assert rule in caught.value.rule
    assert field in str(caught.value)


def test_every_broken_parameter_is_named_in_one_refusal() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(FASTAPI, {"port": "80", "python_version": "2.7", "nope": "1"})
    fields = [p.field for p in caught.value.problems]
    assert fields == ["parameters.nope", "parameters.port", "parameters.python_version"]
    assert "must be at least 1024, got 80" in str(caught.value)


def test_unknown_parameter_hint_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(FASTAPI, {"pyhton_version": "3.12"})
    assert caught.value.hint is not None
    assert "python_version" in caught.value.hint


def test_a_question_without_default_is_required(tmp_path: Path) -> None:
    folder = tmp_path / "needs-db"
    folder.mkdir()
    (folder / "copier.yml").write_text(
        "database_url:\n  type: str\n  help: where the data lives\nverbose: false\n"
    )
    info = load_catalog([tmp_path]).get("needs-db")
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(info, {})
    assert (caught.value.field, caught.value.rule) == ("parameters.database_url", "is required")
    assert caught.value.hint is not None and "where the data lives" in caught.value.hint
    values = validate_parameters(info, {"database_url": "postgres://db", "verbose": "yes"})
    assert values == {"database_url": "postgres://db", "verbose": True}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("Yes", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("NO", False),
        ("0", False),
    ],
)
def test_bool_spellings(tmp_path: Path, text: str, expected: bool) -> None:
    (tmp_path / "flags").mkdir()
    (tmp_path / "flags" / "copier.yml").write_text("debug: false\n")
    info = load_catalog([tmp_path]).get("flags")
    assert validate_parameters(info, {"debug": text}) == {"debug": expected}


def test_a_bool_that_is_not_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "flags").mkdir()
    (tmp_path / "flags" / "copier.yml").write_text("debug: false\n")
    info = load_catalog([tmp_path]).get("flags")
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(info, {"debug": "maybe"})
    assert caught.value.field == "parameters.debug"
    assert caught.value.rule == "must be true or false, got 'maybe'"


@given(port=st.integers(min_value=1024, max_value=65535), padded=st.booleans())
def test_every_port_in_range_is_accepted_from_its_text(port: int, padded: bool) -> None:
    text = f" {port} " if padded else str(port)
    assert validate_parameters(STATIC, {"port": text})["port"] == port


@given(
    port=st.one_of(
        st.integers(min_value=-(10**17), max_value=1023),
        st.integers(min_value=65536, max_value=10**17),
    )
)
def test_every_port_out_of_range_is_refused_with_the_bound(port: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(STATIC, {"port": str(port)})
    assert caught.value.field == "parameters.port"
    bound = "at least 1024" if port < 1024 else "at most 65535"
    assert caught.value.rule == f"must be {bound}, got {port}"


@given(text=st.text(max_size=20).filter(lambda s: not s.strip().lstrip("+-").isdigit()))
def test_text_that_is_no_integer_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(STATIC, {"port": text})
    assert caught.value.field == "parameters.port"
    assert caught.value.rule.startswith("must be an integer")


def test_a_secret_question_never_shows_its_value_in_errors(tmp_path: Path) -> None:
    (tmp_path / "with-key").mkdir()
    (tmp_path / "with-key" / "copier.yml").write_text(
        "api_key:\n  type: str\n  secret: true\n  default: ''\n"
        "_slipway:\n  parameters:\n    api_key: {pattern: '^k-[a-z]+$'}\n"
    )
    info = load_catalog([tmp_path]).get("with-key")
    with pytest.raises(InvalidInput) as caught:
        validate_parameters(info, {"api_key": "hunter2-SECRET"})
    assert caught.value.field == "parameters.api_key"
    assert "does not match the pattern" in caught.value.rule
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(caught.value.to_dict())
