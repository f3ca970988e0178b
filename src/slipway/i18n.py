"""Slipway's two languages at the faces: gettext catalogs compiled in memory by Babel at
first use (no build step, no committed .mo to go stale), the language a request
(`Accept-Language`) or a shell (`LC_ALL`, `LC_MESSAGES`, `LANG`) asks for, and `localize`,
which renders a `Text` in it. English is the msgid itself."""

from __future__ import annotations

import functools
import gettext
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from slipway.domain.text import Text

LOCALE_DIR: Final = Path(__file__).parent / "locale"
DOMAIN: Final = "slipway"
DEFAULT: Final = "en"
LANGUAGES: Final = ("en", "zh_CN")
# Traditional Chinese is not Simplified: those tags fall through to the next preference.
_TRADITIONAL: Final = ("zh-tw", "zh-hk", "zh-mo", "zh-hant")


def compile_po(path: Path, language: str) -> gettext.NullTranslations:
    """A .po file compiled in memory (Babel is imported here: a CLI run that prints only
    English never loads it)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The messages of Slipway itself in `language` (English: the msgids themselves)."""
    path = catalog_path(language)
    return compile_po(path, language) if path.exists() else gettext.NullTranslations()


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


def from_environment(environ: Mapping[str, str]) -> str:
    """The language of a shell, as gettext picks it: the first of LC_ALL, LC_MESSAGES and
    LANG that is set (`zh_CN.UTF-8` → zh_CN; `C`, `POSIX` and the rest → English)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            tag = value.partition(".")[0].partition("@")[0]
            return _tag_language(tag) or DEFAULT
    return DEFAULT


def localize(text: str | None, language: str) -> str | None:
    """`text` in `language`: a Text's template translated, then its parameters (themselves
    localized when they are Texts) filled in; any other string as it is."""
    if text is None or not isinstance(text, Text) or language == DEFAULT:
        return None if text is None else str(text)
    template = translations(language).gettext(text.template) if text.template else ""
    params = {
        key: localize(value, language) if isinstance(value, Text) else value
        for key, value in text.params.items()
    }
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        # A translation that does not fit its msgid's placeholders (the catalog test
        # refuses those): the English text is still right.
        return str(text)
