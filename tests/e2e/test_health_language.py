"""Health in the reader's language (issue 13): a namespace deleted out of band makes its rows
`missing` and its environment degraded; the project view carries Slipway's own words (the
sync's missing message, the health reasons) as translatable texts, so they render in
Simplified Chinese for a Chinese reader and stay the same English for everyone else."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import sandbox_settings
from tests.e2e.test_pipeline import create, wait_final
from tests.support.api import api_server

from slipway import service
from slipway.bootstrap import App, bootstrap
from slipway.cli import print_project
from slipway.domain.names import ResourceNames
from slipway.i18n import localize
from slipway.pipeline.runtime import Worker
from slipway.sandbox.runner import Sandbox
from slipway.service.sync import sync_now

MISSING_EN = "not in the cluster any more: it was deleted outside Slipway"
MISSING_ZH = "已不在集群中：它在 Slipway 之外被删除了"


@pytest.fixture
def app(sandbox: Sandbox, tmp_path: Path) -> Iterator[App]:
    app = bootstrap(sandbox_settings(sandbox, tmp_path / "data"))
    yield app
    app.close()


def test_a_deleted_namespace_reads_missing_in_chinese_and_english(
    app: App, sandbox: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sandbox.kube is not None
    worker = Worker(app).start()
    try:
        create(
            app,
            service.CreateRequest(name="babel", template="static-site", environments=("dev",)),
            worker,
        )
        assert wait_final(app, "babel") == "completed"
    finally:
        worker.stop()
    sandbox.kube.delete("v1", "Namespace", ResourceNames("babel", "dev").namespace)
    summary = asyncio.run(sync_now(app))
    assert {c.after for c in summary.changes if c.project == "babel"} == {"missing"}

    view = service.show_project(app, "babel")
    [dev] = view.environments
    missing = [r for r in view.resources if r.status == "missing"]
    assert missing, view.resources
    gone = ", ".join(f"{r.kind} {r.name}" for r in missing)

    # English: exactly the words as before.
    assert (view.health, view.health_reason) == (
        "degraded",
        f"dev: missing from the cluster: {gone}",
    )
    assert (dev.health, dev.health_reason) == ("degraded", f"missing from the cluster: {gone}")
    assert {r.message for r in missing} == {MISSING_EN}
    assert {localize(r.message, "en") for r in missing} == {MISSING_EN}
    assert localize(view.health_reason, "en") == f"dev: missing from the cluster: {gone}"

    # Chinese: Slipway's words translated, the objects' kinds and names as they are.
    assert {localize(r.message, "zh_CN") for r in missing} == {MISSING_ZH}
    assert localize(dev.health_reason, "zh_CN") == f"集群中缺失：{gone}"
    assert localize(view.health_reason, "zh_CN") == f"dev：集群中缺失：{gone}"

    # The view as a face shows it: in Chinese for a Chinese reader, unchanged in English.
    chinese = view.localized("zh_CN")
    assert chinese.health_reason == f"dev：集群中缺失：{gone}"
    assert [e.health_reason for e in chinese.environments] == [f"集群中缺失：{gone}"]
    assert {r.message for r in chinese.resources if r.status == "missing"} == {MISSING_ZH}
    assert view.localized("en").to_dict() == view.to_dict()

    # The faces: the API by Accept-Language, the CLI by LANG.
    admin = service.create_user(app, "babel-admin", admin=True)
    worker = Worker(app).start()
    try:
        with api_server(app, worker) as url:
            auth = {"Authorization": f"Bearer {admin.token.get_secret_value()}"}
            with httpx.Client(base_url=url, headers=auth, timeout=60) as http:
                zh = http.get("/api/v1/projects/babel", headers={"Accept-Language": "zh-CN"})
                en = http.get("/api/v1/projects/babel", headers={"Accept-Language": "en"})
    finally:
        worker.stop()
    assert zh.json()["health_reason"] == f"dev：集群中缺失：{gone}"
    assert {r["message"] for r in zh.json()["resources"] if r["status"] == "missing"} == {
        MISSING_ZH
    }
    assert en.json()["health_reason"] == f"dev: missing from the cluster: {gone}"

    capsys.readouterr()
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.setenv("COLUMNS", "400")
    print_project(service.show_project(app, "babel"))
    shown = capsys.readouterr().out
    assert f"集群中缺失：{gone}" in shown and "missing from the cluster" not in shown
