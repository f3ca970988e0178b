"""Every message Slipway produces (errors and hints, preflight details and fixes, progress
events, the CLI's sentences) has a Simplified Chinese translation: the templates are
extracted with Babel (keywords `t` and `N_`), so a new message without a zh_CN entry fails
here, and so does a message written as a bare string where a translatable one is expected."""

from __future__ import annotations

import ast
import pickle
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import slipway
from slipway.domain.errors import CheckResult, InvalidInput, NotFound, PreflightFailed
from slipway.domain.text import Text, join, restore, t, to_json
from slipway.i18n import catalog_path, from_environment, localize, translations

SRC = Path(slipway.__file__).parent
# The sandbox emulates a forge and a cluster (its messages are theirs); the web UI's own
# strings have their catalog (tests/unit/test_web_i18n.py).
METHODS = [("sandbox/**.py", "ignore"), ("web/**.py", "ignore"), ("**.py", "python")]
KEYWORDS = {"t": None, "N_": None}


def placeholders(template: str) -> list[tuple[str, str | None, str | None]]:
    """Each `{name!conversion:spec}` of a template, in a comparable form."""
    return sorted(
        (name, spec, conversion)
        for _, name, spec, conversion in string.Formatter().parse(template)
        if name is not None
    )


def used_msgids() -> set[str]:
    found = {
        str(message)
        for _, _, message, _, _ in extract_from_dir(str(SRC), METHODS, keywords=KEYWORDS)
    }
    assert len(found) > 400, "the extraction found too few messages to be looking right"
    return found


def chinese() -> dict[str, str]:
    with catalog_path("zh_CN").open("rb") as po:
        catalog = read_po(po, locale="zh_CN")
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


def test_every_message_has_a_chinese_translation_with_the_same_placeholders() -> None:
    translated = chinese()
    used = used_msgids()
    missing = sorted(used - translated.keys())
    assert missing == [], f"no zh_CN translation for {missing}"
    for msgid in used:
        assert placeholders(msgid) == placeholders(translated[msgid]), msgid
        string.Formatter().parse(translated[msgid])  # well-formed braces


# -- no bare strings where a translatable message belongs ----------------------------------

ROOT_ERROR = "SlipwayError"


def _sources() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if "sandbox" not in p.relative_to(SRC).parts]


def _error_classes(trees: list[ast.Module]) -> set[str]:
    """SlipwayError and every class that derives from it, by name, across the package."""
    bases: dict[str, set[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
    found = {ROOT_ERROR}
    while True:
        more = {name for name, parents in bases.items() if parents & found} - found
        if not more:
            return found
        found |= more


def _messages(call: ast.Call, errors: set[str]) -> list[ast.expr]:
    """The arguments of `call` that are messages shown to a user."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    if name == "InvalidInput":
        return [*call.args[1:2], *(keywords[k] for k in ("rule", "hint") if k in keywords)]
    if name in errors:
        wanted = ("message", "hint")
        return [*call.args[:1], *(keywords[k] for k in wanted if k in keywords)]
    if name == "CheckResult":
        return [*call.args[2:4], *(keywords[k] for k in ("detail", "fix") if k in keywords)]
    if name == "report":
        return [*call.args[4:5], *([keywords["message"]] if "message" in keywords else [])]
    if name in ("append_event", "error", "not_found") and "message" in keywords:
        return [keywords["message"]]
    return []


def _bare(node: ast.expr) -> bool:
    """A string literal or f-string, possibly inside a conditional or a concatenation."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.IfExp):
        return _bare(node.body) or _bare(node.orelse)
    if isinstance(node, ast.BinOp):
        return _bare(node.left) or _bare(node.right)
    if isinstance(node, ast.BoolOp):
        return any(_bare(v) for v in node.values)
    return False


def bare_messages(sources: list[Path]) -> list[str]:
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sources}
    errors = _error_classes(list(trees.values()))
    return [
        f"{path}:{argument.lineno}"
        for path, tree in trees.items()
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        for argument in _messages(call, errors)
        if _bare(argument)
    ]


def test_no_message_is_a_bare_string() -> None:
    sources = _sources()
    assert len(sources) > 100
    assert bare_messages(sources) == []


def test_the_check_finds_a_bare_message(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text(
        "class Oops(SlipwayError): ...\n"
        "def f(x):\n"
        "    raise Oops(f'no {x}', hint='try again')\n"
        "    raise InvalidInput('name', 'must be short')\n"
        "    report(app, 1, step, 0.5, 'halfway')\n"
        "    return CheckResult('flux', False, detail='missing' if x else t('fine'))\n"
    )
    assert len(bare_messages([module])) == 5


# -- rendering -------------------------------------------------------------------------------


def test_english_is_the_template_filled_in_and_chinese_comes_from_the_catalog() -> None:
    text = t("no project named '{name}'", name="shop")
    assert text == "no project named 'shop'"
    assert (text.template, dict(text.params)) == ("no project named '{name}'", {"name": "shop"})
    assert localize(text, "en") == "no project named 'shop'"
    assert localize(text, "zh_CN") == "没有名为 'shop' 的项目"
    assert localize("a plain string", "zh_CN") == "a plain string"
    assert localize(None, "zh_CN") is None


def test_nested_and_joined_messages_translate_part_by_part() -> None:
    checks = [
        CheckResult("flux", False, t("not installed: Flux is not installed"), t("try again")),
        CheckResult("cluster", False, t("the cluster client was closed")),
    ]
    error = PreflightFailed(checks)
    assert str(error.message) == (
        "flux: not installed: Flux is not installed; cluster: the cluster client was closed"
    )
    assert (
        localize(error.message, "zh_CN") == "flux：未安装：Flux 没有安装; cluster：集群客户端已关闭"
    )
    parts = join(" ", [t("try again"), "plain"])
    assert (parts, localize(parts, "zh_CN")) == ("try again plain", "请重试 plain")


def test_an_error_keeps_its_english_text_and_translates_whole() -> None:
    error = NotFound(
        t("no project named '{name}'", name="shop"),
        system="database",
        hint=t("list projects with `slipway project list`"),
    )
    assert error.text() == str(error)
    assert localize(error.text(), "zh_CN") == (
        "database：没有名为 'shop' 的项目 — 用 `slipway project list` 列出项目"
    )
    rule = InvalidInput("name", t("must not be empty"))
    assert (rule.message, localize(rule.message, "zh_CN")) == (
        "name: must not be empty",
        "name：不能为空",
    )


def test_a_message_survives_pickling_and_json() -> None:
    text = t("{env}: failed: {error}", env="dev", error=t("try again"))
    copied = pickle.loads(pickle.dumps(text))  # noqa: S301 (our own bytes)
    assert isinstance(copied, Text) and localize(copied, "zh_CN") == "dev：失败：请重试"
    restored = restore(to_json(text), "fallback")
    assert localize(restored, "zh_CN") == "dev：失败：请重试"
    assert restore(None, "fallback") == "fallback"
    assert restore({"t": "{missing}", "p": {}}, "fallback") == "fallback"


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        ({"LANG": "zh_CN.UTF-8"}, "zh_CN"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "zh_CN.UTF-8"}, "zh_CN"),
        ({"LC_MESSAGES": "zh_CN", "LANG": "en_US.UTF-8"}, "zh_CN"),
        ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"LANG": "zh_TW.UTF-8"}, "en"),
        ({"LANG": "C.UTF-8"}, "en"),
        ({}, "en"),
    ],
)
def test_the_shell_locale_chooses_the_language(environ: dict[str, str], language: str) -> None:
    assert from_environment(environ) == language


def test_the_catalog_compiles() -> None:
    assert translations("zh_CN").gettext("try again") == "请重试"
