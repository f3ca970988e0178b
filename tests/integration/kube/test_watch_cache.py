"""The watch cache as clients resuming a watch depend on it, over plain HTTP: replayed
events keep the resourceVersion of their own write, old versions expire after the window
(an ERROR event with a 410 Expired Status), bookmarks, and generateName."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from slipway.sandbox.kube import KubeEmulator

TOKEN = "sandbox-token"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(scope="module")
def small() -> Iterator[KubeEmulator]:
    """An emulator whose watch cache forgets after 3 s and bookmarks every 0.5 s."""
    with KubeEmulator(tls=False, watch_window=3.0, watch_bookmark_interval=0.5) as kube:
        yield kube


@pytest.fixture
def http(small: KubeEmulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=small.url, headers=headers, timeout=10) as client:
        yield client


def _watch(http: httpx.Client, path: str, **params: str) -> list[dict[str, Any]]:
    query = {"watch": "true", "timeoutSeconds": "1", **params}
    with http.stream("GET", path, params=query) as response:
        assert response.status_code == 200
        return [json.loads(line) for line in response.iter_lines() if line]


def _rv(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["resourceVersion"])


def test_replayed_events_carry_their_own_resource_version(http: httpx.Client) -> None:
    created = http.post(CONFIGMAPS, json={"metadata": {"name": "replay"}, "data": {"a": "1"}})
    start = _rv(created.json())
    modified = http.put(
        f"{CONFIGMAPS}/replay", json={"metadata": {"name": "replay"}, "data": {"a": "2"}}
    ).json()
    http.delete(f"{CONFIGMAPS}/replay").raise_for_status()
    events = [
        e
        for e in _watch(http, CONFIGMAPS, resourceVersion=start)
        if e["object"]["metadata"].get("name") == "replay"
    ]
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
    assert _rv(events[0]["object"]) == _rv(modified)
    assert int(_rv(events[1]["object"])) > int(_rv(modified))
    # Resuming from the MODIFIED's version still delivers the DELETE.
    resumed = [
        e["type"]
        for e in _watch(http, CONFIGMAPS, resourceVersion=_rv(events[0]["object"]))
        if e["object"]["metadata"].get("name") == "replay"
    ]
    assert resumed == ["DELETED"]


def test_a_version_older_than_the_window_expires(http: httpx.Client) -> None:
    first = http.post(CONFIGMAPS, json={"metadata": {"name": "aging"}}).json()
    http.put(f"{CONFIGMAPS}/aging", json={"metadata": {"name": "aging"}, "data": {"b": "1"}})
    assert [e["type"] for e in _watch(http, CONFIGMAPS, resourceVersion=_rv(first))] == ["MODIFIED"]
    time.sleep(3.5)  # past the 3 s window
    http.delete(f"{CONFIGMAPS}/aging").raise_for_status()
    events = _watch(http, CONFIGMAPS, resourceVersion=_rv(first))
    assert [e["type"] for e in events] == ["ERROR"]
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith(f"too old resource version: {_rv(first)} (")
    listed = http.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]
    assert _watch(http, CONFIGMAPS, resourceVersion=listed) == []  # a fresh one still works


def test_bookmarks_carry_the_current_version(http: httpx.Client) -> None:
    listed = http.get(CONFIGMAPS).json()["metadata"]["resourceVersion"]
    http.post("/api/v1/namespaces/kube-system/configmaps", json={"metadata": {"name": "mark"}})
    latest = http.get("/api/v1/namespaces/kube-system/configmaps/mark").json()
    events = _watch(
        http, CONFIGMAPS, resourceVersion=listed, allowWatchBookmarks="true", timeoutSeconds="2"
    )
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert len(events) >= 2  # every 0.5 s
    assert events[-1]["object"] == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": _rv(latest)},
    }
    assert _watch(http, CONFIGMAPS, resourceVersion=_rv(latest)) == []  # none unless asked


def test_generate_name_adds_five_random_characters(http: httpx.Client) -> None:
    names = set()
    for _ in range(3):
        response = http.post(CONFIGMAPS, json={"metadata": {"generateName": "job-"}})
        assert response.status_code == 201
        obj = response.json()
        assert obj["metadata"]["generateName"] == "job-"
        names.add(obj["metadata"]["name"])
    assert len(names) == 3
    for name in names:
        assert name.startswith("job-") and len(name) == 9
        assert set(name[4:]) <= set("bcdfghjklmnpqrstvwxz2456789")
        assert http.get(f"{CONFIGMAPS}/{name}").status_code == 200
    long = http.post(CONFIGMAPS, json={"metadata": {"generateName": "x" * 70}}).json()
    assert len(long["metadata"]["name"]) == 63
    missing = http.post(CONFIGMAPS, json={"metadata": {}})
    assert missing.status_code == 422
