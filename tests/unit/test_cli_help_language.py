"""The CLI's help and usage errors follow the shell's language: every help text of the real
command tree (commands, groups, options, arguments) and every framework word Slipway
translates has a zh_CN entry, so a new option without one fails here; under
LANG=zh_CN.UTF-8 `--help` and a usage error are Chinese; in English they are as before, and
under --json a usage error stays English for scripts."""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import pytest
import typer
from tests.support.cli import InProcessCli

from slipway.cli import app
from slipway.cli._help import FRAMEWORK_WORDS, help_texts, translate_message
from slipway.i18n import translations

CJK = re.compile(r"[\u4e00-\u9fff]")


def placeholders(template: str) -> list[str]:
    return sorted(str(name) for _, name, _, _ in string.Formatter().parse(template) if name)


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Callable[[str | None], None]:
    """Sets the shell's language (LANG only) for the next `slipway` call."""
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.chdir(str(tmp_path))

    def set_language(lang: str | None) -> None:
        for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE", "LANG"):
            monkeypatch.delenv(name, raising=False)
        if lang is not None:
            monkeypatch.setenv("LANG", lang)

    return set_language


def test_every_help_text_and_framework_word_has_a_chinese_translation() -> None:
    chinese = translations("zh_CN")
    texts = list(help_texts(typer.main.get_command(app)))
    assert len(texts) > 50, "the walk found too few help texts to be looking right"
    missing = [f"{where}: {text!r}" for where, text in texts if chinese.gettext(text) == text]
    missing += [f"framework: {word!r}" for word in FRAMEWORK_WORDS if chinese.gettext(word) == word]
    assert missing == [], "no zh_CN translation for:\n" + "\n".join(missing)
    for word in FRAMEWORK_WORDS:
        assert placeholders(chinese.gettext(word)) == placeholders(word), word


def test_chinese_help(slipway_cli: InProcessCli, shell: Callable[[str | None], None]) -> None:
    shell("zh_CN.UTF-8")
    create = slipway_cli("project", "create", "--help")
    assert create.returncode == 0, create.stderr
    for chinese in (
        "用法： slipway project create",
        "创建项目：仓库、一次提交，以及每个环境的 GitOps 对象。",
        "参数",
        "选项",
        "项目名称（DNS-1123 标签）。",
        "[必填]",
        "[默认：ssh]",
        "环境（可重复）。",
        "显示此帮助信息并退出。",
    ):
        assert chinese in create.stdout
    command = typer.main.get_command(app)
    english = [text for _, text in help_texts(command.commands["project"].commands["create"])]  # type: ignore[attr-defined]
    english += ["Usage:", "Arguments", "Options", "[required]", "[default:", "Show this message"]
    assert len(english) > 10
    left = [text for text in english if text[:15] in create.stdout]
    assert left == [], f"English left in the Chinese help: {left}"

    root = slipway_cli("--help")
    assert all(w in root.stdout for w in ("命令", "项目模板。", "输出一个 JSON 文档。"))
    assert "Commands" not in root.stdout and "Print one JSON document." not in root.stdout
    group = slipway_cli("project", "--help")
    assert all(w in group.stdout for w in ("用法： slipway project", "创建和查看项目。", "命令"))
    assert "Create and inspect projects." not in group.stdout


def test_english_help_is_unchanged_after_a_chinese_run(
    slipway_cli: InProcessCli, shell: Callable[[str | None], None]
) -> None:
    shell("zh_CN.UTF-8")
    assert "选项" in slipway_cli("project", "create", "--help").stdout
    for lang in (None, "en_US.UTF-8"):
        shell(lang)
        result = slipway_cli("project", "create", "--help")
        assert result.returncode == 0
        for english in (
            "Usage: slipway project create",
            "Create a project: repository, one commit, GitOps objects per environment.",
            "Arguments",
            "Options",
            "Project name (a DNS-1123 label).",
            "[required]",
            "[default: ssh]",
            "Show this message and exit.",
        ):
            assert english in result.stdout
        assert not CJK.search(result.stdout), result.stdout


@pytest.mark.parametrize(
    ("args", "chinese", "english"),
    [
        (
            ("project", "create", "--bogus"),
            "错误：没有这个选项：--bogus",
            "Error: No such option: --bogus",
        ),
        (
            ("projct",),
            "错误：没有命令 'projct'。你是想用 'project' 吗？",
            "Error: No such command 'projct'. Did you mean 'project'?",
        ),
        (("project", "create"), "错误：缺少参数 'name'。", "Error: Missing argument 'name'."),
        (("project", "create", "a", "b"), "错误：多余的参数（b）", "Error: Got unexpected extra"),
        (
            ("project", "create", "a", "--forge", "nope"),
            "错误：'--forge' 的值无效：'nope' 不是 'github', 'gitlab', 'gitea' 之一。",
            "Error: Invalid value for '--forge': Value error, 'nope' is not one of",
        ),
    ],
)
def test_usage_errors_follow_the_language(
    slipway_cli: InProcessCli,
    shell: Callable[[str | None], None],
    args: tuple[str, ...],
    chinese: str,
    english: str,
) -> None:
    path = " ".join(["slipway", *args[: 2 if args[0] == "project" else 0]])
    shell("zh_CN.UTF-8")
    shown = slipway_cli(*args)
    assert shown.returncode == 2
    assert f"用法： {path} [OPTIONS]" in shown.stderr
    assert f"运行 '{path} --help' 查看帮助。" in shown.stderr
    assert chinese in shown.stderr, shown.stderr
    assert "Error" not in shown.stderr and "Usage" not in shown.stderr

    shell(None)
    shown = slipway_cli(*args)
    assert shown.returncode == 2
    assert f"Usage: {path} [OPTIONS]" in shown.stderr
    assert f"Try '{path} --help' for help." in shown.stderr
    assert english in shown.stderr, shown.stderr
    assert not CJK.search(shown.stderr)


def test_usage_errors_under_json_stay_english(
    slipway_cli: InProcessCli, shell: Callable[[str | None], None]
) -> None:
    shell("zh_CN.UTF-8")
    shown = slipway_cli("project", "create", "--bogus", "--json")
    assert shown.returncode == 2
    assert '"message": "No such option: --bogus"' in shown.stdout
    assert not CJK.search(shown.stdout + shown.stderr)


def test_a_message_matching_no_template_is_shown_as_written() -> None:
    assert translate_message("Something click never said", "zh_CN") == (
        "Something click never said"
    )
    assert translate_message("No such option: --x (Possible options: --y)", "zh_CN") == (
        "没有这个选项：--x（可能的选项：--y）"
    )


def test_slipways_own_errors_are_labelled_in_the_language(
    slipway_cli: InProcessCli, shell: Callable[[str | None], None]
) -> None:
    """The one-line error a refused command prints: its label too, not only its text."""
    shell("zh_CN.UTF-8")
    shown = slipway_cli("project", "create", "Bad Name", "--dry-run")
    assert shown.returncode == 2
    line = shown.stderr.splitlines()[-1]  # after any log line
    assert line.startswith("错误：name："), shown.stderr
    assert "error" not in line

    shell(None)
    shown = slipway_cli("project", "create", "Bad Name", "--dry-run")
    assert shown.returncode == 2
    assert shown.stderr.splitlines()[-1].startswith("error: name: "), shown.stderr


def test_a_group_lists_each_command_on_one_line_when_it_fits(
    slipway_cli: InProcessCli, shell: Callable[[str | None], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A docstring's first paragraph wraps in the source; the list shows it as one sentence."""
    shell(None)
    monkeypatch.setenv("COLUMNS", "220")
    listed = slipway_cli("project", "--help").stdout
    row = next(line for line in listed.splitlines() if " repair " in line)
    assert "what exists is kept (a healthy project is left as it is)." in row, listed
