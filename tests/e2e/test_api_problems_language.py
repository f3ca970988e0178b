"""The API's refusals that pydantic and Starlette produce (a field of the wrong type, a
missing one, an unknown route, a method a route does not take) answer in the request's
language as the service's own do: Slipway's rules in English, and Simplified Chinese with
no English left but field names and the values the request itself named."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.e2e.api_helpers import (
    API,
    ApiUser,
    Served,
    assert_problem,
    create_body,
    project_name,
    served_api,
    users_of,
)

from slipway.sandbox.runner import Sandbox

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}
# Names a Chinese sentence keeps as they are.
PROPER_NAMES = {"JSON", "HTTP", "Kubernetes"}
_ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
_QUOTED = re.compile(r"'[^']*'")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def served(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_api(sandbox, tmp_path_factory.mktemp("api-language") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def user(served: Served) -> Iterator[ApiUser]:
    with users_of(served) as made:
        yield made.new("speaker")


def _human_texts(problem: dict[str, Any]) -> list[str]:
    texts = [problem["title"], problem["detail"], problem.get("hint") or ""]
    return texts + [e["rule"] for e in problem["errors"]]


def assert_chinese(response: httpx.Response, *values: str) -> dict[str, Any]:
    """Every human-readable field is Chinese: once field names, quoted values, the request's
    path and `values` (what the request named: methods, choices) are taken out, no English
    word of three letters or more is left."""
    assert response.headers["content-language"] == "zh-CN", response.headers
    problem: dict[str, Any] = response.json()
    names = [e["field"] for e in problem["errors"]] + [response.request.url.path, *values]
    for text in _human_texts(problem):
        if not text:
            continue
        assert _CJK.search(text), f"no Chinese in {text!r}"
        left = _QUOTED.sub(" ", text)
        for name in sorted(names, key=len, reverse=True):
            left = left.replace(name, " ")
        words = [w for w in _ENGLISH_WORD.findall(left) if w not in PROPER_NAMES]
        assert words == [], f"English left in {text!r}: {words}"
    return problem


def _rules(problem: dict[str, Any]) -> dict[str, str]:
    return {e["field"]: e["rule"] for e in problem["errors"]}


# (label, body change, removed key, {field: English rule}, values the request named)
INVALID_BODIES: list[tuple[str, dict[str, Any], str | None, dict[str, str], tuple[str, ...]]] = [
    ("name not a string", {"name": 5}, None, {"name": "must be a string"}, ()),
    ("name missing", {}, "name", {"name": "is required"}, ()),
    (
        "environments not a list",
        {"environments": "dev"},
        None,
        {"environments": "must be a list"},
        (),
    ),
    (
        "parameters not an object",
        {"parameters": ["port"]},
        None,
        {"parameters": "must be a JSON object"},
        (),
    ),
    (
        "parameter value of no allowed type",
        {"parameters": {"port": [80]}},
        None,
        {"parameters.port": "must be a string, an integer or a boolean"},
        (),
    ),
    (
        "forge not one",
        {"forge": "svn"},
        None,
        {"forge": "must be one of github, gitlab, gitea"},
        ("github", "gitlab", "gitea"),
    ),
    ("private not a boolean", {"private": "maybe"}, None, {"private": "must be true or false"}, ()),
    ("extra field", {"colour": "red"}, None, {"colour": "is not a field of this request"}, ()),
]


@pytest.mark.parametrize(
    ("change", "removed", "rules", "values"),
    [case[1:] for case in INVALID_BODIES],
    ids=[case[0] for case in INVALID_BODIES],
)
def test_a_body_pydantic_refuses_answers_in_either_language(
    user: ApiUser,
    change: dict[str, Any],
    removed: str | None,
    rules: dict[str, str],
    values: tuple[str, ...],
) -> None:
    body = {**create_body(project_name("lang")), **change}
    if removed is not None:
        del body[removed]
    english = assert_problem(
        user.http.post("/projects", json=body, headers=EN), 422, "InvalidInput"
    )
    assert _rules(english) == rules
    assert english["title"] == "Invalid input"
    assert english["detail"] == "; ".join(f"{f}: {r}" for f, r in rules.items())

    answer = user.http.post("/projects", json=body, headers=ZH)
    assert_problem(answer, 422, "InvalidInput")
    chinese = assert_chinese(answer, *values)
    assert _rules(chinese).keys() == rules.keys()
    assert chinese["title"] == "无效输入"


def test_a_name_too_long_is_refused_in_either_language(user: ApiUser) -> None:
    body = create_body("n" * 70)
    english = assert_problem(
        user.http.post("/projects", json=body, headers=EN), 422, "InvalidInput"
    )
    assert list(_rules(english)) == ["name"] and "at most 51 characters" in english["detail"]
    answer = user.http.post("/projects", json=body, headers=ZH)
    assert_problem(answer, 422, "InvalidInput")
    assert_chinese(answer)


@pytest.mark.parametrize(
    ("params", "rule", "values"),
    [
        ({"limit": 0}, "must be at least 1", ()),
        ({"limit": "many"}, "must be an integer", ()),
        (
            {"status": "sleeping"},
            "must be one of pending, initializing, active, degraded, failed, deleting",
            ("pending", "initializing", "active", "degraded", "failed", "deleting"),
        ),
    ],
)
def test_a_query_pydantic_refuses_answers_in_either_language(
    user: ApiUser, params: dict[str, Any], rule: str, values: tuple[str, ...]
) -> None:
    english = assert_problem(
        user.http.get("/projects", params=params, headers=EN), 422, "InvalidInput"
    )
    assert [e["rule"] for e in english["errors"]] == [rule]
    answer = user.http.get("/projects", params=params, headers=ZH)
    assert_problem(answer, 422, "InvalidInput")
    assert_chinese(answer, *values)


def test_a_body_that_is_not_json_answers_in_either_language(user: ApiUser) -> None:
    json_type = {"Content-Type": "application/json"}
    english = user.http.post("/projects", content=b"{not json", headers={**json_type, **EN})
    assert _rules(assert_problem(english, 422, "InvalidInput")) == {"body": "must be valid JSON"}
    answer = user.http.post("/projects", content=b"{not json", headers={**json_type, **ZH})
    assert_problem(answer, 422, "InvalidInput")
    assert_chinese(answer)


def test_an_unknown_api_route_answers_in_either_language(user: ApiUser) -> None:
    path = f"{API}/no-such-route"
    english = user.http.get("/no-such-route", headers=EN)
    problem = assert_problem(english, 404, "NotFound")
    assert (problem["title"], problem["detail"]) == ("Not found", f"there is nothing at {path}")
    assert english.headers["content-language"] == "en"
    answer = user.http.get("/no-such-route", headers=ZH)
    chinese = assert_chinese(answer)
    assert (chinese["status"], chinese["error"], chinese["title"]) == (404, "NotFound", "未找到")


@pytest.mark.parametrize(
    ("method", "route", "allowed"),
    [
        ("DELETE", "/me", "GET"),
        # Two routes share the path: both methods are named, not only the first route's.
        ("PUT", "/projects", "GET, POST"),
        ("PATCH", "/projects/some-name", "DELETE, GET"),
    ],
)
def test_a_method_a_route_does_not_take_answers_in_either_language(
    user: ApiUser, method: str, route: str, allowed: str
) -> None:
    path = f"{API}{route}"
    english = user.http.request(method, route, headers=EN)
    problem = assert_problem(english, 405, "HTTPError")
    assert english.headers["allow"] == allowed
    assert (problem["title"], problem["detail"]) == (
        "Method not allowed",
        f"{path} does not take {method}; it takes {allowed}",
    )
    answer = user.http.request(method, route, headers=ZH)
    assert answer.headers["allow"] == allowed
    chinese = assert_chinese(answer, method, *allowed.split(", "))
    assert (chinese["status"], chinese["title"]) == (405, "不允许的方法")
