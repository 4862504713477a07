"""Beyond the answers: both sides' data (`carve extract verify`) and the proxy's own
shadow compares (its admin API), gathered into the same report."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

from parity.model import DataCheck, ShadowMismatch
from parity.runner import ParityError

KEEP = 20  # keys listed per aggregate in the report


def _summary(drift: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "aggregate": drift["aggregate"],
        "clean": drift["clean"],
        "total_monolith": drift["total_monolith"],
        "total_service": drift["total_service"],
        "only_in_monolith": drift["only_in_monolith"][:KEEP],
        "only_in_service": drift["only_in_service"][:KEEP],
        "different": dict(list(drift["different"].items())[:KEEP]),
    }


def verify_data(
    label: str,
    env: Mapping[str, str] | None,
    deadline: float,
    cwd: Path | None = None,
) -> DataCheck:
    """Run `carve extract verify --json` until it finds no drift or `deadline` seconds pass.

    Replication is asynchronous, so right after a pass the service may still be applying
    the last events: drift that goes away by the deadline is lag; drift that stays is not.
    """
    argv = [sys.executable, "-m", "carve", "extract", "verify", "--json"]
    started = time.monotonic()
    attempts = 0
    check = DataCheck(label, clean=False)
    while True:
        attempts += 1
        result = subprocess.run(
            argv,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            capture_output=True,
            text=True,
        )
        check.attempts, check.seconds = attempts, round(time.monotonic() - started, 2)
        if result.returncode not in (0, 1):
            check.error = (result.stderr or result.stdout).strip()[-2000:]
            return check
        try:
            drifts = json.loads(result.stdout)
        except ValueError:
            check.error = f"`carve extract verify --json` printed no JSON: {result.stdout[:500]}"
            return check
        check.aggregates = [_summary(d) for d in drifts]
        check.clean = all(d["clean"] for d in drifts)
        if check.clean or time.monotonic() - started > deadline:
            return check
        time.sleep(1.0)


class ProxyAdmin:
    """The few calls of the proxy's admin API parity makes (routes, shadow mismatches)."""

    def __init__(self, url: str, token: str, timeout: float = 15.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "X-Carve-Actor": "carve parity"}
        try:
            answer = requests.request(
                method,
                f"{self.url}/_carve/api{path}",
                json=body,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise ParityError(
                f"cannot reach the proxy's admin API at {self.url} ({exc.__class__.__name__}): "
                "give the proxy's URL with --admin-url"
            ) from None
        if answer.status_code == 401:
            raise ParityError(
                "the proxy refused the admin token: use the token it was started with"
            )
        if answer.status_code == 404 and "admin_disabled" in answer.text:
            raise ParityError("the proxy's admin API is off: start it with CARVE_ADMIN_TOKEN set")
        if answer.status_code >= 400:
            raise ParityError(f"the proxy's admin API answered {answer.status_code}: {answer.text}")
        return answer.json()

    def set_route(self, name: str, state: str) -> None:
        self._call("PUT", f"/routes/{name}", {"state": state, "who": "carve parity"})

    def routes(self) -> dict[str, str]:
        return {r["name"]: r["state"] for r in self._call("GET", "/routes")["routes"]}

    def mismatches(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/mismatches")["mismatches"])

    def replay(self, mismatch_id: int) -> list[str] | None:
        """What differs when the recorded request is sent to both sides again (None: gone)."""
        try:
            replays = self._call("POST", f"/mismatches/{mismatch_id}/replay")["replays"]
        except ParityError:
            return None
        return list(replays[-1]) if replays else None


def collect_shadow(
    admin: ProxyAdmin, since: float, *, replay: bool = True
) -> tuple[list[ShadowMismatch], str]:
    """The proxy's shadow mismatches recorded since `since` (a time.time()), each replayed.

    A first compare can race replication (the service has not applied the event yet); a
    replay once the run is over tells that lag (no differences now) from a real mismatch.
    """
    try:
        recorded = admin.mismatches()
    except ParityError as exc:
        return [], f"not collected: {exc}"
    found = []
    for item in recorded:
        if float(item["at"]) < since - 1:
            continue
        mismatch = ShadowMismatch(
            id=int(item["id"]),
            route=str(item["route"]),
            method=str(item["method"]),
            path=str(item["path"]),
            at=float(item["at"]),
            differences=list(item["differences"]),
        )
        if replay:
            mismatch.replayed = admin.replay(mismatch.id)
        found.append(mismatch)
    older = sum(1 for item in recorded if float(item["at"]) < since - 1)
    note = f"{len(found)} recorded during this run"
    if older:
        note += f" ({older} older one(s) left out)"
    return found, note
