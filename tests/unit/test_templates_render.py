"""Rendering: deterministic bytes for the first commit, and nothing escapes the project folder."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from slipway.domain.errors import InvalidInput
from slipway.templates import compute_digest, load_catalog, render_template

CATALOG = load_catalog()
STATIC = CATALOG.get("static-site")
DEFAULT_ENVS = ["development", "staging", "production"]


def test_same_inputs_give_the_same_files_and_digest() -> None:
    first = render_template(STATIC, project="shop", environments=DEFAULT_ENVS, parameters={})
    second = render_template(STATIC, project="shop", environments=DEFAULT_ENVS, parameters={})
    assert first.files == second.files
    assert first.digest == second.digest == compute_digest(first.files, first.modes)
    assert len(first.digest) == 64


def test_any_changed_input_changes_the_digest() -> None:
    base = render_template(STATIC, project="shop", environments=DEFAULT_ENVS, parameters={})
    variants = [
        render_template(
            STATIC, project="shop", environments=DEFAULT_ENVS, parameters={"port": "9090"}
        ),
        render_template(STATIC, project="shop2", environments=DEFAULT_ENVS, parameters={}),
        render_template(STATIC, project="shop", environments=[*DEFAULT_ENVS, "qa"], parameters={}),
    ]
    digests = {base.digest, *(v.digest for v in variants)}
    assert len(digests) == 4


def test_digest_covers_the_executable_bit() -> None:
    files = {"run.sh": b"#!/bin/sh\n"}
    assert compute_digest(files, {"run.sh": 0o644}) != compute_digest(files, {"run.sh": 0o755})


def test_the_rendered_project_is_what_the_user_asked_for() -> None:
    rendered = render_template(
        STATIC,
        project="shop",
        environments=["development", "qa"],
        parameters={"port": "9090", "page_title": "Our shop"},
    )
    assert rendered.template == "static-site"
    overlays = {p.split("/")[2] for p in rendered.files if p.startswith("k8s/overlays/")}
    assert overlays == {"development", "staging", "production", "qa"}
    assert b"listen       9090;" in rendered.files["nginx.conf"]
    assert b"<title>Our shop</title>" in rendered.files["public/index.html"]
    assert not any(p.endswith(".jinja") or p == "copier.yml" for p in rendered.files)
    assert all(mode in (0o644, 0o755) for mode in rendered.modes.values())


def test_binary_and_non_jinja_files_pass_through_byte_for_byte() -> None:
    rendered = render_template(STATIC, project="shop", environments=DEFAULT_ENVS, parameters={})
    icon = (STATIC.path / "public" / "favicon.ico").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        icon.decode("utf-8")  # the test is only meaningful for a real binary
    assert rendered.files["public/favicon.ico"] == icon
    ci = rendered.files[".github/workflows/ci.yml"]
    assert ci == (STATIC.path / ".github" / "workflows" / "ci.yml").read_bytes()
    assert b"${{ github.repository }}" in ci


def test_write_to_keeps_contents_and_modes(tmp_path: Path) -> None:
    rendered = render_template(STATIC, project="shop", environments=DEFAULT_ENVS, parameters={})
    rendered.write_to(tmp_path / "out")
    on_disk = {
        p.relative_to(tmp_path / "out").as_posix(): p.read_bytes()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file()
    }
    assert on_disk == rendered.files


@pytest.mark.parametrize(
    ("project", "environments", "field"),
    [
        ("Shop", DEFAULT_ENVS, "project"),
        ("a" * 60, DEFAULT_ENVS, "project"),
        ("shop", [], "environments"),
        ("shop", ["QA"], "environments"),
    ],
)
def test_bad_project_or_environments_are_refused(
    project: str, environments: list[str], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        render_template(STATIC, project=project, environments=environments, parameters={})
    assert caught.value.field == field


def test_parameters_are_validated_before_rendering() -> None:
    with pytest.raises(InvalidInput) as caught:
        render_template(STATIC, project="shop", environments=DEFAULT_ENVS, parameters={"port": "1"})
    assert caught.value.field == "parameters.port"
    with pytest.raises(InvalidInput) as caught:
        render_template(STATIC, project="shop", environments=DEFAULT_ENVS, parameters={"port": [1]})
    assert caught.value.field == "parameters.port"


# --- templates that try to write outside the project --------------------------------------


def malicious(root: Path, copier_yml: str = "") -> Path:
    folder = root / "templates" / "evil"
    folder.mkdir(parents=True)
    (folder / "copier.yml").write_text("_templates_suffix: .jinja\n" + copier_yml)
    (folder / "README.md").write_text("looks harmless\n")
    return folder


def render_evil(root: Path) -> None:
    info = load_catalog([root / "templates"]).get("evil")
    render_template(info, project="shop", environments=DEFAULT_ENVS, parameters={})


def test_a_file_name_rendering_to_a_parent_path_is_refused(tmp_path: Path) -> None:
    # The renderer's output folder is <tempdir>/slipway-render-*/output, so ../../ is <tempdir>.
    name = f"slipway-escape-{tmp_path.name}"
    folder = malicious(tmp_path, f"target:\n  default: ../../{name}\n  when: false\n")
    (folder / "{{ target }}.jinja").write_text("pwned\n")
    with pytest.raises(InvalidInput) as caught:
        render_evil(tmp_path)
    assert caught.value.field == "template.evil"
    assert "outside the project folder" in caught.value.rule
    assert not (Path(tempfile.gettempdir()) / name).exists()


def test_a_folder_named_dot_dot_is_refused(tmp_path: Path) -> None:
    folder = malicious(tmp_path, "up:\n  default: '..'\n  when: false\n")
    (folder / "{{ up }}").mkdir()
    (folder / "{{ up }}" / "escaped.txt").write_text("pwned\n")
    with pytest.raises(InvalidInput) as caught:
        render_evil(tmp_path)
    assert "outside the project folder" in caught.value.rule


def test_a_file_name_rendering_to_an_absolute_path_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "outside" / "x"
    folder = malicious(tmp_path, f"target:\n  default: '{target}'\n  when: false\n")
    (folder / "{{ target }}.jinja").write_text("pwned\n")
    with pytest.raises(InvalidInput) as caught:
        render_evil(tmp_path)
    assert "outside the project folder" in caught.value.rule
    assert not target.exists()


def test_a_symlinked_file_in_the_template_is_refused(tmp_path: Path) -> None:
    folder = malicious(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy me\n")
    os.symlink(secret, folder / "innocent.txt")
    with pytest.raises(InvalidInput) as caught:
        render_evil(tmp_path)
    assert caught.value.field == "template.evil"
    assert "'innocent.txt' is a symlink" in caught.value.rule
    assert "do not copy me" not in str(caught.value)


def test_a_symlinked_folder_inside_the_template_is_refused(tmp_path: Path) -> None:
    folder = malicious(tmp_path, "_preserve_symlinks: true\n")
    (folder / "real").mkdir()
    os.symlink(folder / "real", folder / "alias")
    with pytest.raises(InvalidInput) as caught:
        render_evil(tmp_path)
    assert "'alias' is a symlink" in caught.value.rule


def test_copier_tasks_are_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "task-ran"
    malicious(tmp_path, f"_tasks:\n  - touch {marker}\n")
    with pytest.raises(InvalidInput) as caught:
        render_evil(tmp_path)
    assert "tasks" in caught.value.rule
    assert not marker.exists()


def test_a_template_that_does_not_render_names_itself(tmp_path: Path) -> None:
    folder = malicious(tmp_path)
    (folder / "broken.txt.jinja").write_text("{{ undefined_thing.attribute }}\n")
    with pytest.raises(InvalidInput) as caught:
        render_evil(tmp_path)
    assert caught.value.field == "template.evil"
    assert "does not render" in caught.value.rule


def test_a_template_inside_a_git_checkout_renders_its_files_on_disk(tmp_path: Path) -> None:
    """Copier would render a git repository's last commit; Slipway renders what is there."""
    folder = malicious(tmp_path)
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / "new.txt").write_text("not committed\n")
    info = load_catalog([tmp_path / "templates"]).get("evil")
    rendered = render_template(info, project="shop", environments=DEFAULT_ENVS, parameters={})
    assert rendered.files["new.txt"] == b"not committed\n"
    assert not any(p.startswith(".git/") for p in rendered.files)
