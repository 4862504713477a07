"""Order placement through the local adapter and through the saga, and the replication lag.

    .venv/bin/python benchmarks/orders.py [--real] [--orders 150] [--concurrency 8]
        [--rate 10] [--seconds 15] [--rounds 2] [--poll 0.05] [--low-load-orders 15]

One run, one deployment (monolith, payments and inventory services, each with its web,
worker and relay, and the proxy: `carve.stack`), the same seeded data:

1. local: payments and inventory written by the monolith, so POST /api/orders/ runs the
   placement in-process and answers 201 confirmed. N orders from C concurrent clients
   (each places an order, waits for its terminal state, places the next) through the
   proxy: orders/s and p50/p99 from POST to the terminal state.
2. saga: both contexts extracted (route flipped, handover awaited), the same N and C;
   POST answers 201 pending and each client polls its order every --poll seconds until
   it is confirmed or cancelled. Client-side times are therefore rounded up to the poll
   interval; the order's own `updated_at` (stamped by the server when it settled) gives a
   second figure without that granularity. The polling is load on the monolith and the
   proxy like any client's: it is part of what the saga costs.
3. The saga/local ratios; and both modes at low load (one client, --low-load-orders).
4. Replication lag at a steady write rate (--rate writes/s for --seconds): charges (as a
   shopper) and stock adjustments (as admin), alternately, through the proxy to whichever
   side writes; the other side's own database is polled every --lag-poll seconds until the
   write is there. Both directions: monolith -> services while the monolith writes, then
   services -> monolith once they do. Lag is from the write's 201/200 to first seen.

Phases 1 and 2 alternate --rounds times (flipping ownership between them) and medians
are reported. Before each measured phase the event flow is left to go quiet (every outbox
sent, no inbox growing), so a phase does not pay for the backlog of the one before; how
long the flow took to go quiet after each round is reported too, and the CPU time the
deployment spent per order (every process of the stack and, in real mode, the PostgreSQL
backends serving it; until the flow is quiet, so asynchronous work counts): a steadier
figure than wall-clock time on a shared machine. `event_hops` splits the
time of every event type written in a saga round or a lag phase into outbox -> sent (the
relay) and sent -> handled (broker, queue and handler) per consuming side. At the end
`carve extract verify` must find no drift. Prints one JSON document; progress on stderr.

Embedded mode (SQLite, filesystem broker) by default; --real uses PostgreSQL (fresh
databases, dropped afterwards) and RabbitMQ (a private exchange and queues, deleted
afterwards): CARVE_BENCH_PG (default postgresql://postgres@127.0.0.1:5432/postgres) and
CELERY_BROKER_URL (default amqp://guest:guest@127.0.0.1:5672//).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from carve.stack import (  # noqa: E402
    SERVICES,
    Ports,
    Stack,
    StackConfig,
    delete_broker_objects,
    free_ports,
    manage,
    run_step,
    service_databases,
)
from routetable import RouteState, RouteTable, open_store  # noqa: E402

CONTEXTS = ("payments", "inventory")
TERMINAL = ("confirmed", "cancelled")
ORDER_SKUS = 20  # orders buy SKU-0001..SKU-0020, one unit each
LAG_SKUS = 8  # stock adjustments of the lag phases touch only SKU-0021..SKU-0028
STOCK = 1_000_000
PASSWORD = "carve-demo"
BENCH_CLIENT = "carve-bench-orders"  # application_name of this script's own connections


# ------------------------------------------------------------------------ deployment


class Databases:
    """Read-only queries on each service's own database (one connection per service)."""

    def __init__(self, urls: dict[str, str], var_dir: Path) -> None:
        self.urls = urls
        self.var_dir = var_dir
        self.connections: dict[str, Any] = {}

    @property
    def real(self) -> bool:
        return bool(self.urls)

    def _connection(self, service: str) -> Any:
        if service not in self.connections:
            if self.real:
                import psycopg

                self.connections[service] = psycopg.connect(
                    self.urls[service], autocommit=True, application_name=BENCH_CLIENT
                )
            else:
                path = self.var_dir / f"{service}.sqlite3"
                self.connections[service] = sqlite3.connect(
                    f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=30
                )
        return self.connections[service]

    def query(self, service: str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """`sql` with %s placeholders; `(%s)` after IN is expanded to the list given there."""
        if not self.real:
            sql = sql.replace("%s", "?")
        return [tuple(row) for row in self._connection(service).execute(sql, params).fetchall()]

    def uuid_param(self, value: str) -> Any:
        """A UUID as the service's database stores it (uuid on PostgreSQL, hex on SQLite)."""
        return uuid.UUID(value) if self.real else uuid.UUID(value).hex

    def ownership(self, service: str) -> dict[str, tuple[str, str]]:
        rows = self.query(service, "SELECT context, owner, state FROM messaging_contextownership")
        return {context: (owner, state) for context, owner, state in rows}

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()


@dataclass
class Deployment:
    stack: Stack
    routes: RouteTable
    db: Databases
    log: Callable[[str], None]
    keep: bool = False  # set when something failed: the stack's logs stay for a look

    @property
    def proxy(self) -> str:
        return self.stack.urls()["proxy"]

    def own(self, owner: str, timeout: float = 120.0) -> float:
        """Both contexts to `owner` ("monolith" or "services"); seconds until settled."""
        state = "monolith" if owner == "monolith" else "extracted"
        started = time.monotonic()
        for context in CONTEXTS:
            self.routes.set_state(context, RouteState.parse(state), who="bench")

        def settled(context: str) -> bool:
            writer = "monolith" if owner == "monolith" else context
            return all(
                self.db.ownership(side).get(context)
                == (writer, "owner" if side == writer else "replica")
                for side in ("monolith", context)
            )

        while not all(settled(context) for context in CONTEXTS):
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"ownership never settled on {owner} in {timeout:.0f}s")
            time.sleep(0.1)
        took = time.monotonic() - started
        self.log(f"ownership: {owner} ({took:.1f}s)")
        return took

    def cpu(self) -> dict[str, dict[int, float]]:
        """CPU seconds so far, per process of the stack (each runs in its own session: its
        children count with it) and, in real mode, of the PostgreSQL backends serving it."""
        sessions = {process.pid: name for name, process in self.stack.processes.items()}
        backends: set[int] = set()
        if self.db.real:
            for service in SERVICES:
                backends.update(
                    int(pid)
                    for (pid,) in self.db.query(
                        service,
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                        "AND application_name <> %s",
                        [BENCH_CLIENT],
                    )
                )
        found: dict[str, dict[int, float]] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, seconds = int(entry.name), (int(fields[11]) + int(fields[12])) / tick
            label = sessions.get(int(fields[3])) or ("postgres" if pid in backends else None)
            if label is not None:
                found.setdefault(label, {})[pid] = seconds
        return found

    def quiesce(self, quiet: float = 1.5, timeout: float = 300.0) -> float:
        """Until every outbox is sent and no inbox has grown for `quiet` seconds (the
        replicas have caught up); returns the seconds it took."""
        started = time.monotonic()
        last: list[tuple[Any, ...]] = []
        still_since = started
        while time.monotonic() - started < timeout:
            now = [
                (
                    *self.db.query(
                        service,
                        "SELECT COUNT(*) FROM messaging_outboxmessage WHERE sent_at IS NULL",
                    )[0],
                    *self.db.query(service, "SELECT MAX(id) FROM messaging_inboxmessage")[0],
                )
                for service in SERVICES
            ]
            if now != last or any(unsent for unsent, _ in now):
                last, still_since = now, time.monotonic()
            elif time.monotonic() - still_since >= quiet:
                return round(still_since - started, 2)
            time.sleep(0.1)
        raise RuntimeError(f"the event flow never went quiet in {timeout:.0f}s: {last}")

    def carve(self, *args: str, service: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "carve", *args],
            cwd=REPO,
            env=self.stack.config.env_for(service),
            capture_output=True,
            text=True,
        )


@contextmanager
def deployment(args: argparse.Namespace, log: Callable[[str], None]) -> Iterator[Deployment]:
    token = uuid.uuid4().hex[:8]
    var_dir = Path(tempfile.mkdtemp(prefix="carve-bench-orders-"))
    exchange, prefix = f"carve.bench.{token}", f"carve.bench.{token}."
    broker = (
        os.environ.get("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
        if args.real
        else "filesystem://"
    )
    admin_url = (
        os.environ.get("CARVE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
        if args.real
        else None
    )
    monolith, payments, inventory, proxy = free_ports(4)
    made: list[Deployment] = []
    try:
        with service_databases(admin_url, f"carve_bench_{token}") as urls:
            config = StackConfig(
                var_dir=var_dir,
                ports=Ports(monolith, payments, inventory, proxy),
                database_urls=urls,
                extra_env={
                    "CARVE_EVENTS_EXCHANGE": exchange,
                    "CARVE_EVENTS_QUEUE_PREFIX": prefix,
                    "CELERY_BROKER_URL": broker,
                    "CARVE_ROUTES_URL": f"file:{var_dir / 'routes.json'}",
                    # Under a deliberate load nothing should time out: measure, not cancel.
                    "CARVE_SAGA_TIMEOUT_SECONDS": "600",
                    "CARVE_HANDOVER_WAIT_SECONDS": "60",
                    "DEBUG": "0",
                },
                admin_token=uuid.uuid4().hex,
                web_workers=args.web_workers,
            )
            stack = Stack(config)
            db = Databases(urls, var_dir)
            try:  # the stack stops before its databases are dropped
                log(f"preparing the databases under {var_dir}")
                stack.prepare(seed=False)
                run_step(
                    [
                        *manage("monolith"),
                        "seed",
                        "--users",
                        str(max(10, args.concurrency + 1)),
                        "--products",
                        str(ORDER_SKUS + LAG_SKUS),
                        "--stock",
                        str(STOCK),
                    ],
                    config.env_for("monolith"),
                    "seeding",
                )
                log("starting the stack")
                stack.start(echo=False)
                stack.wait_ready()
                routes = RouteTable(open_store(f"file:{var_dir / 'routes.json'}"), max_age=0)
                made.append(Deployment(stack, routes, db, log))
                yield made[0]
            finally:
                db.close()
                stack.stop()
    finally:
        if args.real:
            try:
                delete_broker_objects(broker, exchange, prefix)
            except Exception as exc:
                log(f"could not delete the broker objects of {exchange}: {exc}")
        if args.keep or any(deploy.keep for deploy in made):
            log(f"kept {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


def cpu_used(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """CPU seconds per process between two Deployment.cpu() samples (processes that ended
    in between are not counted: gunicorn and Celery keep theirs, PostgreSQL backends
    mostly too)."""
    return {
        label: sum(seconds - before.get(label, {}).get(pid, 0.0) for pid, seconds in pids.items())
        for label, pids in sorted(after.items())
    }


# ------------------------------------------------------------------------ clients


def token_for(base: str, username: str, password: str) -> str:
    response = requests.post(
        f"{base}/api/users/token/", json={"username": username, "password": password}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["token"])


def session_for(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None}
    if len(values) == 1:
        return {"p50_ms": round(values[0] * 1000, 1), "p99_ms": round(values[0] * 1000, 1)}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50_ms": round(cuts[49] * 1000, 1), "p99_ms": round(cuts[98] * 1000, 1)}


def server_time(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@dataclass
class Placed:
    sent: float
    answered: float  # the POST's answer
    terminal: float  # the client saw the terminal state
    settled: float  # the order's updated_at in that state (server clock = this machine's)
    status: str
    reason: str
    polls: int


@dataclass
class OrderRun:
    placed: list[Placed] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        done = self.placed
        wall = max(p.terminal for p in done) - min(p.sent for p in done) if done else 0.0
        statuses: dict[str, int] = {}
        for p in done:
            key = p.status if not p.reason else f"{p.status}:{p.reason}"
            statuses[key] = statuses.get(key, 0) + 1
        return {
            "orders": len(done),
            "failures": len(self.failures),
            "failure_samples": self.failures[:3],
            "statuses": statuses,
            "seconds": round(wall, 2),
            "orders_per_s": round(len(done) / wall, 2) if wall else None,
            "to_terminal": percentiles([p.terminal - p.sent for p in done]),
            "to_terminal_server_stamp": percentiles([max(0.0, p.settled - p.sent) for p in done]),
            "post_answer": percentiles([p.answered - p.sent for p in done]),
            "polls_per_order": round(statistics.mean(p.polls for p in done), 2) if done else None,
        }


def place_orders(
    base: str, tokens: list[str], count: int, poll: float, first_sku: int = 0
) -> OrderRun:
    """`count` orders from len(tokens) clients, each one order at a time, to terminal."""
    run = OrderRun()
    lock = threading.Lock()
    issued = iter(range(count))

    def client(token: str) -> None:
        session = session_for(token)
        while True:
            with lock:
                index = next(issued, None)
            if index is None:
                return
            sku = f"SKU-{(first_sku + index) % ORDER_SKUS + 1:04d}"
            body = {"lines": [{"sku": sku, "quantity": 1}], "card_token": "tok_ok"}
            sent = time.time()
            try:
                response = session.post(f"{base}/api/orders/", json=body, timeout=120)
                answered = time.time()
                if response.status_code != 201:
                    with lock:
                        run.failures.append(f"POST {response.status_code}: {response.text[:200]}")
                    continue
                order = response.json()
                polls = 0
                while order["status"] not in TERMINAL:
                    time.sleep(poll)
                    polls += 1
                    got = session.get(f"{base}/api/orders/{order['id']}/", timeout=120)
                    got.raise_for_status()
                    order = got.json()
                terminal = time.time()
            except (requests.RequestException, ValueError) as exc:
                with lock:
                    run.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            placed = Placed(
                sent=sent,
                answered=answered,
                terminal=terminal,
                settled=server_time(order["updated_at"]),
                status=order["status"],
                reason=order.get("cancel_reason") or "",
                polls=polls,
            )
            with lock:
                run.placed.append(placed)

    threads = [threading.Thread(target=client, args=(token,), daemon=True) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return run


# ------------------------------------------------------------------------ replication lag


@dataclass
class Write:
    kind: str  # "charge" or "stock"
    acked: float
    key: str  # charge id, or sku
    on_hand: int = 0  # stock: the writer's on_hand after this adjustment
    seen: float | None = None


def replication_lag(
    deploy: Deployment,
    reader: Callable[[str], str],
    shopper: str,
    admin: str,
    rate: float,
    seconds: float,
    tick: float,
) -> dict[str, Any]:
    """Writes at `rate`/s through the proxy; the other side's database polled every `tick`.

    `reader(context)` names the service whose database should receive the copy."""
    base = deploy.proxy
    local = threading.local()
    lock = threading.Lock()
    writes: list[Write] = []
    pending: list[Write] = []
    failures: list[str] = []
    write_times: list[float] = []
    done = threading.Event()

    def session(token: str) -> requests.Session:
        sessions = getattr(local, "sessions", None)
        if sessions is None:
            sessions = local.sessions = {}
        if token not in sessions:
            sessions[token] = session_for(token)
        return sessions[token]

    def write(index: int) -> None:
        sent = time.time()
        try:
            if index % 2 == 0:
                response = session(shopper).post(
                    f"{base}/api/payments/charges/",
                    json={"amount": "7.50", "currency": "EUR", "card_token": "tok_ok"},
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                    timeout=60,
                )
                acked = time.time()
                if response.status_code != 201 or response.json()["status"] != "captured":
                    raise RuntimeError(f"charge {response.status_code}: {response.text[:200]}")
                made = Write("charge", acked, response.json()["id"])
            else:
                sku = f"SKU-{ORDER_SKUS + 1 + (index // 2) % LAG_SKUS:04d}"
                response = session(admin).post(
                    f"{base}/api/inventory/products/{sku}/stock/", json={"delta": 1}, timeout=60
                )
                acked = time.time()
                if response.status_code != 200:
                    raise RuntimeError(f"stock {response.status_code}: {response.text[:200]}")
                made = Write("stock", acked, sku, on_hand=int(response.json()["stock"]["on_hand"]))
        except Exception as exc:
            with lock:
                failures.append(f"{type(exc).__name__}: {exc}")
            return
        with lock:
            write_times.append(acked - sent)
            writes.append(made)
            pending.append(made)

    def poller() -> None:
        db = Databases(deploy.db.urls, deploy.db.var_dir)
        try:
            while True:
                finished = done.is_set()
                with lock:
                    waiting = list(pending)
                if finished and not waiting:
                    return
                charges = [w for w in waiting if w.kind == "charge"]
                stocks = [w for w in waiting if w.kind == "stock"]
                seen_charges: set[str] = set()
                if charges:
                    marks = ", ".join(["%s"] * len(charges))
                    rows = db.query(
                        reader("payments"),
                        f"SELECT id FROM payments_charge WHERE status = 'captured' "
                        f"AND id IN ({marks})",
                        [db.uuid_param(w.key) for w in charges],
                    )
                    seen_charges = {uuid.UUID(str(row[0])).hex for row in rows}
                on_hand: dict[str, int] = {}
                if stocks:
                    skus = sorted({w.key for w in stocks})
                    marks = ", ".join(["%s"] * len(skus))
                    rows = db.query(
                        reader("inventory"),
                        "SELECT p.sku, s.on_hand FROM inventory_product p JOIN inventory_stock s "
                        f"ON s.product_id = p.id WHERE p.sku IN ({marks})",
                        skus,
                    )
                    on_hand = {str(sku): int(value) for sku, value in rows}
                now = time.time()
                with lock:
                    for w in waiting:
                        if (w.kind == "charge" and uuid.UUID(w.key).hex in seen_charges) or (
                            w.kind == "stock" and on_hand.get(w.key, -1) >= w.on_hand
                        ):
                            w.seen = now
                            pending.remove(w)
                time.sleep(tick)
        finally:
            db.close()

    watcher = threading.Thread(target=poller, daemon=True)
    watcher.start()
    started = time.monotonic()
    total = int(rate * seconds)
    with ThreadPoolExecutor(max_workers=16) as pool:
        for index in range(total):
            delay = started + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(write, index)
    done.set()
    watcher.join(timeout=120)
    unseen = [w for w in writes if w.seen is None]

    def lags(kind: str | None) -> dict[str, Any]:
        values = [
            w.seen - w.acked
            for w in writes
            if w.seen is not None and (kind is None or w.kind == kind)
        ]
        return {"writes": len(values), **percentiles(values)}

    return {
        "writes_per_s": rate,
        "seconds": seconds,
        "writes_acknowledged": len(writes),
        "failures": len(failures),
        "failure_samples": failures[:3],
        "never_seen": len(unseen),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "lag": lags(None),
        "lag_charges": lags("charge"),
        "lag_stock": lags("stock"),
        "write_answer": percentiles(write_times),
    }


# ------------------------------------------------------------------------ where the time goes


def stamp(value: Any) -> float:
    """A timestamp column as epoch seconds (PostgreSQL: aware; SQLite: naive UTC text)."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def event_hops(db: Databases, since: float, until: float) -> dict[str, Any]:
    """Per event type and direction, for the events written in [since, until]: how long
    each waited in its outbox for the relay (created -> sent) and how long from then
    until the consuming side had handled it (sent -> inbox row committed), p50/p99."""
    outbox: dict[str, tuple[str, str, float, float | None]] = {}
    for service in SERVICES:
        rows = db.query(
            service,
            "SELECT event_id, event_type, created_at, sent_at FROM messaging_outboxmessage",
        )
        for event_id, event_type, created, sent in rows:
            created_at = stamp(created)
            if since <= created_at <= until:
                outbox[uuid.UUID(str(event_id)).hex] = (
                    service,
                    str(event_type),
                    created_at,
                    stamp(sent) if sent is not None else None,
                )
    handled: dict[tuple[str, str], float] = {}
    for service in SERVICES:
        rows = db.query(service, "SELECT event_id, processed_at FROM messaging_inboxmessage")
        for event_id, processed in rows:
            key = (uuid.UUID(str(event_id)).hex, service)
            at = stamp(processed)
            handled[key] = min(at, handled.get(key, at))
    relay: dict[str, list[float]] = {}
    transit: dict[str, list[float]] = {}
    for event_id, (publisher, event_type, created_at, sent_at) in outbox.items():
        if sent_at is None:
            continue
        for service in SERVICES:
            processed_at = handled.get((event_id, service))
            if processed_at is None:
                continue
            hop = f"{event_type} {publisher}->{service}"
            relay.setdefault(hop, []).append(max(0.0, sent_at - created_at))
            transit.setdefault(hop, []).append(max(0.0, processed_at - sent_at))
    return {
        hop: {
            "events": len(relay[hop]),
            "outbox_to_sent": percentiles(relay[hop]),
            "sent_to_handled": percentiles(transit[hop]),
        }
        for hop in sorted(relay)
    }


# ------------------------------------------------------------------------ the run


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


def combine(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median of each figure over the rounds, every round kept beside."""
    return {
        "orders_per_s": median([r["orders_per_s"] for r in rounds]),
        "p50_ms": median([r["to_terminal"]["p50_ms"] for r in rounds]),
        "p99_ms": median([r["to_terminal"]["p99_ms"] for r in rounds]),
        "server_stamp_p50_ms": median([r["to_terminal_server_stamp"]["p50_ms"] for r in rounds]),
        "server_stamp_p99_ms": median([r["to_terminal_server_stamp"]["p99_ms"] for r in rounds]),
        "cpu_ms_per_order": median([r["cpu_ms_per_order"] for r in rounds]),
        "rounds": rounds,
    }


def ratio(saga: float | None, local: float | None) -> float | None:
    return round(saga / local, 2) if saga is not None and local else None


def event_stats(deploy: Deployment) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for service in SERVICES:
        result = deploy.carve("events", "--service", service, "stats", "--json", service=service)
        try:
            figures = json.loads(result.stdout)
        except ValueError:
            found[service] = {"error": (result.stdout + result.stderr)[-300:]}
            continue
        found[service] = {key: figures.get(key) for key in ("backlog", "dead_letters_waiting")}
    return found


def verify_summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """`carve extract verify --json`: per aggregate kind, both counts and whether clean."""
    try:
        reports = json.loads(result.stdout)
    except ValueError:
        return {"ok": False, "output": (result.stdout + result.stderr)[-500:]}
    return {
        "ok": result.returncode == 0,
        **{
            report["aggregate"]: {
                "monolith": report["total_monolith"],
                "service": report["total_service"],
                "clean": report["clean"],
            }
            for report in reports
        },
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    began = time.monotonic()
    load_before = os.getloadavg()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f}s] {message}", file=sys.stderr, flush=True)

    local_rounds: list[dict[str, Any]] = []
    saga_rounds: list[dict[str, Any]] = []
    lag: dict[str, Any] = {}
    handovers: list[float] = []
    windows: dict[str, tuple[float, float]] = {}
    low_load: dict[str, dict[str, Any]] = {}
    with deployment(args, log) as deploy:
        base = deploy.proxy
        tokens = [token_for(base, f"user{i:04d}", PASSWORD) for i in range(1, args.concurrency + 1)]
        lag_shopper = token_for(base, f"user{args.concurrency + 1:04d}", PASSWORD)
        admin = token_for(base, "admin", "admin")
        sku_offset = 0
        for round_number in range(args.rounds):
            for mode, rounds in (("local", local_rounds), ("saga", saga_rounds)):
                handovers.append(deploy.own("monolith" if mode == "local" else "services"))
                warm = place_orders(base, tokens, len(tokens) * 2, args.poll, sku_offset)
                if warm.failures:
                    raise RuntimeError(f"{mode} warm-up failed: {warm.failures[:3]}")
                deploy.quiesce()
                if round_number == 0 and args.low_load_orders:
                    log(f"{mode} at low load: {args.low_load_orders} orders, one at a time")
                    since = time.time()
                    alone = place_orders(
                        base, tokens[:1], args.low_load_orders, args.poll, sku_offset
                    ).summary()
                    windows[f"{mode}_low_load"] = (since, time.time())
                    low_load[mode] = alone
                    deploy.keep = deploy.keep or bool(alone["failures"])
                    log(
                        f"  p50 {alone['to_terminal']['p50_ms']} ms, "
                        f"p99 {alone['to_terminal']['p99_ms']} ms"
                    )
                    deploy.quiesce()
                log(f"{mode} round {round_number + 1}: {args.orders} orders")
                since, cpu_before = time.time(), deploy.cpu()
                measured = place_orders(base, tokens, args.orders, args.poll, sku_offset)
                windows[f"{mode}_round_{round_number + 1}"] = (since, time.time())
                sku_offset += args.orders + len(tokens) * 2
                summary = measured.summary()
                summary["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
                # After the last order settled: until every event of the round is handled
                # everywhere (replication, read model), i.e. the backlog the round left.
                summary["events_settled_after_s"] = deploy.quiesce()
                # What the round cost the deployment, its asynchronous work included.
                used = cpu_used(cpu_before, deploy.cpu())
                per_order = 1000 / max(1, len(measured.placed))
                summary["cpu_ms_per_order"] = round(sum(used.values()) * per_order, 1)
                summary["cpu_ms_per_order_by_process"] = {
                    label: round(seconds * per_order, 1) for label, seconds in used.items()
                }
                log(
                    f"  {summary['orders_per_s']} orders/s, p50 "
                    f"{summary['to_terminal']['p50_ms']} ms, p99 "
                    f"{summary['to_terminal']['p99_ms']} ms, {summary['statuses']}"
                )
                rounds.append(summary)
                if summary["failures"]:
                    deploy.keep = True
                if round_number == 0:
                    direction = (
                        "monolith_to_services" if mode == "local" else "services_to_monolith"
                    )
                    log(f"replication lag {direction}: {args.rate}/s for {args.seconds}s")

                    def reader(context: str, mode: str = mode) -> str:
                        return context if mode == "local" else "monolith"

                    since = time.time()
                    lag[direction] = replication_lag(
                        deploy, reader, lag_shopper, admin, args.rate, args.seconds, args.lag_poll
                    )
                    windows[f"lag_{direction}"] = (since, time.time())
                    if lag[direction]["failures"] or lag[direction]["never_seen"]:
                        deploy.keep = True
                    log(f"  {lag[direction]['lag']}")
        log("carve extract verify")
        deadline = time.monotonic() + 120
        while True:
            verify = deploy.carve("extract", "verify", "--json")
            if verify.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        stats = event_stats(deploy)
        if verify.returncode != 0:
            deploy.keep = True
        hops = {
            label: event_hops(deploy.db, since, until)
            for label, (since, until) in windows.items()
            if not label.startswith("local")
        }
    local = combine(local_rounds)
    saga = combine(saga_rounds)
    return {
        "benchmark": "orders",
        "mode": "real" if args.real else "embedded",
        "orders": args.orders,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "poll_interval_ms": round(args.poll * 1000, 1),
        "web_workers": args.web_workers,
        "local": local,
        "saga": saga,
        "ratio_saga_over_local": {
            "orders_per_s": ratio(saga["orders_per_s"], local["orders_per_s"]),
            "p50": ratio(saga["p50_ms"], local["p50_ms"]),
            "p99": ratio(saga["p99_ms"], local["p99_ms"]),
            "cpu_per_order": ratio(saga["cpu_ms_per_order"], local["cpu_ms_per_order"]),
        },
        "low_load": {
            "concurrency": 1,
            **low_load,
            "ratio_saga_over_local": {
                "p50": ratio(
                    low_load.get("saga", {}).get("to_terminal", {}).get("p50_ms"),
                    low_load.get("local", {}).get("to_terminal", {}).get("p50_ms"),
                ),
                "p99": ratio(
                    low_load.get("saga", {}).get("to_terminal", {}).get("p99_ms"),
                    low_load.get("local", {}).get("to_terminal", {}).get("p99_ms"),
                ),
            },
        },
        "replication": {
            "writes_per_s": args.rate,
            "seconds": args.seconds,
            "poll_interval_ms": round(args.lag_poll * 1000, 1),
            **lag,
        },
        "handover_seconds": [round(h, 2) for h in handovers],
        "event_hops": hops,
        "verify": verify_summary(verify),
        "event_stats_at_end": stats,
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "seconds": round(time.monotonic() - began, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="store_true", help="PostgreSQL and RabbitMQ")
    parser.add_argument("--orders", type=int, default=150, help="orders per phase and round")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--rate", type=float, default=10.0, help="writes/s in the lag phases")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of a lag phase")
    parser.add_argument(
        "--low-load-orders", type=int, default=15, help="orders placed one at a time, per mode"
    )
    parser.add_argument("--rounds", type=int, default=2, help="local+saga rounds (medians)")
    parser.add_argument("--poll", type=float, default=0.05, help="order poll interval (s)")
    parser.add_argument("--lag-poll", type=float, default=0.01, help="replica poll interval (s)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers per service")
    parser.add_argument("--keep", action="store_true", help="keep the stack's var dir and logs")
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
