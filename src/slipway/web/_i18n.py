"""The web UI's two languages: gettext catalogs (`locale/LANG/LC_MESSAGES/messages.po`)
compiled in memory by Babel at first use, so no build step or committed .mo can go stale;
the language comes from `Accept-Language` (any Simplified Chinese tag: zh_CN, else en)."""

from __future__ import annotations

import functools
import gettext
from pathlib import Path
from typing import Final

from slipway.i18n import LANGUAGES, compile_po, negotiate

__all__ = ["LANGUAGES", "N_", "catalog_path", "negotiate", "translations"]

LOCALE_DIR: Final = Path(__file__).parent / "locale"
DEFAULT: Final = "en"


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; templates translate it."""
    return message


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of `language` (English: the msgids themselves)."""
    return compile_po(catalog_path(language), language)


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
