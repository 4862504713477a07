"""The client a scenario drives: one deployment, one scenario, every answer recorded.

A scenario names each request it makes (`s.get("read the order", "/api/orders/{order}/",
alice, order=...)`); the name pairs the two sides' answers, the template names the
endpoint in the report. Set-up (stock levels, shoppers' accounts) goes through the same
API but is not compared: it depends on what earlier runs left behind.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from parity.http import ANONYMOUS, Actor, Answer, ScenarioError, fill, login, poll_until, send
from parity.model import Observation, Poll, ScenarioRun

__all__ = ["ANONYMOUS", "Actor", "Options", "PassContext", "ScenarioError", "Session", "Target"]

TERMINAL_ORDER = ("confirmed", "cancelled")
PASSWORD = "parity-Secret-2468"


@dataclass(frozen=True)
class Options:
    deadline: float = 60.0  # how long a poll waits for an eventual state, in seconds
    timeout: float = 30.0  # one HTTP request, in seconds
    jobs: int = 4  # scenarios run at once on one deployment
    staff: tuple[str, str] = ("admin", "admin")
    strict: bool = False  # no accepted differences


@dataclass(frozen=True)
class Target:
    """One deployment: what the report calls it, where it is, the tag its names carry."""

    label: str
    url: str
    tag: str


class PassContext:
    """What the scenarios of one pass share: the target, the options, the staff login."""

    def __init__(self, target: Target, options: Options) -> None:
        self.target = target
        self.options = options
        self._staff: Actor | None = None
        self._lock = threading.Lock()

    def staff(self) -> Actor:
        with self._lock:
            if self._staff is None:
                username, password = self.options.staff
                token = login(self.target.url, username, password, self.options.timeout)
                self._staff = Actor("staff", username, token)
            return self._staff


def order_rank(observation: Observation) -> tuple[int, str]:
    """Sort key for placements whose order the API does not promise: confirmed first."""
    body = observation.body if isinstance(observation.body, dict) else {}
    if observation.status == 409 and body.get("code") == "insufficient_stock":
        return (1, "out_of_stock")
    return (0 if body.get("status") == "confirmed" else 1, str(body.get("cancel_reason", "")))


def content_rank(observation: Observation) -> str:
    """Sort key for simultaneous answers: their content (status, headers, body)."""
    value = [observation.status, observation.headers, observation.body]
    return json.dumps(value, sort_keys=True, default=str)


class Session:
    """One scenario on one deployment."""

    def __init__(self, scenario: str, context: PassContext, run: ScenarioRun) -> None:
        self.scenario = scenario
        self.context = context
        self.run = run
        self.http = requests.Session()
        self._steps: dict[str, int] = {}

    # ------------------------------------------------------------------ actors
    @property
    def base(self) -> str:
        return self.context.target.url

    @property
    def staff(self) -> Actor:
        return self.context.staff()

    def username(self, role: str) -> str:
        return f"parity-{self.context.target.tag}-{self.scenario}-{role}".replace("_", "-")

    def sku(self, name: str) -> str:
        """A product code of this run's own (the tag keeps runs apart)."""
        return f"PARITY-{self.context.target.tag}-{name}".upper()

    def shopper(self, role: str) -> Actor:
        """A fresh account for this run (set-up: registered and logged in, not compared)."""
        username = self.username(role)
        body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        self.setup("POST", "/api/users/register/", ANONYMOUS, json=body, expect=(201,))
        return Actor(role, username, login(self.base, username, PASSWORD, self.timeout))

    @property
    def timeout(self) -> float:
        return self.context.options.timeout

    # ------------------------------------------------------------------ compared calls
    def _unique(self, step: str) -> str:
        seen = self._steps.get(step, 0) + 1
        self._steps[step] = seen
        return step if seen == 1 else f"{step} ({seen})"

    def _send(self, method: str, path: str, actor: Actor, **kw: Any) -> Answer:
        return send(self.http, self.base, method, path, actor, timeout=self.timeout, **kw)

    def _poll(
        self, path: str, actor: Actor, until: Callable[[Any], bool], condition: str
    ) -> tuple[Answer, Poll]:
        def fetch() -> Answer:
            return self._send("GET", path, actor)

        return poll_until(fetch, until, condition, self.context.options.deadline)

    def _record(self, step: str, observation: Observation) -> Observation:
        observation.step = self._unique(step)
        self.run.observations.append(observation)
        return observation

    @staticmethod
    def _observation(
        method: str, template: str, actor: Actor, answer: Answer, **fields: Any
    ) -> Observation:
        return Observation(
            step="",
            endpoint=f"{method} {template}",
            method=method,
            path=answer.path,
            actor=actor.name,
            status=answer.status,
            headers=answer.headers,
            body=answer.body,
            **fields,
        )

    def call(
        self,
        step: str,
        method: str,
        template: str,
        actor: Actor = ANONYMOUS,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        unordered: tuple[str, ...] = (),
        **params: Any,
    ) -> Observation:
        """Send one request and record the answer as the observation `step`."""
        answer = self._send(
            method, fill(template, params, query), actor, json=json, headers=headers
        )
        observation = self._observation(
            method,
            template,
            actor,
            answer,
            request_body=json,
            request_headers=dict(headers or {}),
            unordered=unordered,
        )
        return self._record(step, observation)

    def get(self, step: str, template: str, actor: Actor = ANONYMOUS, **kw: Any) -> Observation:
        return self.call(step, "GET", template, actor, **kw)

    def post(self, step: str, template: str, actor: Actor = ANONYMOUS, **kw: Any) -> Observation:
        return self.call(step, "POST", template, actor, **kw)

    def poll(
        self,
        step: str,
        template: str,
        actor: Actor = ANONYMOUS,
        *,
        until: Callable[[Any], bool],
        condition: str,
        query: Mapping[str, Any] | None = None,
        unordered: tuple[str, ...] = (),
        **params: Any,
    ) -> Observation:
        """GET until `until(body)` holds or the deadline passes; the last answer is recorded."""
        answer, poll = self._poll(fill(template, params, query), actor, until, condition)
        observation = self._observation(
            "GET", template, actor, answer, poll=poll, unordered=unordered
        )
        return self._record(step, observation)

    # ------------------------------------------------------------------ orders
    def _place(self, actor: Actor, lines: list[tuple[str, int]], card: str) -> Observation:
        body = {"lines": [{"sku": s, "quantity": q} for s, q in lines], "card_token": card}
        answer = self._send("POST", "/api/orders/", actor, json=body)
        observation = self._observation(
            "POST",
            "/api/orders/",
            actor,
            answer,
            request_body=body,
            kind="place_order",
            first={"status": answer.status, "body": answer.body},
        )
        first = answer.body if isinstance(answer.body, dict) else {}
        if answer.status == 201 and first.get("status") not in TERMINAL_ORDER:
            path = fill("/api/orders/{order}/", {"order": first.get("id")}, None)
            settled, poll = self._poll(
                path,
                actor,
                lambda order: order["status"] in TERMINAL_ORDER,
                "the order is confirmed or cancelled",
            )
            observation.body, observation.poll = settled.body, poll
        return observation

    def place_order(
        self, step: str, actor: Actor, lines: list[tuple[str, int]], card: str = "tok_ok"
    ) -> Observation:
        """POST /api/orders/, then poll the order to a terminal state; that is compared."""
        return self._record(step, self._place(actor, lines, card))

    def race(
        self, step: str, entries: list[tuple[Actor, list[tuple[str, int]], str]]
    ) -> list[tuple[Actor, Observation]]:
        """Place several orders at the same moment; recorded in outcome order (confirmed
        first), since which racer wins is not something the API promises."""
        results: list[Observation | None] = [None] * len(entries)
        gate = threading.Barrier(len(entries))

        def place(index: int) -> None:
            actor, lines, card = entries[index]
            gate.wait(timeout=self.timeout)
            results[index] = self._place(actor, lines, card)

        threads = [threading.Thread(target=place, args=(i,)) for i in range(len(entries))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        placed = [(entries[i][0], r) for i, r in enumerate(results) if r is not None]
        if len(placed) != len(entries):
            raise ScenarioError(f"{step}: a racer did not finish")
        placed.sort(key=lambda pair: order_rank(pair[1]))
        for rank, (_, observation) in enumerate(placed, start=1):
            self._record(f"{step} #{rank}", observation)
        return placed

    def at_once(
        self,
        step: str,
        method: str,
        template: str,
        requests_: list[tuple[Actor, dict[str, Any]]],
        **params: Any,
    ) -> list[Observation]:
        """The same endpoint called by several clients at the same moment (each with its own
        keyword arguments: json, headers). Which one the server took first is not promised:
        the answers are recorded sorted by their content."""
        path = fill(template, params, None)
        gate = threading.Barrier(len(requests_))

        def one(actor: Actor, kw: dict[str, Any]) -> Observation:
            gate.wait(timeout=self.timeout)
            answer = self._send(method, path, actor, **kw)
            return self._observation(
                method, template, actor, answer, request_body=kw.get("json"),
                request_headers=dict(kw.get("headers") or {}),
            )  # fmt: skip

        with ThreadPoolExecutor(max_workers=len(requests_)) as pool:
            found = list(pool.map(lambda pair: one(*pair), requests_))
        found.sort(key=content_rank)
        return [self._record(f"{step} #{rank}", o) for rank, o in enumerate(found, start=1)]

    # ------------------------------------------------------------------ set-up
    def setup(
        self,
        method: str,
        template: str,
        actor: Actor,
        *,
        expect: tuple[int, ...] = (200,),
        json: Any = None,
        **params: Any,
    ) -> Any:
        """A request the scenario needs but parity does not compare; its body."""
        answer = self._send(method, fill(template, params, None), actor, json=json)
        if answer.status not in expect:
            raise ScenarioError(
                f"set-up {method} {answer.path} answered {answer.status}: {str(answer.body)[:300]}"
            )
        return answer.body

    def set_stock(self, sku: str, on_hand: int) -> None:
        """Bring a product to `on_hand` units with none reserved (waits out earlier orders)."""
        path = fill("/api/inventory/products/{sku}/", {"sku": sku}, None)
        product, poll = self._poll(
            path, self.staff, lambda p: p["stock"]["reserved"] == 0, "nothing reserved"
        )
        if not poll.reached:
            raise ScenarioError(f"set-up: {sku} still has stock reserved: {product.body}")
        delta = on_hand - int(product.body["stock"]["on_hand"])
        if delta:
            stock = "/api/inventory/products/{sku}/stock/"
            self.setup("POST", stock, self.staff, json={"delta": delta}, sku=sku)
