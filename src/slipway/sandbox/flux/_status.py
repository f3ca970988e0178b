"""Status documents the way Flux's controllers write them: metav1.Conditions managed with the
semantics of fluxcd/pkg/runtime/conditions, and Go-style durations."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

Conditions = list[dict[str, Any]]

# fluxcd/pkg/runtime/conditions sorts Stalled, Reconciling and Ready first, then the others by
# newest observedGeneration and type, "for convenience of the consumer, i.e. kubectl".
_WEIGHTS = {"Stalled": 0, "Reconciling": 1, "Ready": 2}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def copy_conditions(status: dict[str, Any]) -> Conditions:
    return copy.deepcopy(list(status.get("conditions") or []))


def get_condition(conditions: Conditions, type_: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == type_), None)


def is_true(conditions: Conditions, type_: str) -> bool:
    found = get_condition(conditions, type_)
    return found is not None and found.get("status") == "True"


def set_condition(
    conditions: Conditions,
    type_: str,
    status: bool | str,
    reason: str,
    message: str,
    generation: int,
) -> None:
    """Upsert in place: lastTransitionTime moves only when status, reason or message change;
    observedGeneration is always the object's generation (conditions.Set in fluxcd/pkg)."""
    value = status if isinstance(status, str) else ("True" if status else "False")
    new = {
        "type": type_,
        "status": value,
        "observedGeneration": generation,
        "lastTransitionTime": now(),
        "reason": reason,
        "message": message,
    }
    old = get_condition(conditions, type_)
    if old is not None:
        same = all(old.get(k) == new[k] for k in ("status", "reason", "message"))
        if same:
            new["lastTransitionTime"] = old.get("lastTransitionTime", new["lastTransitionTime"])
        conditions.remove(old)
    conditions.append(new)
    conditions.sort(key=_order)


def delete_condition(conditions: Conditions, type_: str) -> None:
    conditions[:] = [c for c in conditions if c.get("type") != type_]


def _order(cond: dict[str, Any]) -> tuple[int, int, str]:
    weight = _WEIGHTS.get(str(cond.get("type")), len(_WEIGHTS))
    return weight, -int(cond.get("observedGeneration") or 0), str(cond.get("type"))


def parse_duration(value: str | None, default: float) -> float:
    """Seconds in a Go duration such as '1m', '5m30s', '2h', '500ms' (Flux's interval format)."""
    if not value:
        return default
    total, number, index = 0.0, "", 0
    units = {"h": 3600.0, "m": 60.0, "s": 1.0}
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


def format_duration(seconds: float) -> str:
    """Go's time.Duration.String(): 2m0s, 1h0m0s, 30s, 1.5s."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms" if seconds else "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:g}s"
    if hours or minutes:
        text = f"{int(minutes)}m{text}"
    if hours:
        text = f"{int(hours)}h{text}"
    return text
