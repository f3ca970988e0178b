"""Slipway's own messages in Simplified Chinese where the reader asks for it: the API's
problem details and event messages by Accept-Language, the CLI by LANG; without either,
the same English as always."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from tests.e2e.api_helpers import (
    Served,
    Users,
    assert_problem,
    create_body,
    history,
    progress,
    project_name,
    served_api,
    sse_events,
    users_of,
)
from tests.support.cli import InProcessCli

from slipway.sandbox.runner import Sandbox

CHINESE = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}


@pytest.fixture(scope="module")
def served(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_api(sandbox, tmp_path_factory.mktemp("api-i18n") / "data") as running:
        yield running


@pytest.fixture
def users(served: Served) -> Iterator[Users]:
    with users_of(served) as made:
        yield made


def test_a_missing_project_answers_in_the_language_asked_for(users: Users) -> None:
    alice = users.new("alice", connect=False)
    name = project_name("missing")
    english = assert_problem(alice.http.get(f"/projects/{name}"), 404, "NotFound")
    assert english["detail"] == f"no project named '{name}'"
    assert english["title"] == "Not found"

    answer = alice.http.get(f"/projects/{name}", headers=CHINESE)
    chinese = assert_problem(answer, 404, "NotFound")
    assert answer.headers["content-language"] == "zh-CN"
    assert chinese["detail"] == f"没有名为 '{name}' 的项目"
    assert chinese["hint"] == "用 `slipway project list` 列出项目"
    assert chinese["title"] == "未找到"
    # Identifiers stay as they are: a client branches on them, whatever the language.
    assert (chinese["error"], chinese["exit_code"], chinese["type"]) == (
        english["error"],
        english["exit_code"],
        english["type"],
    )


def test_invalid_input_names_the_rule_in_chinese(users: Users) -> None:
    alice = users.new("alice")
    body = create_body("Not_A-Name")
    english = assert_problem(alice.http.post("/projects", json=body), 422, "InvalidInput")
    chinese = assert_problem(
        alice.http.post("/projects", json=body, headers=CHINESE), 422, "InvalidInput"
    )
    assert [e["field"] for e in chinese["errors"]] == [e["field"] for e in english["errors"]]
    [rule] = [e["rule"] for e in chinese["errors"]]
    assert rule.startswith("'Not_A-Name' 只能包含小写字母、数字和 '-'"), rule
    assert chinese["detail"].startswith("name：'Not_A-Name' 只能包含"), chinese["detail"]
    assert chinese["title"] == "无效输入"
    assert english["errors"][0]["rule"].startswith("'Not_A-Name' must be lowercase letters")


def test_the_event_stream_speaks_chinese_to_a_chinese_reader(served: Served, users: Users) -> None:
    alice = users.new("alice")
    name = project_name("zh")
    assert alice.http.post("/projects", json=create_body(name)).status_code == 201
    with alice.http.stream("GET", f"/projects/{name}/events/stream", headers=CHINESE) as response:
        assert response.headers["content-language"] == "zh-CN"
        streamed = progress(list(sse_events(response)))
    assert streamed[0]["message"] == f"项目 {name} 已排队（模板 static-site）"
    assert streamed[-1]["final"] == "completed"
    assert streamed[-1]["message"].startswith(f"项目 {name} 已激活："), streamed[-1]
    # The same events in English for a reader who asks for nothing in particular.
    english = history(alice.http, name)
    assert english[0]["message"] == f"project {name} queued (template static-site)"
    assert english[-1]["message"].startswith(f"project {name} is active: ")
    assert [e["sequence"] for e in english] == [e["sequence"] for e in streamed]


def test_the_cli_follows_lang(slipway_cli: InProcessCli, monkeypatch: pytest.MonkeyPatch) -> None:
    english = slipway_cli("project", "show", "missing")
    assert english.returncode == 3
    assert "no project named 'missing'" in english.stderr

    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    chinese = slipway_cli("project", "show", "missing")
    assert chinese.returncode == 3
    [line] = chinese.stderr.strip().splitlines()
    assert "没有名为 'missing' 的项目 — 用 `slipway project list` 列出项目" in line, line
    # --json is for scripts: the same English document whatever the shell's language.
    scripted = slipway_cli("project", "show", "missing", "--json")
    assert scripted.returncode == 3
    assert json.loads(scripted.stdout)["error"]["message"] == "no project named 'missing'"
