"""The web UI's two languages: gettext catalogs (`locale/LANG/LC_MESSAGES/messages.po`)
compiled in memory by Babel at first use, so no build step or committed .mo can go stale;
the language comes from `Accept-Language` (any Simplified Chinese tag: zh_CN, else en)."""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR: Final = Path(__file__).parent / "locale"
DEFAULT: Final = "en"
LANGUAGES: Final = ("en", "zh_CN")
# Traditional Chinese is not Simplified: those tags fall through to the next preference.
_TRADITIONAL: Final = ("zh-tw", "zh-hk", "zh-mo", "zh-hant")


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; templates translate it."""
    return message


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of `language` (English: the msgids themselves)."""
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _tag_language(tag: str) -> str | None:
    tag = tag.strip().lower().replace("_", "-")
    if tag == "zh" or (tag.startswith("zh-") and not tag.startswith(_TRADITIONAL)):
        return "zh_CN"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return None


def negotiate(accept_language: str | None) -> str:
    """The first supported language of an Accept-Language header, by its q values."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, index, tag))
    for _, _, tag in sorted(ranked):
        language = _tag_language(tag)
        if language is not None:
            return language
    return DEFAULT


# Values the pages show as words: statuses, health and resource states (templates translate
# them with `_(value)`, so they are marked here for extraction).
VOCABULARY: Final = (
    N_("pending"),
    N_("initializing"),
    N_("active"),
    N_("degraded"),
    N_("failed"),
    N_("deleting"),
    N_("healthy"),
    N_("progressing"),
    N_("unhealthy"),
    N_("reconciling"),
    N_("ready"),
    N_("missing"),
)
