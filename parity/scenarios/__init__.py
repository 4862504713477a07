"""Scenarios: what a client does, in plain Python, one function each.

    @scenario()
    def order_succeeds(s: Session) -> None:
        \"\"\"A shopper's order is confirmed, charged once, and takes the stock.\"\"\"
        s.set_stock("SKU-0014", 10)                      # set-up: not compared
        alice = s.shopper("alice")                       # a fresh account for this run
        order = s.place_order("place an order", alice, [("SKU-0014", 2)])
        s.get("read the charge", "/api/payments/charges/{charge}/", alice,
              charge=order.get("payment_id"))

Every `s.get/post/call/poll/place_order/race` is one compared step, named by its first
argument. The function's docstring is its description (`carve parity list`). A module
of your own registers its scenarios by being imported (`--module my_scenarios`).

The built-in scenarios need the demo data (`manage.py seed`): staff `admin`/`admin` and
products SKU-0001..SKU-0020. They read SKU-0001..SKU-0009 only, and each scenario that
orders sets the stock of its own product first (SKU-0013..SKU-0020), so scenarios can run
at the same time and again and again on one deployment.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from parity.session import Session

BUILT_IN = ("accounts", "catalogue", "orders", "payments")
ScenarioFunction = Callable[[Session], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: ScenarioFunction
    module: str


REGISTRY: dict[str, Scenario] = {}


class UnknownScenario(LookupError):
    """A name or pattern matched no scenario; the message lists the known ones."""


def scenario(name: str | None = None) -> Callable[[ScenarioFunction], ScenarioFunction]:
    """Register a function as a scenario (its name, else the function's name)."""

    def register(function: ScenarioFunction) -> ScenarioFunction:
        key = name or function.__name__
        description = inspect.cleandoc(function.__doc__ or "").split("\n\n", 1)[0]
        REGISTRY[key] = Scenario(key, " ".join(description.split()), function, function.__module__)
        return function

    return register


def load(modules: Iterable[str] = ()) -> list[Scenario]:
    """The built-in scenarios and those of `modules`, in the order they were defined."""
    wanted = (*(f"parity.scenarios.{m}" for m in BUILT_IN), *modules)
    for module in wanted:
        importlib.import_module(module)
    return [s for s in REGISTRY.values() if s.module in wanted]


def select(patterns: Iterable[str], modules: Iterable[str] = ()) -> list[Scenario]:
    """Scenarios by name or shell pattern (`order_*`); all of them when none is given."""
    known = load(modules)
    wanted = [p.strip() for pattern in patterns for p in pattern.split(",") if p.strip()]
    if not wanted:
        return known
    chosen: list[Scenario] = []
    for pattern in wanted:
        found = [s for s in known if fnmatch.fnmatchcase(s.name, pattern)]
        if not found:
            names = ", ".join(s.name for s in known)
            raise UnknownScenario(f"no scenario matches {pattern!r}; known: {names}")
        chosen += [s for s in found if s not in chosen]
    return chosen
