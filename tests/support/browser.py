"""Real headless Chromium for the browser tests: Debian's `chromium` driven by Playwright's
sync API through `executable_path` (Playwright never downloads a browser here), axe-core's
accessibility scan (the copy `axe-playwright-python` ships), and a check for English words
left on a page served in another language.

Without a `chromium` on PATH the browser tests skip locally with the reason, and fail under
CI=true: .ci/run installs it, so a missing browser there is a broken install, not a skip."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

MISSING_CHROMIUM: Final = (
    "no `chromium` on PATH: the browser tests drive Debian's Chromium "
    "(`apt-get install chromium`; .ci/run installs it)"
)
# How long an action or an `expect` waits for the page: Playwright's 5 s default for `expect`
# is short on a loaded CI machine; a test that waits for a whole run passes its own timeout.
WAIT_MS: Final = 30_000
# axe-core's impact levels that fail a page; "moderate" and "minor" are reported, not failed.
FAILING_IMPACTS: Final = frozenset({"serious", "critical"})

# Words that stay as they are in every language, matched with their case (so a badge's
# untranslated "ready" is still caught): product and forge names (and the forges' ids),
# Kubernetes and Flux kinds, Flux's `Ready` condition (the catalogs keep it), protocol names.
# A test adds its own data (project, template, environment names), in any case.
UNTRANSLATED: Final = frozenset(
    {
        "Slipway", "GitHub", "GitLab", "Gitea", "github", "gitlab", "gitea",
        "Flux", "Kubernetes", "OAuth", "API", "URL",
        "Git", "SSH", "HTTPS", "HTTP", "YAML", "JSON", "CSRF", "UTC", "ID",
        "Namespace", "Secret", "ServiceAccount", "GitRepository", "Kustomization", "Role",
        "RoleBinding", "Deployment", "Service", "Ingress", "ConfigMap", "Ready",
    }
)  # fmt: skip
_URL: Final = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
# A code span in a message, as Markdown quotes it: `slipway user create`.
_CODE_SPAN: Final = re.compile(r"`[^`]*`")
# A run of letters, digits and the characters of names, paths and revisions: one token each,
# so `shop-dev`, `main@sha1:0a1b` or `deploy/base/kustomization.yaml` are not split into words.
_TOKEN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:/+%=#-]*")
_WORD: Final = re.compile(r"[A-Za-z]{2,}")

# The visible text of the page in the browser: text nodes of rendered elements (and the
# accessible text a user meets without reading a node: titles, labels, placeholders, button
# values), leaving out code and what the page marks `translate="no"`: text it shows as
# written and is not Slipway's to translate (a template's own descriptions, Flux's messages).
_VISIBLE_TEXT_JS: Final = """
() => {
  const skip = 'script, style, template, noscript, code, kbd, samp, pre, [translate="no"]';
  const texts = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    if (!parent.checkVisibility({visibilityProperty: true})) continue;
    texts.push(node.textContent);
  }
  const attributed = document.body.querySelectorAll(
    '[title], [aria-label], [placeholder], [alt], input[type=submit], input[type=button]');
  for (const el of attributed) {
    if (el.closest(skip)) continue;
    for (const name of ['title', 'aria-label', 'placeholder', 'alt']) {
      if (el.hasAttribute(name)) texts.push(el.getAttribute(name));
    }
    if (el.matches('input[type=submit], input[type=button]')) texts.push(el.value);
  }
  return texts;
}
"""


def chromium_path() -> str:
    """Debian's Chromium, or the test stops: a failure under CI=true, a skip elsewhere."""
    found = shutil.which("chromium")
    if found is not None:
        return found
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(MISSING_CHROMIUM)
    pytest.skip(MISSING_CHROMIUM)


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the block (one per test: the sync API owns its own loop)."""
    executable = chromium_path()
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_page(
    browser: Browser,
    *,
    language: str,
    base_url: str | None = None,
    width: int = 1280,
    height: int = 900,
) -> Page:
    """A page in a fresh context (its own cookies) whose requests ask for `language`, as a
    browser set to that language does (`navigator.language` included)."""
    context = browser.new_context(
        locale=language,
        extra_http_headers={"Accept-Language": language},
        base_url=base_url,
        viewport={"width": width, "height": height},
    )
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    return page


@dataclass(frozen=True)
class Violation:
    """One axe-core rule a page breaks, with the elements that break it."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}): {self.help} at {', '.join(self.targets)}"


def _axe_script() -> str:
    return (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[Violation]:
    """Every axe-core violation on the page as it is now (WCAG A/AA and best practices)."""
    page.evaluate(_axe_script())
    result: dict[str, Any] = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        Violation(
            rule=v["id"],
            impact=v.get("impact") or "minor",
            help=v["help"],
            targets=tuple(str(t) for node in v["nodes"] for t in node["target"]),
        )
        for v in result["violations"]
    ]


def serious_violations(page: Page) -> list[Violation]:
    """The violations that fail a page: axe's serious and critical ones."""
    return [v for v in axe_violations(page) if v.impact in FAILING_IMPACTS]


def visible_texts(page: Page) -> list[str]:
    """The text a user sees on the page (see `_VISIBLE_TEXT_JS`)."""
    texts: list[str] = page.evaluate(_VISIBLE_TEXT_JS)
    return [t for t in texts if t and t.strip()]


def english_words(texts: Iterable[str], *, allowed: Iterable[str] = ()) -> list[str]:
    """The English words in `texts`: runs of two or more Latin letters standing alone (not
    part of a name, path or revision with digits or punctuation), less URLs, `code spans`,
    numbers, `UNTRANSLATED` and the `allowed` tokens (compared case-insensitively)."""
    permitted = {a.lower() for a in allowed}
    found: list[str] = []
    for text in texts:
        for token in _TOKEN.findall(_CODE_SPAN.sub(" ", _URL.sub(" ", text))):
            bare = token.rstrip(".:")
            if bare in UNTRANSLATED or bare.lower() in permitted or not _WORD.fullmatch(bare):
                continue
            found.append(bare)
    return found


def english_on_page(page: Page, *, allowed: Iterable[str] = ()) -> list[str]:
    """The English words visible on the page (`english_words` of `visible_texts`)."""
    return english_words(visible_texts(page), allowed=allowed)
