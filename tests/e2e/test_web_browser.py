"""The web UI in a real headless Chromium (Debian's, via Playwright), against the sandbox, as a
user goes through it: sign in with an API token, connect GitHub through the forge emulator's
own OAuth sign-in page, create a project from the form (a refused name first, then a preview),
watch the progress bar reach 100 % and every environment turn Ready, reload mid-run and see
the bar carry on from where it was, repair, and delete (typing the name).

It runs once in English and once with `Accept-Language: zh-CN`, where no English word may be
left on Slipway's pages; every Slipway page visited is scanned with axe-core and may show no
serious or critical violation. With SLIPWAY_TEST_SCREENSHOTS=DIR the English run saves the
new-project form and the finished project page there (README's screenshots in docs/)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from tests.e2e.conftest import forge_slowed, sandbox_settings
from tests.support.api import serving
from tests.support.browser import (
    Violation,
    chromium,
    chromium_path,
    english_on_page,
    new_page,
    serious_violations,
)
from tests.support.waiting import wait_until
from tests.support.web import oauth_settings, tokenless_account

from slipway import service
from slipway.bootstrap import App, bootstrap
from slipway.domain.errors import NotFound
from slipway.sandbox.runner import Sandbox

# Per forge request while the run must still be under way at the reload (as test_api does).
HOLDING_LATENCY_MS = 1500
TEMPLATE = "static-site"
PHONE_WIDTH = 375
# Seconds a whole run (creation, repair or deletion) may take on a loaded machine.
RUN_S = 120
# SLIPWAY_TEST_*: the only SLIPWAY_ variables tests/conftest.py leaves to a test.
SCREENSHOTS_ENV = "SLIPWAY_TEST_SCREENSHOTS"


@dataclass
class Visit:
    """What the pages visited showed: axe's serious violations and English words, by page."""

    language: str
    allowed: set[str]
    violations: dict[str, list[Violation]] = field(default_factory=dict)
    english: dict[str, list[str]] = field(default_factory=dict)

    def check(self, page: Page, label: str) -> None:
        """Scans the page as it is now; the test asserts on everything seen at its end."""
        page.wait_for_load_state("load")
        found = serious_violations(page)
        if found:
            self.violations[label] = found
        if self.language != "en":
            words = english_on_page(page, allowed=self.allowed)
            if words:
                self.english[label] = words

    def problems(self) -> list[str]:
        """One line per page and violation, and per page with English words on it."""
        lines = [f"{label}: {v}" for label, found in self.violations.items() for v in found]
        lines += [f"{label}: English {sorted(set(w))}" for label, w in self.english.items()]
        return lines


@pytest.fixture
def web_app(sandbox: Sandbox, tmp_path: Path) -> Iterator[App]:
    """Slipway with the emulator's OAuth applications for all three forges."""
    forge = sandbox.forge
    assert forge is not None
    instance = bootstrap(sandbox_settings(sandbox, tmp_path / "data", **oauth_settings(forge)))
    yield instance
    instance.close()


@pytest.fixture
def base_url(web_app: App, sandbox: Sandbox) -> Iterator[str]:
    chromium_path()  # before starting anything: fail (CI) or skip (here) without a browser
    with serving(web_app, sandbox) as served:
        yield served.url


# In every document the page loads: a name for it, the bar and step log as the server
# rendered them, then each change the page's own script makes to them, reported to the test
# (so a live update is told apart from a rendered one, across the reloads the script does).
_WATCH_RUN_JS = """
window.slipwayDocument = Math.random().toString(36).slice(2);
document.addEventListener("DOMContentLoaded", () => {
  const bar = document.getElementById("progress");
  const log = document.getElementById("step-log");
  if (!bar || !log) return;
  const report = (what, value) => window.slipwayReport(window.slipwayDocument, what, Number(value));
  report("rendered-percent", bar.getAttribute("aria-valuenow"));
  for (const item of log.children) report("rendered-sequence", item.dataset.sequence);
  new MutationObserver(() => report("percent", bar.getAttribute("aria-valuenow")))
    .observe(bar, {attributes: true, attributeFilter: ["aria-valuenow"]});
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const item of change.addedNodes) report("sequence", item.dataset.sequence);
    }
  }).observe(log, {childList: true});
});
"""
# A finished run's page as the server renders it: the bar full and no stream to follow, so
# the script will not navigate away from it.
_FINISHED_JS = """() => {
  const bar = document.getElementById("progress");
  return document.readyState === "complete" && bar !== null && !bar.dataset.stream
    && bar.getAttribute("aria-valuenow") === "100";
}"""


@dataclass
class RunWatch:
    """What each document showed of the run: rendered and live bar values and sequences."""

    seen: list[tuple[str, str, int]] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.expose_function("slipwayReport", lambda *report: self.seen.append(report))
        page.add_init_script(_WATCH_RUN_JS)

    def values(self, document: str, what: str) -> list[int]:
        return [value for doc, kind, value in self.seen if (doc, kind) == (document, what)]


def _percent(page: Page) -> int:
    return int(page.locator("#progress").get_attribute("aria-valuenow") or "0")


def _is_finished(page: Page) -> bool:
    return bool(page.evaluate(_FINISHED_JS))


def _wait_finished(page: Page) -> None:
    """Until the page shows the run finished (after the script's own reload, if it follows
    the run); a navigation under way counts as not yet."""
    wait_until(
        lambda: _is_finished(page),
        message="the finished run's page",
        timeout=RUN_S,
        interval=0.2,
        ignoring=(PlaywrightError,),
    )


def _wait_quiet(page: Page) -> None:
    """Until the page follows no run (the script navigates only from a page that does)."""
    wait_until(
        lambda: page.evaluate(
            "() => document.readyState === 'complete' && !document.querySelector('[data-stream]')"
        ),
        message="a page following no run",
        timeout=RUN_S,
        interval=0.2,
        ignoring=(PlaywrightError,),
    )


def _environments_ready(page: Page, environments: list[str]) -> bool:
    """Every environment's table lists resources, each of them Ready (after a reload: the
    table is the server's)."""
    page.reload()
    for env in environments:
        table = page.locator(f"#environment-{env}")
        rows = table.locator("tbody tr").count()
        ready = table.locator("tbody .resource-ready").count()
        if rows == 0 or ready != rows:
            return False
    return True


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_a_user_creates_watches_repairs_and_deletes_a_project_in_the_browser(
    web_app: App, base_url: str, sandbox: Sandbox, language: str, pytestconfig: pytest.Config
) -> None:
    forge = sandbox.forge
    assert forge is not None
    user = service.create_user(web_app, f"web-{secrets.token_hex(3)}", admin=False)
    login = tokenless_account(forge, prefix="web")  # only the OAuth sign-in connects it
    wanted = os.environ.get(SCREENSHOTS_ENV) if language == "en" else None
    # Relative to the repository: each test runs in a folder of its own.
    screenshots = pytestconfig.rootpath / wanted if wanted else None
    # The README's screenshots show a plain name; other runs need names of their own.
    name = "shop" if screenshots else f"web-{secrets.token_hex(3)}"
    templates = [t.name for t in service.list_templates(web_app.settings)]
    visit = Visit(language, allowed={name, login, user.user.name, *templates})

    with chromium() as browser:
        page = new_page(browser, language=language, base_url=base_url)
        run = RunWatch()
        run.watch(page)

        # Sign in: an unknown token is refused next to the field, the user's own is taken.
        page.goto("/")
        expect(page.locator("#token")).to_be_visible()
        visit.check(page, "sign-in")
        page.fill("#token", "slw_not-a-token")
        page.click("#sign-in")
        expect(page.locator("#error-token")).to_be_visible()
        visit.check(page, "sign-in refused")
        page.fill("#token", user.token.get_secret_value())
        page.click("#sign-in")
        expect(page).to_have_url(f"{base_url}/projects")
        visit.check(page, "projects (none)")

        # Settings → account connections: GitHub by the emulator's sign-in page.
        page.click("#nav-connections")
        expect(page.locator("#no-connections")).to_be_visible()
        visit.check(page, "connections (none)")
        page.click("#connect-github")
        expect(page.locator("#login")).to_be_visible()  # the forge's page, not Slipway's
        assert page.url.startswith(forge.url)
        page.fill("#login", login)
        page.click("button[value=allow]")
        expect(page.locator("#notice")).to_be_visible()
        row = page.locator(f'#connections tr[data-forge="github"][data-account="{login}"]')
        expect(row).to_be_visible()
        expect(row.locator(".scopes")).to_contain_text("repo")
        visit.check(page, "connections")

        # New project: the template, a refused name next to its field, a preview, create.
        page.click("#nav-new-project")
        visit.check(page, "new project (templates)")
        page.check(f"#template-{TEMPLATE}")
        page.click("#choose-template")
        expect(page.locator("#project-form")).to_be_visible()
        visit.check(page, "new project (form)")
        environments = page.input_value("#environments").replace(",", " ").split()
        assert environments, "the form offers the default environments"
        visit.allowed.update(environments)
        page.fill("#name", name)
        if screenshots:
            screenshots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=screenshots / "new-project.png", full_page=True)
        page.fill("#name", "1abc")
        page.click("#create-button")
        expect(page.locator("#error-name")).to_be_visible()
        expect(page.locator("#name")).to_have_attribute("aria-invalid", "true")
        visit.check(page, "new project (refused)")
        with pytest.raises(NotFound):
            service.show_project(web_app, "1abc")
        page.fill("#name", name)
        page.click("#preview-button")
        expect(page.locator("#preview-ok")).to_be_visible()
        expect(page.locator("#preview-files")).to_contain_text("kustomization.yaml")
        expect(page.locator("#preview-manifests")).to_contain_text("Kustomization")
        visit.check(page, "new project (preview)")

        with forge_slowed(sandbox, HOLDING_LATENCY_MS):
            page.click("#create-button")
            expect(page).to_have_url(f"{base_url}/projects/{name}")
            # The bar moves while the forge is held back: reload in the middle of the run.
            wait_until(lambda: 0 < _percent(page) < 100, message="the bar under way", timeout=60)
            visit.check(page, "project (running)")
            before = _percent(page)
            page.reload()
            reloaded = page.evaluate("window.slipwayDocument")
        # The reloaded page shows the run where it was, and its script carries the bar on from
        # there, live, to 100 %; the step log gets each event of the run once, in order.
        _wait_finished(page)
        rendered = run.values(reloaded, "rendered-percent")
        live = run.values(reloaded, "percent")
        assert len(rendered) == 1 and before <= rendered[0] < 100, (before, rendered)
        assert live and live == sorted(live) and live[0] >= rendered[0], (rendered, live)
        assert live[-1] == 100, live
        shown = run.values(reloaded, "rendered-sequence") + run.values(reloaded, "sequence")
        recorded = [e.sequence for e in service.project_events(web_app, name)]
        assert shown == recorded, (shown, recorded)
        wait_until(
            lambda: _environments_ready(page, environments),
            message="every environment Ready",
            timeout=RUN_S,
            interval=1,
        )
        assert {e.name for e in service.show_project(web_app, name).environments} == set(
            environments
        )
        visit.check(page, "project (finished)")
        if screenshots:
            page.screenshot(path=screenshots / "project.png", full_page=True)
        # On a phone: only the tables scroll sideways (each in its own focusable region).
        page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
        visit.check(page, f"project (finished, {PHONE_WIDTH} px wide)")
        page.set_viewport_size({"width": 1280, "height": 900})

        page.goto("/projects")
        expect(page.locator(f'#projects tr[data-project="{name}"]')).to_be_visible()
        visit.check(page, "projects")

        # Repair: a new run, followed to 100 % again.
        page.goto(f"/projects/{name}")
        with page.expect_navigation():
            page.click("#repair-button")
        expect(page).to_have_url(f"{base_url}/projects/{name}")
        _wait_finished(page)
        assert service.show_project(web_app, name).run == 2
        assert service.project_events(web_app, name)[-1].final == "completed"
        visit.check(page, "project (repaired)")

        # Delete: a wrong name is refused next to the field; the name itself deletes it.
        page.fill("#confirm", name + "-not")
        with page.expect_navigation():
            page.click("#delete-button")
        expect(page.locator("#error-confirm")).to_be_visible()
        visit.check(page, "project (delete refused)")
        assert service.show_project(web_app, name).status == "active"
        page.fill("#confirm", name)
        with page.expect_navigation():
            page.click("#delete-button")
        wait_until(
            lambda: _gone(web_app, name), message="the project deleted", timeout=RUN_S, interval=0.5
        )
        _wait_quiet(page)
        page.goto("/projects")
        expect(page.locator(f'#projects tr[data-project="{name}"]')).to_have_count(0)
        visit.check(page, "projects (deleted)")

    assert not visit.problems(), "\n".join(visit.problems())


def _gone(app: App, name: str) -> bool:
    try:
        service.show_project(app, name)
    except NotFound:
        return True
    return False


def _tab_to(page: Page, element_id: str, *, most: int = 80) -> list[str]:
    """Presses Tab until `element_id` has the focus; the ids focused on the way (failing if
    it never gets it)."""
    passed: list[str] = []
    for _ in range(most):
        page.keyboard.press("Tab")
        focused = str(page.evaluate("document.activeElement && document.activeElement.id"))
        passed.append(focused)
        if focused == element_id:
            return passed
    raise AssertionError(f"Tab never reached #{element_id}; it went through {passed}")


def test_the_keyboard_alone_signs_in_and_reaches_every_field_of_the_form(
    web_app: App, base_url: str
) -> None:
    user = service.create_user(web_app, f"keys-{secrets.token_hex(3)}", admin=False)
    with chromium() as browser:
        page = new_page(browser, language="en", base_url=base_url)
        page.goto("/")
        # The first Tab stop skips the header: Enter on it moves the focus to the content.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip-link"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        _tab_to(page, "token")
        page.keyboard.type(user.token.get_secret_value())
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page).to_have_url(f"{base_url}/projects")

        page.goto(f"/projects/new?template={TEMPLATE}")
        fields = page.eval_on_selector_all(
            "#project-form input:not([type=hidden]), #project-form select, "
            "#project-form button, #project-form textarea",
            "elements => elements.map(e => e.id)",
        )
        assert "name" in fields and "create-button" in fields, fields
        passed = _tab_to(page, "create-button")
        assert [f for f in fields if f not in passed] == [], passed
        # Space toggles a checkbox from the keyboard, as in any form.
        _tab_to(page, "private")
        checked = page.is_checked("#private")
        page.keyboard.press("Space")
        assert page.is_checked("#private") is not checked
