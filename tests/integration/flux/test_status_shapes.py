"""The small formats the emulator writes where users read them: Go durations in progress
messages and Flux's condition bookkeeping (what `kubectl describe` shows)."""

from __future__ import annotations

import pytest

from slipway.sandbox.flux._status import format_duration, parse_duration, set_condition


@pytest.mark.parametrize(
    ("text", "seconds", "go"),
    [("5m", 300, "5m0s"), ("2m30s", 150, "2m30s"), ("1h", 3600, "1h0m0s"), ("90s", 90, "1m30s"),
     ("500ms", 0.5, "500ms"), ("2s", 2, "2s")],
)  # fmt: skip
def test_go_durations_round_trip(text: str, seconds: float, go: str) -> None:
    assert parse_duration(text, 0) == seconds
    assert format_duration(seconds) == go


def test_transition_time_moves_only_when_the_condition_changes() -> None:
    conditions: list[dict[str, object]] = [
        {"type": "Ready", "status": "False", "reason": "BuildFailed", "message": "m",
         "observedGeneration": 1, "lastTransitionTime": "2020-01-01T00:00:00Z"},
    ]  # fmt: skip

    set_condition(conditions, "Ready", False, "BuildFailed", "m", 2)
    assert conditions[0]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert conditions[0]["observedGeneration"] == 2

    set_condition(conditions, "Ready", False, "BuildFailed", "another message", 2)
    assert conditions[0]["lastTransitionTime"] != "2020-01-01T00:00:00Z"

    set_condition(conditions, "Reconciling", True, "ProgressingWithRetry", "m", 2)
    set_condition(conditions, "FetchFailed", True, "GitOperationFailed", "m", 2)
    assert [c["type"] for c in conditions] == ["Reconciling", "Ready", "FetchFailed"]
