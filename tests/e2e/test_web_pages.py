"""The web UI over real HTTP (httpx as the browser, no JavaScript): signing in with a token
for an HttpOnly, SameSite session cookie; CSRF refused on forms and on cookie-signed API
calls; the projects table holds only the user's projects; the new-project form's typed
fields, the service's messages next to the field, the preview without secret values; create,
the project page's progress bar, repair and a delete confirmed by name; forge connections by
OAuth through the emulator's sign-in page; and the pages in Chinese."""

from __future__ import annotations

import html
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.e2e.conftest import sandbox_settings
from tests.support.api import Served, connect_new_account, served_app
from tests.support.waiting import wait_until
from tests.support.web import forge_sign_in, oauth_settings, tokenless_account

from slipway import service
from slipway.domain.errors import NotFound
from slipway.sandbox.runner import Sandbox

BUILTIN = Path(service.__file__).parent.parent / "templates" / "builtin" / "static-site"
TEMPLATE = "web-form-site"
SECRET = "api_key"


def _template(root: Path) -> Path:
    """static-site plus one parameter of every kind: a secret, an int with bounds, a bool,
    a choice, a plain string with a default and a required one."""
    folder = root / TEMPLATE
    shutil.copytree(BUILTIN, folder)
    questions = yaml.safe_load((folder / "copier.yml").read_text())
    questions["_slipway"]["description"] = "static-site with every kind of parameter"
    questions["_slipway"]["parameters"]["replicas"] = {"min": 1, "max": 5}
    questions[SECRET] = {"type": "str", "secret": True, "default": "", "help": "a key"}
    questions["replicas"] = {"type": "int", "default": 2, "help": "how many pods"}
    questions["debug"] = {"type": "bool", "default": False, "help": "verbose logs"}
    questions["region"] = {
        "type": "str",
        "choices": ["eu", "us", "ap"],
        "default": "us",
        "help": "where",
    }
    questions["team"] = {"type": "str", "help": "who runs it"}
    (folder / "copier.yml").write_text(yaml.safe_dump(questions, sort_keys=False))
    (folder / "api-key.txt.jinja").write_text("{{ api_key }}\n")
    return root


@pytest.fixture(scope="module")
def site(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The API and the pages over an App with the extra template and the emulator's OAuth
    applications for all three forges; one worker (one per process)."""
    root = tmp_path_factory.mktemp("web")
    forge = sandbox.forge
    assert forge is not None
    settings = sandbox_settings(
        sandbox,
        root / "data",
        templates_path=[_template(root / "templates")],
        environments=("dev",),
        **oauth_settings(forge),
    )
    with served_app(settings, sandbox) as served:
        yield served


@dataclass
class Person:
    name: str
    token: str
    browser: httpx.Client
    login: str | None = None


def _browser(site: Served, language: str = "en") -> httpx.Client:
    return httpx.Client(
        base_url=site.url,
        follow_redirects=False,
        timeout=60,
        headers={"Accept-Language": language},
    )


@pytest.fixture
def people(site: Served) -> Iterator[Any]:
    made: list[Person] = []

    def new(*, connect: bool = True, language: str = "en", sign_in: bool = True) -> Person:
        name = f"web-{secrets.token_hex(3)}"
        token = service.create_user(site.app, name, admin=False).token.get_secret_value()
        person = Person(name, token, _browser(site, language))
        made.append(person)
        if connect:
            forge = site.sandbox.forge
            assert forge is not None
            bearer = {"Authorization": f"Bearer {token}"}
            person.login = connect_new_account(
                forge, person.browser, name, path="/api/v1/connections", headers=bearer
            ).login
        if sign_in:
            assert _sign_in(person.browser, token).status_code == 303
        return person

    yield new
    for person in made:
        person.browser.close()


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no form token"
    return found.group(1)


def _sign_in(browser: httpx.Client, token: str) -> httpx.Response:
    page = browser.get("/sign-in")
    assert page.status_code == 200, page.text
    return browser.post("/sign-in", data={"csrf_token": _csrf(page.text), "token": token})


def _by_id(page: str, element_id: str) -> str:
    """The opening tag of the element with this id (and its text up to the next tag)."""
    found = re.search(rf'<[a-z]+ [^>]*id="{re.escape(element_id)}"[^>]*>[^<]*', page)
    assert found, f"no element #{element_id}"
    return found.group(0)


def _form(person: Person, template: str = TEMPLATE) -> str:
    page = person.browser.get("/projects/new", params={"template": template})
    assert page.status_code == 200, page.text
    return page.text


def _post_project(
    person: Person, fields: dict[str, str], template: str = TEMPLATE
) -> httpx.Response:
    csrf = _csrf(_form(person, template))
    return person.browser.post(
        "/projects/new", data={"csrf_token": csrf, "template": template, **fields}
    )


def _names(site: Served, person: Person) -> list[str]:
    listed = httpx.get(
        site.url + "/api/v1/projects",
        headers={"Authorization": f"Bearer {person.token}"},
        timeout=30,
    )
    assert listed.status_code == 200, listed.text
    return [p["name"] for p in listed.json()["items"]]


def _run_final(site: Served, name: str, run: int) -> str:
    def final() -> str | None:
        events = service.project_events(site.app, name)
        ended = [e.final for e in events if e.run == run and e.final]
        return ended[-1] if ended else None

    return wait_until(final, message=f"run {run} of {name} to end", timeout=180, interval=0.3)


def test_sign_in_exchanges_a_token_for_an_httponly_samesite_session(
    site: Served, people: Any
) -> None:
    person = people(connect=False, sign_in=False)
    browser = person.browser
    assert browser.get("/projects").headers["location"] == "/sign-in"

    refused = _sign_in(browser, "slw_not-a-token")
    assert refused.status_code == 401
    assert "No user holds this token" in _by_id(refused.text, "error-token")
    assert "slipway_session" not in refused.headers.get("set-cookie", "")

    signed = _sign_in(browser, person.token)
    assert signed.status_code == 303 and signed.headers["location"] == "/projects"
    cookie = next(c for c in signed.headers.get_list("set-cookie") if "slipway_session=" in c)
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags  # plain http here: a Secure cookie would never come back
    assert person.token not in cookie
    page = browser.get("/projects")
    assert page.status_code == 200 and person.name in page.text
    assert person.token not in page.text
    # The same cookie signs the page's script in to the API.
    assert browser.get("/api/v1/me").json()["name"] == person.name

    # Behind a TLS proxy the cookie is Secure.
    again = httpx.Client(base_url=site.url, follow_redirects=False, timeout=30)
    with again:
        form = again.get("/sign-in")
        over_tls = again.post(
            "/sign-in",
            data={"csrf_token": _csrf(form.text), "token": person.token},
            headers={"X-Forwarded-Proto": "https"},
        )
    secure = next(c for c in over_tls.headers.get_list("set-cookie") if "slipway_session=" in c)
    assert "secure" in {part.strip().lower() for part in secure.split(";")}

    out = browser.post("/sign-out", data={"csrf_token": _csrf(page.text)})
    assert out.status_code == 303
    assert browser.get("/projects").headers["location"] == "/sign-in"
    assert browser.get("/api/v1/me").status_code == 401


def test_forms_and_cookie_signed_api_calls_without_the_csrf_token_are_refused(
    site: Served, people: Any
) -> None:
    person = people()
    fields = {"template": "static-site", "name": "csrf-less", "action": "create"}
    # A sign-in form posted from elsewhere carries no matching token.
    with _browser(site) as stranger:
        assert stranger.post("/sign-in", data={"token": person.token}).status_code == 403
    assert person.browser.post("/projects/new", data=fields).status_code == 403
    forged = person.browser.post("/projects/new", data={**fields, "csrf_token": "forged"})
    assert forged.status_code == 403
    assert "csrf-less" not in _names(site, person)

    body = {"name": "csrf-less", "template": "static-site"}
    api = person.browser.post("/api/v1/projects/preview", json=body)
    assert api.status_code == 403
    assert api.headers["content-type"].startswith("application/problem+json")
    problem = api.json()
    assert (problem["error"], problem["title"]) == ("Forbidden", "Forbidden")
    assert "X-CSRF-Token" in problem["detail"] and "WWW-Authenticate" not in api.headers
    token = _csrf(person.browser.get("/projects").text)
    allowed = person.browser.post(
        "/api/v1/projects/preview", json=body, headers={"X-CSRF-Token": token}
    )
    assert allowed.status_code == 200, allowed.text
    assert "csrf-less" not in _names(site, person)


def test_the_projects_table_lists_only_the_users_own_projects(site: Served, people: Any) -> None:
    mine, theirs = people(), people()
    for person, name in (
        (mine, f"mine-{secrets.token_hex(2)}"),
        (theirs, f"their-{secrets.token_hex(2)}"),
    ):
        created = _post_project(person, {"name": name, "action": "create"}, "static-site")
        assert created.status_code == 303, created.text
    own = _names(site, mine)[0]
    other = _names(site, theirs)[0]
    table = mine.browser.get("/projects")
    assert f'href="/projects/{own}"' in table.text
    assert other not in table.text
    assert "Last observed" in table.text
    assert mine.browser.get(f"/projects/{other}").status_code == 404
    filtered = mine.browser.get("/projects", params={"status": "failed"})
    assert own not in filtered.text
    for person, name in ((mine, own), (theirs, other)):
        _run_final(site, name, 1)
        assert person  # the runs end before the next test's
    assert 'id="health-filter"' in table.text
    assert f'href="/projects/{own}"' in mine.browser.get("/projects?health=healthy").text
    assert f'href="/projects/{own}"' not in mine.browser.get("/projects?health=degraded").text


def test_the_new_project_form_has_a_typed_field_per_parameter(site: Served, people: Any) -> None:
    page = _form(people())
    assert "static-site with every kind of parameter" in page
    for name in ("region", SECRET, "replicas", "debug", "image", "port", "page_title"):
        assert re.search(f'<label for="parameters.{name}"[^>]*>', page), name
    region = re.search(r'<select id="parameters.region".*?</select>', page, re.S)
    assert region is not None
    assert re.findall(r'<option value="(\w+)"', region.group(0)) == ["eu", "us", "ap"]
    assert '<option value="us" selected>' in region.group(0)
    secret = _by_id(page, f"parameters.{SECRET}")
    assert 'type="password"' in secret and 'value=""' in secret
    replicas = _by_id(page, "parameters.replicas")
    assert 'type="number"' in replicas
    assert all(a in replicas for a in ('min="1"', 'max="5"', 'value="2"'))
    debug = _by_id(page, "parameters.debug")
    assert 'type="checkbox"' in debug and "checked" not in debug
    assert 'value="8080"' in _by_id(page, "parameters.port")
    assert 'value="dev"' in _by_id(page, "environments")
    assert "<fieldset" in page and "<legend>" in page


def test_a_bad_field_shows_the_services_message_next_to_it_and_records_nothing(
    site: Served, people: Any
) -> None:
    person = people()
    answer = _post_project(
        person,
        {
            "name": "bad-replicas",
            "parameters.replicas": "9",
            "parameters.api_key": "k-1",
            "parameters.team": "web",
            "action": "create",
        },
    )
    assert answer.status_code == 422
    error = _by_id(answer.text, "error-parameters.replicas")
    assert "must be at most 5, got 9" in error
    field = _by_id(answer.text, "parameters.replicas")
    assert 'aria-invalid="true"' in field and "error-parameters.replicas" in field
    assert 'value="bad-replicas"' in _by_id(answer.text, "name")  # what was typed stays
    assert 'value=""' in _by_id(answer.text, f"parameters.{SECRET}")  # but never a secret
    assert "bad-replicas" not in _names(site, person)

    # Every bad field at once, each next to its own field: not one per submission.
    both = _post_project(
        person, {"name": "Bad Name!", "parameters.replicas": "9", "action": "create"}
    )
    assert both.status_code == 422
    assert "DNS-1123" in _by_id(both.text, "error-name")
    assert "must be at most 5, got 9" in _by_id(both.text, "error-parameters.replicas")
    assert "is required" in _by_id(both.text, "error-parameters.team")  # left blank


def test_preview_shows_files_and_manifests_but_no_secret_value(site: Served, people: Any) -> None:
    person = people()
    secret = f"s3cret-{secrets.token_hex(6)}"
    answer = _post_project(
        person,
        {
            "name": "previewed",
            "parameters.api_key": secret,
            "parameters.team": "web",
            "parameters.debug": "true",
            "action": "preview",
        },
    )
    assert answer.status_code == 200, answer.text
    files = re.search(r'<ul id="preview-files">(.*?)</ul>', answer.text, re.S)
    assert files is not None and "api-key.txt" in files.group(1)
    manifests = re.search(r'<pre id="preview-manifests"[^>]*>(.*?)</pre>', answer.text, re.S)
    assert manifests is not None and "Kustomization" in html.unescape(manifests.group(1))
    assert secret not in answer.text
    assert "checked" in _by_id(answer.text, "parameters.debug")
    assert "previewed" not in _names(site, person)


def test_create_then_the_project_page_repair_and_delete_confirmed_by_name(
    site: Served, people: Any
) -> None:
    person = people()
    name = f"web-{secrets.token_hex(2)}"
    created = _post_project(person, {"name": name, "action": "create"}, "static-site")
    assert created.status_code == 303, created.text
    assert created.headers["location"] == f"/projects/{name}"
    page = person.browser.get(f"/projects/{name}").text
    bar = _by_id(page, "progress")
    assert 'role="progressbar"' in bar
    assert all(a in bar for a in ('aria-valuemin="0"', 'aria-valuemax="100"', "aria-valuenow="))
    assert f'data-stream="/api/v1/projects/{name}/events/stream"' in bar or "data-stream" not in bar

    # The page's script follows the run over the API's stream, signed in by the cookie.
    with person.browser.stream("GET", f"/api/v1/projects/{name}/events/stream") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    assert "event: progress" in text and '"final":"completed"' in text.replace(" ", "")

    assert _run_final(site, name, 1) == "completed"
    done_page = person.browser.get(f"/projects/{name}")
    assert "frame-ancestors 'none'" in done_page.headers["content-security-policy"]
    done = done_page.text
    assert 'aria-valuenow="100"' in _by_id(done, "progress")
    assert "data-stream" not in _by_id(done, "progress")
    environment = re.search(r'<table id="environment-dev".*?</table>', done, re.S)
    assert environment is not None and "Kustomization" in environment.group(0)
    assert "resource-ready" in environment.group(0)
    assert '<ol id="step-log"' in done and "<li" in done

    repaired = person.browser.post(f"/projects/{name}/repair", data={"csrf_token": _csrf(done)})
    assert repaired.status_code == 303
    assert _run_final(site, name, 2) == "completed"

    wrong = person.browser.post(
        f"/projects/{name}/delete", data={"csrf_token": _csrf(done), "confirm": "not-it"}
    )
    assert wrong.status_code == 422
    assert "Type the project" in _by_id(wrong.text, "error-confirm")
    assert name in _names(site, person)

    deleted = person.browser.post(
        f"/projects/{name}/delete", data={"csrf_token": _csrf(done), "confirm": name}
    )
    assert deleted.status_code == 303, deleted.text

    def gone() -> bool:
        try:
            service.show_project(site.app, name)
        except NotFound:
            return True
        return False

    wait_until(gone, message=f"{name} to be deleted", timeout=180, interval=0.3)
    assert person.browser.get(f"/projects/{name}").status_code == 404


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_forge_is_connected_by_oauth_listed_and_removed(
    site: Served, people: Any, kind: str
) -> None:
    person = people(connect=False)
    forge = site.sandbox.forge
    assert forge is not None
    login = tokenless_account(forge)
    page = person.browser.get("/settings/connections")
    assert 'id="no-connections"' in page.text
    assert f'id="connect-{kind}"' in page.text
    started = person.browser.post(
        "/settings/connections/connect", data={"csrf_token": _csrf(page.text), "forge": kind}
    )
    assert started.status_code == 303
    back = forge_sign_in(started.headers["location"], login)
    assert back.startswith(site.url + "/settings/connections/callback?")

    # The callback in another browser (another session) is refused and stores nothing.
    with _browser(site) as other_browser:
        assert _sign_in(other_browser, person.token).status_code == 303
        refused = other_browser.get(back.removeprefix(site.url))
        assert refused.status_code == 400
    assert (
        service.list_connections(site.app, actor=service.authenticate(site.app, person.token)) == []
    )

    finished = person.browser.get(back.removeprefix(site.url))
    assert finished.status_code == 303, finished.text
    listed = person.browser.get(finished.headers["location"]).text
    row = re.search(rf'<tr data-forge="{kind}" data-account="{login}">.*?</tr>', listed, re.S)
    assert row is not None
    scopes = re.search(r'<td class="scopes">(.*?)</td>', row.group(0), re.S)
    assert scopes is not None
    granted = {"github": "repo", "gitlab": "api"}[kind]
    assert granted in re.sub(r"<[^>]+>", "", scopes.group(1)).split(", ")
    # The state is used once: the same callback again is refused.
    assert person.browser.get(back.removeprefix(site.url)).status_code == 400

    removed = person.browser.post(
        "/settings/connections/remove",
        data={
            "csrf_token": _csrf(listed),
            "forge": kind,
            "account": login,
            "url": forge.url,
        },
    )
    assert removed.status_code == 303, removed.text
    assert login not in person.browser.get("/settings/connections").text


def test_pages_are_in_chinese_for_accept_language_zh_cn(site: Served, people: Any) -> None:
    person = people(language="zh-CN")
    sign_in = person.browser.get("/sign-in", follow_redirects=False)
    assert sign_in.status_code == 303  # already signed in
    with _browser(site, "zh-CN,zh;q=0.9,en;q=0.5") as anonymous:
        page = anonymous.get("/sign-in").text
    assert '<html lang="zh-CN">' in page and "登录" in page and "Sign in" not in page
    projects = person.browser.get("/projects").text
    assert "新建项目" in projects and "New project" not in projects
    form = _form(person)
    assert "使用此模板" in form and "Use this template" not in form
    with _browser(site, "fr, en;q=0.5") as english:
        assert "Sign in" in english.get("/sign-in").text


def test_a_cancelled_forge_sign_in_connects_nothing(site: Served, people: Any) -> None:
    person = people(connect=False)
    page = person.browser.get("/settings/connections")
    started = person.browser.post(
        "/settings/connections/connect", data={"csrf_token": _csrf(page.text), "forge": "gitea"}
    )
    assert started.status_code == 303
    back = forge_sign_in(started.headers["location"], "nobody", decision="deny")
    answer = person.browser.get(back.removeprefix(site.url))
    assert answer.status_code == 400
    assert "cancelled" in _by_id(answer.text, "connections-error")
    assert 'id="no-connections"' in answer.text


def test_a_wrong_address_is_a_page_for_a_browser_and_a_problem_for_the_api(site: Served) -> None:
    html_accept = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for language, words in (
        ("en", "There is no page at this address:"),
        ("zh-CN", "此地址没有页面"),
    ):
        with _browser(site, language) as browser:
            page = browser.get("/projectz", headers=html_accept)
            assert page.status_code == 404
            assert page.headers["content-type"].startswith("text/html")
            found = _by_id(page.text, "not-found")
            assert words in found and "<code>/projectz</code>" in page.text
            assert 'href="/projects"' in page.text  # a way back

            # The API, and anyone not asking for a page, keep the problem document.
            for path, accept in (("/api/v1/nothing", html_accept), ("/projectz", {})):
                answer = browser.get(path, headers=accept)
                assert answer.status_code == 404
                assert answer.headers["content-type"].startswith("application/problem+json")
