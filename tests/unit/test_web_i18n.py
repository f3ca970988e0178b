"""Every message of the web UI has a Simplified Chinese translation: the msgids are
extracted from the templates and the Python modules with Babel's extractors (as
`pybabel extract` would), so a new message without a zh_CN entry fails here. Also: which
language an Accept-Language header chooses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from slipway import web
from slipway.web._i18n import LANGUAGES, catalog_path, negotiate, translations

WEB = Path(web.__file__).parent
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {
    "templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "newstyle_gettext": "true",
        "silent": "false",  # a template that does not parse fails instead of being skipped
    }
}
KEYWORDS = {"_": None, "N_": None, "gettext": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def used_msgids() -> set[str]:
    found = {
        str(message)
        for _, _, message, _, _ in extract_from_dir(
            str(WEB), METHODS, options_map=OPTIONS, keywords=KEYWORDS
        )
    }
    assert len(found) > 50, "the extraction found too few messages to be looking right"
    return found


def test_every_message_of_the_web_ui_has_a_chinese_translation() -> None:
    with catalog_path("zh_CN").open("rb") as po:
        catalog = read_po(po, locale="zh_CN")
    translated = {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}
    used = used_msgids()
    missing = sorted(used - translated.keys())
    assert missing == [], f"no zh_CN translation for {missing}"
    for msgid in used:
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(translated[msgid])), msgid


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_catalog_lists_every_message_and_compiles(language: str) -> None:
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    assert used_msgids() <= {str(m.id) for m in catalog if m.id}
    assert translations(language).gettext("Sign in") == (
        "登录" if language == "zh_CN" else "Sign in"
    )


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN", "zh_CN"),
        ("zh", "zh_CN"),
        ("zh-Hans-CN,zh;q=0.9", "zh_CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR, zh-CN;q=0.5", "zh_CN"),
        ("zh-TW", "en"),
        ("de", "en"),
        (None, "en"),
        ("zh-CN;q=0", "en"),
    ],
)
def test_accept_language_chooses_simplified_chinese_or_english(
    header: str | None, language: str
) -> None:
    assert negotiate(header) == language
