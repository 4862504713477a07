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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

from carve.demo_report import heading, step_lines, verdict_lines
from carve.load import Load, Tally
from carve.stack import REPO, Ports, Stack, StackConfig
from routetable import RouteState, RouteTable, open_store

console = Console(soft_wrap=True)  # piped (make demo | tee) lines stay whole
SHOPPERS = ["user0001", "user0002", "user0003"]


@dataclass
class Demo:
    stack: Stack
    routes: RouteTable
    hold: float
    load: Load | None = None
    figures: dict[str, Any] = field(default_factory=dict)  # at the end of the last step
    mismatch_ids: set[int] = field(default_factory=set)
    state: str = "monolith"  # of both routes, as the demo last set them

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
        handover = writer(self.state) != writer(state.split()[0])
        self.state = state.split()[0]
        self.figures = self.admin("stats")["figures"]
        if self.load is not None:
            self.load.tally.take_slowest_write()
        for context in ("payments", "inventory"):
            self.routes.set_state(context, RouteState.parse(state), who="carve demo")
        console.print(f"[bold]routes payments and inventory -> {state}[/bold]")
        time.sleep(self.hold)  # the demo lets traffic flow in each state for a while
        self.report(handover=handover)

    def report(self, *, handover: bool) -> None:
        """What happened during the step just run, and only that."""
        figures = self.admin("stats")["figures"]
        recorded = self.admin("mismatches")["mismatches"]
        new = [m for m in recorded if m["id"] not in self.mismatch_ids]
        self.mismatch_ids.update(m["id"] for m in new)
        slowest = self.load.tally.take_slowest_write() if self.load is not None else 0.0
        where = (
            f"{self.proxy}/_carve/ui (shadow mismatches; sign in with the admin token "
            f"{self.stack.config.admin_token}),"
            f" or `carve routes` / GET {self.proxy}/_carve/api/mismatches"
        )
        for line in step_lines(self.figures, figures, new, slowest, where, handover=handover):
            console.print(line, markup=False, highlight=False)
        self.figures = figures


def writer(state: str) -> str:
    """Who writes a context in a route state (README: who writes a context)."""
    return "monolith" if state in ("monolith", "shadow") else "service"


def analyze() -> None:
    console.rule(heading(1, "carve analyze monolith"))
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
    console.rule(heading(2, "start the stack (monolith, payments, inventory, proxy)"))
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
        load = demo.load = Load(demo.proxy, SHOPPERS)
        load.start()
        console.print(f"  {len(SHOPPERS)} shoppers browsing, ordering and paying through the proxy")
        console.rule(heading(3, "shadow: the monolith serves, the services answer aside"))
        demo.move("shadow")
        console.rule(heading(4, "canary 30: a sticky 30% of users read from the services"))
        console.print("  the services now write (payments and inventory changed hands)")
        demo.move("canary 30")
        console.rule(heading(5, "extracted: the services serve and write everything"))
        demo.move("extracted")
        console.rule(heading(6, "flip back: the monolith takes over again"))
        demo.move("monolith")
        tally = load.stop()
        console.rule(heading(7, "was anything lost?"))
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
    table.add_row(
        "requests through the proxy",
        str(sum(tally.statuses.values())),
        "all the shoppers sent, in every step",
    )
    table.add_row(
        "reads / orders / charges",
        f"{tally.reads} / {len(tally.orders)} / {len(tally.charges)}",
        "reads answered; orders and charges acknowledged (201)",
    )
    table.add_row(
        "failed requests", str(len(tally.failures)), "no answer, or an error status (listed below)"
    )
    table.add_row(
        "acknowledged charges missing (monolith / payments)",
        f"{len(missing['monolith'])} / {len(missing['payments'])}",
        "charges a shopper got a 201 for that a database does not hold",
    )
    table.add_row(
        "carve extract verify",
        "no drift" if clean else "DRIFT",
        "both databases compared per aggregate (counts, checksums)",
    )
    console.print(table)
    for failure in tally.failures[:5]:
        console.print(f"  [red]failed[/red] {failure}")
    ok = clean and not tally.failures and not any(missing.values())
    style = "green" if ok else "red"
    for line in verdict_lines(ok, len(demo.mismatch_ids)):
        console.print(line, style=style, markup=False, highlight=False)
    return 0 if ok else 1
