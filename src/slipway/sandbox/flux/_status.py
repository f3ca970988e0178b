"""Status documents in the shape Flux's controllers write them (metav1.Condition et al.)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(type_: str, ok: bool, reason: str, message: str, generation: int) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True" if ok else "False",
        "observedGeneration": generation,
        "lastTransitionTime": now(),
        "reason": reason,
        "message": message,
    }


def keep_transition_times(
    new: list[dict[str, Any]], old: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """lastTransitionTime changes only when a condition's status changes, as in Kubernetes."""
    previous = {c.get("type"): c for c in old}
    for cond in new:
        before = previous.get(cond["type"])
        if before and before.get("status") == cond["status"]:
            cond["lastTransitionTime"] = before.get(
                "lastTransitionTime", cond["lastTransitionTime"]
            )
    return new


def parse_duration(value: str | None, default: float) -> float:
    """Seconds in a Go duration such as '1m', '5m30s', '2h' (Flux's interval format)."""
    if not value:
        return default
    total, number = 0.0, ""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
    index = 0
    while index < len(value):
        char = value[index]
        if char.isdigit() or char == ".":
            number += char
        elif value.startswith("ms", index):
            total += float(number or 0) / 1000
            number, index = "", index + 1
        elif char in units:
            total += float(number or 0) * units[char]
            number = ""
        else:
            return default
        index += 1
    return total or default
