"""A load generator for a deployment: shoppers doing mixed reads and writes through the
proxy, remembering every write that was acknowledged and every request that failed.
Used by `carve demo` and by the flip-under-load test."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

OK = {200, 201}


@dataclass
class Tally:
    charges: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> charge id
    orders: list[str] = field(default_factory=list)
    reads: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    slowest_write: float = 0.0  # seconds, since the last take_slowest_write()
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_slowest_write(self) -> float:
        """The longest a write took since the last call (then start over)."""
        with self.lock:
            slowest, self.slowest_write = self.slowest_write, 0.0
        return slowest


class Shopper(threading.Thread):
    """One user browsing, ordering and paying in a loop until stopped."""

    def __init__(
        self,
        base: str,
        username: str,
        tally: Tally,
        *,
        pause: float = 0.1,
        skus: int = 20,
        password: str = "carve-demo",
    ) -> None:
        super().__init__(daemon=True, name=f"shopper-{username}")
        self.base, self.tally, self.pause, self.skus = base, tally, pause, skus
        self.session = requests.Session()
        token = self.session.post(
            f"{base}/api/users/token/",
            json={"username": username, "password": password},
            timeout=30,
        )
        token.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {token.json()['token']}"
        self.stop = threading.Event()

    def _call(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = self.session.request(
                method, f"{self.base}{path}", json=body, headers=headers, timeout=60
            )
        except requests.RequestException as exc:
            with self.tally.lock:
                self.tally.failures.append(f"{method} {path}: {exc}")
            return None
        took = time.monotonic() - started
        with self.tally.lock:
            if method != "GET":
                self.tally.slowest_write = max(self.tally.slowest_write, took)
            self.tally.statuses[response.status_code] += 1
            if response.status_code not in OK:
                self.tally.failures.append(
                    f"{method} {path}: {response.status_code} {response.text[:200]}"
                )
        return response

    def run(self) -> None:
        step = 0
        while not self.stop.wait(self.pause):
            step += 1
            sku = f"SKU-{1 + step % self.skus:04d}"
            for path in (
                "/api/inventory/products/?page_size=5",
                f"/api/inventory/products/{sku}/",
                "/api/orders/?page_size=5",
                "/api/payments/charges/?page_size=5",
            ):
                if self._call("GET", path) is not None:
                    with self.tally.lock:
                        self.tally.reads += 1
            order = self._call(
                "POST",
                "/api/orders/",
                {"lines": [{"sku": sku, "quantity": 1}], "card_token": "tok_ok"},
            )
            if order is not None and order.status_code == 201:
                with self.tally.lock:
                    self.tally.orders.append(order.json()["id"])
            key = str(uuid.uuid4())
            charge = self._call(
                "POST",
                "/api/payments/charges/",
                {"amount": "2.50", "currency": "EUR", "card_token": "tok_ok"},
                **{"Idempotency-Key": key},
            )
            if charge is not None and charge.status_code == 201:
                with self.tally.lock:
                    self.tally.charges[key] = charge.json()["id"]


class Load:
    """Several shoppers; start(), then stop() to wait for them."""

    def __init__(self, base: str, users: list[str], **options: Any) -> None:
        self.tally = Tally()
        self.shoppers = [Shopper(base, user, self.tally, **options) for user in users]

    def start(self) -> None:
        for shopper in self.shoppers:
            shopper.start()

    def stop(self) -> Tally:
        for shopper in self.shoppers:
            shopper.stop.set()
        for shopper in self.shoppers:
            shopper.join(timeout=120)
        return self.tally
