"""`carve demo` (`make demo`): a migration in a few minutes, narrated, on a private stack.

analyze the monolith -> start everything -> shadow payments and inventory -> compare ->
canary -> extracted -> flip back -> show that nothing was lost. Shoppers keep buying
through the proxy the whole time. Exit 0 only if no request failed, every acknowledged
write is on both sides and `carve extract verify` finds no drift.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

from carve.load import Load, Tally
from carve.stack import REPO, Ports, Stack, StackConfig
from routetable import RouteState, RouteTable, open_store

console = Console()
SHOPPERS = ["user0001", "user0002", "user0003"]


@dataclass
class Demo:
    stack: Stack
    routes: RouteTable
    hold: float

    @property
    def proxy(self) -> str:
        return self.stack.urls()["proxy"]

    def admin(self, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.stack.config.admin_token}"}
        return requests.get(f"{self.proxy}/_carve/api/{path}", headers=headers, timeout=10).json()

    def carve(self, *args: str, service: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "carve", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            env=self.stack.config.env_for(service),
        )

    def move(self, state: str) -> None:
        for context in ("payments", "inventory"):
            self.routes.set_state(context, RouteState.parse(state), who="carve demo")
        console.print(f"\n[bold]routes payments and inventory -> {state}[/bold]")
        time.sleep(self.hold)  # the demo lets traffic flow in each state for a while
        self.served_by()

    def served_by(self) -> None:
        figures = self.admin("stats")["figures"]
        for route in ("payments", "inventory"):
            row = figures.get(route, {})
            shadow = row.get("shadow", {})
            requests_so_far, errors = row.get("requests", 0), row.get("errors", 0)
            text = f"  {route}: {requests_so_far:.0f} requests so far, {errors:.0f} errors"
            compared = sum(shadow.get(k, 0) for k in ("match", "converged", "mismatch"))
            if compared:
                text += (
                    f"; shadow compared {compared:.0f}: {shadow.get('match', 0):.0f} equal, "
                    f"{shadow.get('converged', 0):.0f} equal once replicated, "
                    f"{shadow.get('mismatch', 0):.0f} mismatches"
                )
            console.print(text)


def analyze() -> None:
    console.rule("1. carve analyze monolith")
    result = subprocess.run(
        [sys.executable, "-m", "carve", "analyze", "monolith", "--format", "json"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):
        console.print(f"[red]analyze failed[/red]: {result.stderr.strip()}")
        return
    document = json.loads(result.stdout)
    for context in document["contexts"]:
        console.print(f"  context [bold]{context['name']}[/bold]: {', '.join(context['apps'])}")
    metrics = document["metrics"]
    console.print(
        f"  modularity Q {metrics.get('modularity', 0):.2f}; "
        f"cross-context edges: {len(document.get('violations', []))}"
    )


def wait_for_no_drift(demo: Demo, deadline: float) -> bool:
    """Until `carve extract verify` finds both sides identical (events still in flight)."""
    while time.monotonic() < deadline:
        if demo.carve("extract", "verify").returncode == 0:
            return True
        time.sleep(1)
    return False


def run(var_dir: Path, ports: Ports, hold: float) -> int:
    analyze()
    console.rule("2. start the stack (monolith, payments, inventory, proxy)")
    config = StackConfig(
        var_dir=var_dir, ports=ports, admin_token="demo-admin-token", web_workers=1
    )
    stack = Stack(config)
    stack.prepare(seed=True)
    stack.start(echo=False)
    try:
        stack.wait_ready()
        for name, url in stack.urls().items():
            console.print(f"  {name:<10} {url}")
        demo = Demo(
            stack, RouteTable(open_store(f"file:{var_dir / 'routes.json'}"), max_age=0), hold
        )
        load = Load(demo.proxy, SHOPPERS)
        load.start()
        console.print(f"  {len(SHOPPERS)} shoppers browsing, ordering and paying through the proxy")
        console.rule("3. shadow: the monolith serves, the services answer in the background")
        demo.move("shadow")
        console.rule(
            "4. canary 30: a sticky third of users read from the services, which now write"
        )
        demo.move("canary 30")
        console.rule("5. extracted: the services serve and write everything")
        demo.move("extracted")
        console.rule("6. flip back: the monolith takes over again, losing nothing")
        demo.move("monolith")
        tally = load.stop()
        console.rule("7. was anything lost?")
        return summary(demo, tally)
    finally:
        stack.stop()


def summary(demo: Demo, tally: Tally) -> int:
    clean = wait_for_no_drift(demo, time.monotonic() + 120)
    missing = {}
    for side in ("monolith", "payments"):
        ids = {
            str(row[0]).replace("-", "")
            for row in demo.stack.sql(side, "SELECT id FROM payments_charge")
        }
        missing[side] = [c for c in tally.charges.values() if c.replace("-", "") not in ids]
    table = Table(title="carve demo: the migration", show_header=False)
    table.add_row("requests through the proxy", str(sum(tally.statuses.values())))
    table.add_row(
        "reads / orders / charges", f"{tally.reads} / {len(tally.orders)} / {len(tally.charges)}"
    )
    table.add_row("failed requests", str(len(tally.failures)))
    table.add_row(
        "acknowledged charges missing (monolith / payments)",
        f"{len(missing['monolith'])} / {len(missing['payments'])}",
    )
    table.add_row("carve extract verify", "no drift" if clean else "DRIFT")
    console.print(table)
    for failure in tally.failures[:5]:
        console.print(f"  [red]failed[/red] {failure}")
    ok = clean and not tally.failures and not any(missing.values())
    console.print(
        "[green]nothing was lost[/green]" if ok else "[red]something went wrong (see above)[/red]"
    )
    return 0 if ok else 1
