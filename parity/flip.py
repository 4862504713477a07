"""One deployment, run twice: routes on the monolith (shadow by default), then extracted.

Between the passes parity moves the payments and inventory routes through the proxy's
admin API and waits until the handover is over, which it sees over HTTP alone: a staff
write that cannot succeed (stock of a product that does not exist, a refund of a charge
that does not exist) is answered 404 by the side that writes the context and 421 by a
side that does not, and changes nothing either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from parity.checks import ProxyAdmin, collect_shadow, verify_data
from parity.model import DataCheck, Report
from parity.runner import ParityError, Progress, new_tag, run_parity
from parity.scenarios import Scenario
from parity.session import Options, Target, login

NOWHERE = "00000000-0000-4000-8000-000000000000"
PROBES: dict[str, tuple[str, dict[str, int]]] = {
    "inventory": ("/api/inventory/products/PARITY-PROBE-NO-SUCH-SKU/stock/", {"delta": 1}),
    "payments": (f"/api/payments/charges/{NOWHERE}/refunds/", {}),
}
WRITER_STATES = {"monolith": False, "shadow": False}  # other states: the service writes


@dataclass
class FlippableDeployment:
    """A deployment parity may flip: its proxy, admin API, and each side's own URL."""

    proxy: str
    admin: ProxyAdmin
    sides: Mapping[str, str]  # "monolith", "payments", "inventory" -> http://host:port
    routes: tuple[str, ...] = ("payments", "inventory")
    verify_env: Mapping[str, str] | None = None  # where `carve extract verify` finds the DBs
    verify_cwd: Path | None = None
    verify: bool = True
    states: dict[str, str] = field(
        default_factory=lambda: {"monolith": "shadow", "extracted": "extracted"}
    )


def writes_here(base: str, context: str, token: str, timeout: float) -> bool | None:
    """Whether the side at `base` writes `context` now (None: it did not say)."""
    path, body = PROBES[context]
    try:
        answer = requests.post(
            base + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
    except requests.RequestException:
        return None
    return {404: True, 421: False}.get(answer.status_code)


def wait_handover(
    deployment: FlippableDeployment, route: str, writer: str, token: str, deadline: float
) -> None:
    """Until the monolith and the route's service agree that `writer` writes it."""
    sides = {"monolith": deployment.sides["monolith"], route: deployment.sides[route]}
    stop = time.monotonic() + deadline
    seen: dict[str, bool | None] = {}
    while time.monotonic() < stop:
        # Long enough for a side that is catching up to hold the probe and then answer.
        seen = {name: writes_here(url, route, token, 60.0) for name, url in sides.items()}
        if all(seen[name] == (name == writer) for name in sides):
            return
        time.sleep(0.2)
    raise ParityError(
        f"the {route} route never settled on {writer} within {deadline:.0f} s "
        f"(writes here? {seen}); see the services' logs"
    )


def set_up_for(deployment: FlippableDeployment, options: Options) -> Callable[[Target], str]:
    """The runner's set-up hook: put every route in the state of the pass, wait for it."""

    def set_up(target: Target) -> str:
        state = deployment.states[target.label]
        token = login(deployment.proxy, *options.staff, timeout=options.timeout)
        for route in deployment.routes:
            deployment.admin.set_route(route, state)
        for route in deployment.routes:
            writer = "monolith" if state in WRITER_STATES else route
            wait_handover(deployment, route, writer, token, max(options.deadline, 60.0))
        return f"{', '.join(deployment.routes)}: {state}"

    return set_up


def run_flipped(
    deployment: FlippableDeployment,
    scenarios: list[Scenario],
    options: Options,
    progress: Progress = lambda message: None,
) -> Report:
    """Both passes on one deployment, routes flipped in between; routes are put back after."""
    before = deployment.admin.routes()
    left = Target("monolith", deployment.proxy, new_tag())
    right = Target("extracted", deployment.proxy, new_tag())

    def check(target: Target) -> DataCheck:
        label = f"after the {target.label} pass"
        return verify_data(
            label, deployment.verify_env, max(options.deadline, 30.0), deployment.verify_cwd
        )

    try:
        return run_parity(
            left,
            right,
            scenarios,
            options,
            set_up=set_up_for(deployment, options),
            check=check if deployment.verify else None,
            shadow=lambda since: collect_shadow(deployment.admin, since),
            progress=progress,
        )
    finally:
        for route in deployment.routes:
            if route in before:
                try:
                    deployment.admin.set_route(route, before[route])
                except ParityError as exc:
                    progress(f"could not put the {route} route back to {before[route]}: {exc}")
