"""A project's progress as Server-Sent Events over real HTTP: a client following from the
start, one joining mid-run with Last-Event-ID, and ones connecting after the end each get
exactly the events they are owed, once, in order, and the stream closes after the final."""

from __future__ import annotations

from typing import Any

from tests.e2e.api_helpers import (
    Served,
    Users,
    create_body,
    history,
    progress,
    project_name,
    read_stream,
    served_fixture,
    sse_events,
    users_fixture,
)
from tests.e2e.conftest import forge_slowed

# Held back per forge request so the run is still under way when the second client joins
# (as test_durability holds its runs); the premise is checked, not assumed.
HOLDING_LATENCY_MS = 300


# One server (and worker) for the module: each test makes its own users and names.
served = served_fixture
users = users_fixture


def _sequences(events: list[dict[str, Any]]) -> list[int]:
    return [e["sequence"] for e in events]


def test_followers_get_every_remaining_event_once_in_order(served: Served, users: Users) -> None:
    alice = users.new("alice")
    name = project_name("sse")
    with forge_slowed(served.sandbox, HOLDING_LATENCY_MS):
        assert alice.http.post("/projects", json=create_body(name)).status_code == 201
        with alice.http.stream("GET", f"/projects/{name}/events/stream") as first:
            followed: list[dict[str, Any]] = []
            stream = sse_events(first)
            for event in stream:
                followed += progress([event])
                if len(followed) == 2:
                    break
            joined_at = followed[-1]["sequence"]
            assert followed[-1]["final"] is None
            with alice.http.stream(
                "GET",
                f"/projects/{name}/events/stream",
                headers={"Last-Event-ID": str(joined_at)},
            ) as second:
                # The premise: the second client joined while the run was still under way.
                assert not [e for e in history(alice.http, name) if e["final"]]
                followed += progress(list(stream))
                resumed = progress(list(sse_events(second)))

    recorded = history(alice.http, name)
    # The first client: every event once, in order, ending with the run's final event.
    assert followed == recorded
    assert _sequences(followed) == sorted(set(_sequences(followed)))
    percents = [e["percent"] for e in followed]
    assert percents == sorted(percents) and percents[-1] == 100
    assert [e["final"] for e in followed] == [None] * (len(followed) - 1) + ["completed"]
    # The second: exactly the events after the one it named, once, in order.
    assert resumed == [e for e in recorded if e["sequence"] > joined_at]
    assert resumed and resumed[-1]["final"] == "completed"

    # After the end: resuming from the final event gets nothing, and the stream closes.
    # (It would otherwise stay open, pinging every 15 s: 30 s is ample for "at once".)
    final = recorded[-1]["sequence"]
    assert read_stream(alice.http, name, last_event_id=final, timeout=30) == []
    # Without Last-Event-ID: the whole history, then the stream closes.
    assert progress(read_stream(alice.http, name)) == recorded
    # From a sequence in the middle (header or query): the rest of it.
    middle = recorded[len(recorded) // 2]["sequence"]
    rest = [e for e in recorded if e["sequence"] > middle]
    assert progress(read_stream(alice.http, name, last_event_id=middle)) == rest
    assert progress(read_stream(alice.http, name, after=middle)) == rest
    # Last-Event-ID wins over ?after= (a reconnecting browser keeps the page's URL).
    assert progress(read_stream(alice.http, name, last_event_id=middle, after=0)) == rest


def test_a_repair_run_streams_only_its_own_events(served: Served, users: Users) -> None:
    alice = users.new("alice")
    name = project_name("sse-rep")
    assert alice.http.post("/projects", json=create_body(name)).status_code == 201
    created = progress(read_stream(alice.http, name))
    assert created[-1]["final"] == "completed"

    started = alice.http.post(f"/projects/{name}/repair")
    assert started.status_code == 202, started.text
    after = started.json()["after_sequence"]
    assert after == created[-1]["sequence"]
    repaired = progress(read_stream(alice.http, name, after=after))
    assert {e["run"] for e in repaired} == {2}
    assert repaired == history(alice.http, name, after=after)
    assert repaired[-1]["final"] == "completed" and repaired[-1]["percent"] == 100
    # A client with no Last-Event-ID now replays both runs and closes after the current
    # run's final event (the creation's final is history, not the end).
    assert progress(read_stream(alice.http, name)) == created + repaired
