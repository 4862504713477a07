"""What `carve demo` says after each step, worked out from the proxy's figures: only what
happened in that step, each figure with what it means and where to look further."""

from __future__ import annotations

from typing import Any

ROUTES = ("payments", "inventory")
WIDTH = 78  # a heading fits an 80-column terminal or log, piped or not
SLOW_WRITE_SECONDS = 1.0
MISMATCHES_SHOWN = 3


def heading(number: int, title: str) -> str:
    text = f"{number}. {title}"
    if len(text) > WIDTH:
        raise ValueError(f"heading longer than {WIDTH} columns: {text!r}")
    return text


def _count(row: dict[str, Any], *keys: str) -> float:
    for key in keys[:-1]:
        row = row.get(key, {})
    return float(row.get(keys[-1], 0))


def step_lines(
    before: dict[str, Any],
    after: dict[str, Any],
    mismatches: list[dict[str, Any]],
    slowest_write: float,
    where: str,
    *,
    handover: bool,
) -> list[str]:
    """Lines for one step: `before`/`after` are the proxy's per-route figures (cumulative)
    at its start and end, `mismatches` the shadow mismatches recorded during it; with
    `handover`, the step moved who writes (monolith <-> services)."""
    lines = []
    for route in ROUTES:
        was, now = before.get(route, {}), after.get(route, {})
        served = _count(now, "requests") - _count(was, "requests")
        failed = _count(now, "errors") - _count(was, "errors")
        text = f"  {route}: {served:.0f} requests in this step, {failed:.0f} failed"
        new = {
            kind: _count(now, "shadow", kind) - _count(was, "shadow", kind)
            for kind in ("match", "converged", "mismatch")
        }
        if sum(new.values()):
            text += (
                f"; {sum(new.values()):.0f} reads also sent to the service and compared: "
                f"{new['match']:.0f} equal, {new['converged']:.0f} equal once the service "
                f"had the latest events, {new['mismatch']:.0f} different"
            )
        lines.append(text)
    if mismatches:
        lines.append(
            f"  {len(mismatches)} shadow mismatch(es): the service answered a read differently "
            "from the monolith. Shoppers got the monolith's answer and no data changed; each "
            "is a difference to explain before moving the route on. For example:"
        )
        for mismatch in mismatches[:MISMATCHES_SHOWN]:
            differences = mismatch.get("differences") or ["(no detail)"]
            lines.append(
                f"    #{mismatch['id']} {mismatch['method']} {mismatch['path']}: {differences[0]}"
            )
        lines.append(f"  all of them, with the requests: {where}")
    if slowest_write >= SLOW_WRITE_SECONDS and handover:
        lines.append(
            f"  the slowest write took {slowest_write:.1f} s: writes arriving while the route "
            "changed hands waited for the handover (up to CARVE_HANDOVER_WAIT_SECONDS) "
            "instead of failing"
        )
    elif slowest_write >= SLOW_WRITE_SECONDS:
        lines.append(
            f"  the slowest write took {slowest_write:.1f} s (no handover in this step: "
            "the machine was slow to answer, nothing waited for a move)"
        )
    return lines


def verdict_lines(ok: bool, mismatches: int) -> list[str]:
    """What the last table means, and what 'nothing was lost' does and does not say."""
    if not ok:
        return ["something went wrong: see the failed requests and the drift above"]
    lines = [
        "nothing was lost: every request succeeded, every acknowledged charge is in both "
        "databases, and `carve extract verify` finds them identical"
    ]
    if mismatches:
        lines.append(
            f"(the {mismatches} shadow mismatch(es) above were answers compared off the "
            "serving path: they changed no data, but are worth a look before a real move)"
        )
    return lines
