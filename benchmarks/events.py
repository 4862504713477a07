"""Events end to end: carve's outbox -> relay -> Celery consumer with its inbox, next to
bare reliable Celery, in one run, on RabbitMQ and PostgreSQL. Prints JSON.

    .venv/bin/python benchmarks/events.py [--events 10000] [--repeats 3] [--concurrency 2]
                                          [--writers 4] [--rate 200] [--seconds 25]

carve (throughput): writer processes commit N StockChanged events, one transaction each
(`messaging.outbox.publish`, as a service's use case would); `manage.py events_relay`
publishes them; a Celery worker of the monolith (`benchmarks.events_settings`: the test
settings' ledger consumer, one Effect row per event, ordered per aggregate) applies them
with its inbox. events/s = N / (first write -> last Effect row committed).

carve (lag): one writer at a steady rate; an observer polls the inbox for the events
written so far; lag = occurred_at -> the first poll that sees the event committed.

baseline: the same number of producer processes `.delay()` N no-op tasks (acks_late,
persistent, confirm_publish), each carrying the same event data as a carve event, to a
worker of `benchmarks.events_baseline` with the same concurrency and prefetch; tasks/s =
N / (first send -> last task run).

Both sides also report the CPU they cost per event (writers or producers, relay, worker,
this run's PostgreSQL backends, RabbitMQ), sampled from /proc: on a shared machine that
figure moves much less than events/s do.

Everything runs in a fresh database and a private exchange/queue namespace, dropped at the
end. Runs alternate (carve, baseline, carve, ...) so the noise of a shared machine falls on
both; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

WARMUP = 50
POLL_SECONDS = 0.01


def log(message: str) -> None:
    print(f"[events {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10000, help="events (and tasks) per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each kind")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    parser.add_argument("--writers", type=int, default=4, help="writer/producer processes")
    parser.add_argument("--aggregates", type=int, default=1000, help="distinct products")
    parser.add_argument("--relay-batch", type=int, default=500, help="relay rows per round")
    parser.add_argument("--rate", type=float, default=200.0, help="events/s in the lag runs")
    parser.add_argument("--seconds", type=float, default=25.0, help="length of a lag run")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--database", default="carve_bench_events")
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--only", choices=["carve", "baseline", "lag"], action="append")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    return parser.parse_args()


# ------------------------------------------------------------------ processes
class Processes:
    """The workers and relays of one benchmark, each in its own session and log file."""

    def __init__(self, logdir: Path, env: dict[str, str]) -> None:
        self.logdir = logdir
        self.env = env
        self.running: list[subprocess.Popen[bytes]] = []
        self.logs: dict[int, Path] = {}

    def start(
        self, name: str, argv: list[str], extra: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        path = self.logdir / f"{name}.log"
        with path.open("ab") as out:
            process = subprocess.Popen(
                argv,
                cwd=REPO,
                env={**os.environ, **self.env, **(extra or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(process)
        self.logs[process.pid] = path
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        path = self.logs[process.pid]
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            self.stop(process)


def worker_argv(app_module: str, concurrency: int, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        app_module,
        "worker",
        f"--concurrency={concurrency}",
        "--pool=prefork",
        "--loglevel=WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}@%h",
    ]


def wait_for(condition: Any, *, timeout: float, what: str, interval: float = 0.05) -> float:
    """Poll until `condition()` holds; returns the time.time() of the poll that saw it."""
    deadline = time.monotonic() + timeout
    while True:
        seen_at = time.time()
        if condition():
            return seen_at
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def consumers_on(amqp_url: str, queue: str) -> int:
    from kombu import Connection

    with Connection(amqp_url) as conn:
        _, _, consumers = conn.default_channel.queue_declare(queue=queue, passive=True)
        return int(consumers)


# ------------------------------------------------------------------ CPU
def _proc_stat(pid: str) -> tuple[int, float, str] | None:
    """(session id, CPU seconds, command name) of a process, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            raw = stat.read()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw.rsplit(")", 1)[1].split()
    return int(fields[3]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, name


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class CpuMeter:
    """CPU seconds a run costs, by role, sampled from /proc while it lasts (Linux only).

    Roles: the writers or producers (forked here), each subprocess by its session (relay,
    worker with its pool), this run's PostgreSQL backends, and RabbitMQ. A shared machine
    gives a run more or less of its two cores; what a run costs per event does not vary
    with that nearly as much as events/s does.
    """

    def __init__(
        self, roles: dict[int, str], *, database: str | None = None, clients: bool = True
    ) -> None:
        self.roles = {**({os.getsid(0): "clients"} if clients else {}), **roles}
        self.database = f" {database} " if database else None
        self.first: dict[int, tuple[str, float]] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def __enter__(self) -> CpuMeter:
        self._sample()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()

    def _is_backend(self, pid: str) -> bool:
        """A PostgreSQL backend serving this run's database ("postgres: ... <db> host")."""
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                return self.database is not None and self.database in cmdline.read().decode()
        except OSError:
            return False

    def _sample(self) -> None:
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            stat = _proc_stat(entry)
            if stat is None:
                continue
            session, seconds, name = stat
            pid = int(entry)
            role = self.roles.get(session)
            if role is None and name == "postgres" and self._is_backend(entry):
                role = "postgres"
            if role is None and name == "beam.smp":
                role = "rabbitmq"
            if role is None:
                continue
            self.first.setdefault(pid, (role, seconds))
            self.last[pid] = seconds

    def _sample_until_stopped(self) -> None:
        while not self.stop.wait(0.2):
            self._sample()
        self._sample()

    def ms_per(self, count: int, *, leave_out: int | None = None) -> dict[str, float]:
        """Milliseconds of CPU per event by role; `leave_out`: a pid not to count."""
        spent: dict[str, float] = defaultdict(float)
        for pid, (role, seconds) in self.first.items():
            if pid != leave_out:
                spent[role] += self.last[pid] - seconds
        per = {role: round(1000 * total / count, 3) for role, total in sorted(spent.items())}
        per["total"] = round(sum(per.values()), 3)
        return per


# ------------------------------------------------------------------ database
def recreate_database(args: argparse.Namespace, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{args.database}"')


def reset_tables() -> None:
    from django.db import connection, connections

    from messaging.relay import ensure_partitions

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE messaging_outboxmessage, messaging_inboxmessage, "
            "messaging_aggregatecursor, messaging_consumeattempt, messaging_deadletter, "
            "ledger_effect RESTART IDENTITY"
        )
    ensure_partitions()
    connections.close_all()


def stock_event(sku: str, sequence: int) -> Any:
    from contracts.events.inventory import StockChangedV1

    return StockChangedV1(
        sku=sku,
        name="Mug",
        price=Decimal("4.50"),
        currency="EUR",
        on_hand=sequence,
        reserved=0,
        reason="adjusted",
    )


def write_events(skus: list[str], count: int, sequences: dict[str, int]) -> list[Any]:
    """Commit `count` events round-robin over `skus`, one transaction each."""
    from django.db import transaction

    from messaging.outbox import publish

    envelopes = []
    for number in range(count):
        sku = skus[number % len(skus)]
        sequences[sku] = sequences.get(sku, 0) + 1
        with transaction.atomic():
            envelopes.append(publish(stock_event(sku, sequences[sku]), sequence=sequences[sku]))
    return envelopes


def own_backend() -> int:
    """The PostgreSQL backend this process polls with (its CPU is the benchmark's)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def effects_count() -> int:
    from messaging.tests.ledger.models import Effect

    return Effect.objects.count()


# ------------------------------------------------------------------ writers (forked)
def _carve_writer(index: int, writers: int, args: argparse.Namespace, barrier: Any) -> None:
    from django.db import connections

    skus = [f"BENCH-{n:05d}" for n in range(index, args.aggregates, writers)]
    mine = args.events // writers + (1 if index < args.events % writers else 0)
    barrier.wait()
    write_events(skus, mine, {})
    connections.close_all()


def _baseline_producer(index: int, writers: int, args: argparse.Namespace, barrier: Any) -> None:
    from benchmarks.events_baseline import noop

    skus = [f"BENCH-{n:05d}" for n in range(index, args.aggregates, writers)]
    mine = args.events // writers + (1 if index < args.events % writers else 0)
    barrier.wait()
    for number in range(mine):
        # The same event a carve writer records, as the task's argument.
        sku = skus[number % len(skus)]
        noop.delay(stock_event(sku, number // len(skus) + 1).model_dump(mode="json"))
    noop.app.close()


def run_clients(target: Any, args: argparse.Namespace) -> tuple[float, float]:
    """Fork `args.writers` clients, start them together; returns (start, all written)."""
    from django.db import connections

    connections.close_all()  # never share a database socket with a forked child
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(args.writers + 1)
    children = [
        context.Process(target=target, args=(i, args.writers, args, barrier))
        for i in range(args.writers)
    ]
    for child in children:
        child.start()
    barrier.wait()
    started = time.time()
    for child in children:
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"a writer failed (exit code {child.exitcode})")
    return started, time.time()


# ------------------------------------------------------------------ carve
def start_carve(args: argparse.Namespace, procs: Processes, run: str) -> list[Any]:
    from messaging.celeryapp import queue_name

    relay = procs.start(
        f"relay-{run}",
        [sys.executable, "manage.py", "events_relay", f"--batch-size={args.relay_batch}"],
    )
    worker = procs.start(
        f"carve-worker-{run}",
        worker_argv("monolith.config.celery", args.concurrency, f"carve-{run}"),
    )
    wait_for(
        lambda: "publishing the outbox" in procs.log_of(relay),
        timeout=60,
        what=f"the relay\n{procs.log_of(relay)}",
    )
    wait_for(
        lambda: consumers_on(args.amqp, queue_name()) > 0,
        timeout=60,
        what=f"the carve worker\n{procs.log_of(worker)}",
    )
    # Warm up: connections opened, code paths imported, in every pool process.
    write_events([f"WARM-{n}" for n in range(WARMUP)], WARMUP, {})
    wait_for(lambda: effects_count() >= WARMUP, timeout=60, what="the warm-up events")
    return [relay, worker]


def check_effects(expected: int) -> dict[str, Any]:
    from messaging.models import DeadLetter, OutboxMessage
    from messaging.tests.ledger.models import Effect

    rows = list(
        Effect.objects.filter(aggregate_id__startswith="BENCH-")
        .order_by("id")
        .values_list("event_id", "aggregate_id", "sequence")
    )
    by_aggregate: dict[str, list[int]] = defaultdict(list)
    for _, aggregate_id, sequence in rows:
        by_aggregate[aggregate_id].append(sequence)
    return {
        "exactly_once": len(rows) == expected and len({r[0] for r in rows}) == expected,
        "in_order": all(seqs == list(range(1, len(seqs) + 1)) for seqs in by_aggregate.values()),
        "dead_letters": DeadLetter.objects.count(),
        "unroutable": OutboxMessage.objects.filter(unroutable=True).count(),
    }


def carve_throughput(args: argparse.Namespace, procs: Processes, run: str) -> dict[str, Any]:
    reset_tables()
    relay, worker = processes = start_carve(args, procs, run)
    try:
        target = WARMUP + args.events
        meter = CpuMeter({relay.pid: "relay", worker.pid: "worker"}, database=args.database)
        with meter as cpu:
            started, written = run_clients(_carve_writer, args)
            applied = wait_for(
                lambda: effects_count() >= target,
                timeout=max(120.0, args.events / 50),
                what="every event to be applied",
                interval=POLL_SECONDS,
            )
        time.sleep(1.0)  # anything applied twice would show up now
        checks = check_effects(args.events)
    finally:
        for process in processes:
            procs.stop(process)
    return {
        "events_per_s": round(args.events / (applied - started), 1),
        "seconds": round(applied - started, 2),
        "write_only_events_per_s": round(args.events / (written - started), 1),
        "cpu_ms_per_event": cpu.ms_per(args.events, leave_out=own_backend()),
        **checks,
    }


def carve_lag(args: argparse.Namespace, procs: Processes, run: str) -> dict[str, Any]:
    from django.db import connection, connections

    from messaging.consumer import consumer_name

    reset_tables()
    relay, worker = processes = start_carve(args, procs, run)
    total = int(args.rate * args.seconds)
    written: list[tuple[uuid.UUID, float]] = []
    writing: list[float] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            skus = [f"BENCH-{n:05d}" for n in range(args.aggregates)]
            sequences: dict[str, int] = {}
            start = time.monotonic()
            for number in range(total):
                delay = start + number / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                (envelope,) = write_events([skus[number % len(skus)]], 1, sequences)
                written.append((envelope.id, envelope.occurred_at.timestamp()))
            writing.append(time.monotonic() - start)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()
            done.set()

    lags: list[float] = []
    pending: dict[uuid.UUID, float] = {}
    taken = 0
    thread = threading.Thread(target=writer, name="lag-writer")
    meter = CpuMeter(
        {relay.pid: "relay", worker.pid: "worker"}, database=args.database, clients=False
    )
    try:
        meter.__enter__()
        thread.start()
        deadline = None
        while True:
            while taken < len(written):
                event_id, occurred = written[taken]
                pending[event_id] = occurred
                taken += 1
            if pending:
                snapshot = time.time()  # the query's snapshot is taken after this
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT event_id FROM messaging_inboxmessage "
                        "WHERE consumer = %s AND event_id = ANY(%s)",
                        [consumer_name(), list(pending)],
                    )
                    for (event_id,) in cursor.fetchall():
                        lags.append(snapshot - pending.pop(event_id))
            if done.is_set() and taken == len(written):
                if not pending:
                    break
                deadline = deadline or time.monotonic() + 60
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(pending)} events not applied 60 s after writing")
            time.sleep(POLL_SECONDS)
        meter.__exit__()
        thread.join()
        if errors:
            raise errors[0]
        checks = check_effects(total)
        stages = lag_stages()
    finally:
        meter.__exit__()
        done.wait(timeout=args.seconds * 2)
        for process in processes:
            procs.stop(process)
    lags.sort()
    return {
        "events": total,
        "written_per_s": round(total / writing[0], 1),
        "p50_ms": round(percentile(lags, 0.50) * 1000, 1),
        "p99_ms": round(percentile(lags, 0.99) * 1000, 1),
        "max_ms": round(lags[-1] * 1000, 1),
        **stages,
        # The writer is a thread of this process: its CPU is not counted, its queries are.
        "cpu_ms_per_event": meter.ms_per(total, leave_out=own_backend()),
        **checks,
    }


def lag_stages() -> dict[str, float]:
    """Where the lag goes: written -> published (relay), written -> handled (consumer)."""
    from django.db import connection

    stages = {}
    with connection.cursor() as cursor:
        for name, sql in (
            (
                "published",
                "SELECT extract(epoch FROM sent_at - created_at) FROM messaging_outboxmessage "
                "WHERE aggregate_id LIKE 'BENCH-%%'",
            ),
            (
                "handled",
                "SELECT extract(epoch FROM processed_at - occurred_at) "
                "FROM messaging_inboxmessage WHERE aggregate_id LIKE 'BENCH-%%'",
            ),
        ):
            cursor.execute(sql)
            values = sorted(float(value) for (value,) in cursor.fetchall())
            stages[f"{name}_p50_ms"] = round(percentile(values, 0.5) * 1000, 1)
            stages[f"{name}_p99_ms"] = round(percentile(values, 0.99) * 1000, 1)
    return stages


def percentile(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# ------------------------------------------------------------------ baseline
def count_done(folder: Path) -> int:
    total = 0
    for path in folder.iterdir():
        raw = path.read_bytes()
        total += int(raw) if raw else 0
    return total


def baseline_throughput(
    args: argparse.Namespace, procs: Processes, run: str, workdir: Path
) -> dict[str, Any]:
    from kombu import Connection, Queue

    queue = os.environ["BENCH_BASELINE_QUEUE"]
    counts = workdir / f"counts-{run}"
    counts.mkdir()
    with Connection(args.amqp) as conn:
        Queue(queue, durable=True)(conn.default_channel).declare()
    worker = procs.start(
        f"baseline-worker-{run}",
        worker_argv("benchmarks.events_baseline", args.concurrency, f"baseline-{run}"),
        {"BENCH_COUNT_DIR": str(counts)},
    )
    try:
        wait_for(
            lambda: consumers_on(args.amqp, queue) > 0,
            timeout=60,
            what=f"the baseline worker\n{procs.log_of(worker)}",
        )
        warm = argparse.Namespace(**{**vars(args), "events": WARMUP, "writers": 1})
        run_clients(_baseline_producer, warm)
        wait_for(lambda: count_done(counts) >= WARMUP, timeout=60, what="the warm-up tasks")
        with CpuMeter({worker.pid: "worker"}) as cpu:
            started, sent = run_clients(_baseline_producer, args)
            finished = wait_for(
                lambda: count_done(counts) >= WARMUP + args.events,
                timeout=max(120.0, args.events / 50),
                what="every task to run",
                interval=POLL_SECONDS,
            )
    finally:
        procs.stop(worker)
    return {
        "tasks_per_s": round(args.events / (finished - started), 1),
        "seconds": round(finished - started, 2),
        "send_only_tasks_per_s": round(args.events / (sent - started), 1),
        "cpu_ms_per_task": cpu.ms_per(args.events),
    }


# ------------------------------------------------------------------ the run
def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def median_cpu(runs: list[dict[str, float]]) -> dict[str, float]:
    """The median of each role's CPU per event over the runs."""
    roles = sorted({role for run in runs for role in run})
    return {role: round(statistics.median(run.get(role, 0.0) for run in runs), 3) for role in roles}


def main() -> int:
    args = parse_args()
    kinds = set(args.only or ["carve", "baseline", "lag"])
    token = uuid.uuid4().hex[:8]
    env = {
        "DJANGO_SETTINGS_MODULE": "benchmarks.events_settings",
        "DATABASE_URL": f"{args.postgres}/{args.database}",
        "CELERY_BROKER_URL": args.amqp,
        "CARVE_EVENTS_EXCHANGE": f"carve.bench.{token}",
        "CARVE_EVENTS_QUEUE_PREFIX": f"carve.bench.{token}.",
        "BENCH_BASELINE_QUEUE": f"carve.bench.{token}.baseline",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    workdir = Path(tempfile.mkdtemp(prefix="carve-bench-events-"))
    procs = Processes(workdir, env)
    log(f"database {args.database}, exchange {env['CARVE_EVENTS_EXCHANGE']}, logs in {workdir}")
    recreate_database(args)
    app = None
    carve_runs: list[dict[str, Any]] = []
    baseline_runs: list[dict[str, Any]] = []
    lag_runs: list[dict[str, Any]] = []
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        from messaging.celeryapp import create_celery_app, events_exchange, service_queue

        app = create_celery_app()
        prefetch = int(app.conf.worker_prefetch_multiplier)
        os.environ["BENCH_PREFETCH"] = env["BENCH_PREFETCH"] = str(prefetch)
        with app.connection_for_write() as conn:
            events_exchange()(conn.default_channel).declare()
            service_queue()(conn.default_channel).declare()

        for repeat in range(1, args.repeats + 1):
            if "carve" in kinds:
                carve_runs.append(carve_throughput(args, procs, f"t{repeat}"))
                log(f"carve run {repeat}: {carve_runs[-1]}")
            if "baseline" in kinds:
                baseline_runs.append(baseline_throughput(args, procs, f"b{repeat}", workdir))
                log(f"baseline run {repeat}: {baseline_runs[-1]}")
        for repeat in range(1, args.repeats + 1):
            if "lag" in kinds:
                lag_runs.append(carve_lag(args, procs, f"l{repeat}"))
                log(f"lag run {repeat}: {lag_runs[-1]}")
    finally:
        procs.stop_all()
        cleanup(args, app, env)
        if not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)

    carve = median([r["events_per_s"] for r in carve_runs])
    baseline = median([r["tasks_per_s"] for r in baseline_runs])
    p50 = median([r["p50_ms"] for r in lag_runs])
    p99 = median([r["p99_ms"] for r in lag_runs])
    carve_cpu = median_cpu([r["cpu_ms_per_event"] for r in carve_runs])
    # Each carve run and the baseline run right after it share the machine's weather.
    pairs = [
        c["events_per_s"] / b["tasks_per_s"]
        for c, b in zip(carve_runs, baseline_runs, strict=False)
    ]
    baseline_cpu = median_cpu([r["cpu_ms_per_task"] for r in baseline_runs])
    every = carve_runs + lag_runs
    result = {
        "benchmark": "events",
        "machine": {"cpus": os.cpu_count()},
        "settings": {
            "events_per_run": args.events,
            "repeats": args.repeats,
            "worker_concurrency": args.concurrency,
            "worker_prefetch_multiplier": int(env.get("BENCH_PREFETCH", "0")),
            "writers": args.writers,
            "aggregates": args.aggregates,
            "relay_batch_size": args.relay_batch,
            "lag_rate_per_s": args.rate,
            "lag_seconds": args.seconds,
        },
        "carve_events_per_s": carve,
        "baseline_tasks_per_s": baseline,
        "ratio": round(carve / baseline, 2) if carve and baseline else None,
        "ratio_of_pairs": {
            "median": round(statistics.median(pairs), 2) if pairs else None,
            "each": [round(pair, 2) for pair in pairs],
        },
        "lag_ms_at_rate": {"p50": p50, "p99": p99},
        "cpu_ms_per_event": {"carve": carve_cpu, "baseline": baseline_cpu},
        "exactly_once": all(r["exactly_once"] for r in every) if every else None,
        "in_order_per_aggregate": all(r["in_order"] for r in every) if every else None,
        "targets": {
            "carve_at_least_baseline": bool(carve and baseline and carve >= baseline),
            "lag_p99_under_500ms": bool(p99 is not None and p99 < 500),
        },
        "runs": {"carve": carve_runs, "baseline": baseline_runs, "lag": lag_runs},
    }
    print(json.dumps(result, indent=2))
    return 0


def cleanup(args: argparse.Namespace, app: Any, env: dict[str, str]) -> None:
    from kombu import Connection, Exchange, Queue

    try:
        with Connection(args.amqp) as conn:
            channel = conn.default_channel
            for queue in (
                f"{env['CARVE_EVENTS_QUEUE_PREFIX']}monolith",
                env["BENCH_BASELINE_QUEUE"],
            ):
                Queue(queue)(channel).delete()
            # The baseline's queue came with a direct exchange of its name (Celery's default).
            for exchange in (env["CARVE_EVENTS_EXCHANGE"], env["BENCH_BASELINE_QUEUE"]):
                Exchange(exchange)(channel).delete()
    except Exception as exc:
        log(f"could not delete the benchmark's queues: {exc}")
    if app is not None:
        app.close()
    try:
        from django.db import connections

        connections.close_all()
    except Exception:
        pass
    try:
        recreate_database(args, drop_only=True)
    except Exception as exc:
        log(f"could not drop database {args.database}: {exc}")


if __name__ == "__main__":
    sys.exit(main())
