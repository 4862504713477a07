"""`carve events`: follow the stream, inspect and replay dead letters, see backlog and lag."""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from carve.output import echo_json, json_option
from carve.services import ServiceGroup, help_asked, service_option, use_service
from servicekit.signals import stop_on_signals

if TYPE_CHECKING:
    from messaging.models import DeadLetter

console = Console()


@click.group(cls=ServiceGroup)
@service_option
@click.pass_context
def events(ctx: click.Context, service: str) -> None:
    """The event flow of one service (outbox, broker, inbox, dead letters)."""
    if not help_asked(ctx):  # `carve events tail --help` needs no database
        use_service(service)
    ctx.obj = service


@events.command()
@json_option(help="Print one JSON object instead of a table.")
def stats(as_json: bool) -> None:
    """Backlog (events not yet published), lag percentiles, rates, dead letters."""
    from messaging.stats import event_stats

    figures = event_stats()
    if as_json:
        echo_json(figures.as_dict())
        return

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} ms"

    table = Table(title="events", show_header=False)
    table.add_row("backlog (unpublished)", str(figures.backlog))
    oldest = figures.oldest_unsent_seconds
    table.add_row("oldest unpublished", "-" if oldest is None else f"{oldest:.1f} s")
    table.add_row("published in the last minute", str(figures.published_last_minute))
    table.add_row(
        "publish lag p50 / p99",
        f"{ms(figures.publish_lag.p50_ms)} / {ms(figures.publish_lag.p99_ms)}",
    )
    table.add_row("applied here in the last minute", str(figures.consumed_last_minute))
    table.add_row(
        "consume lag p50 / p99",
        f"{ms(figures.consume_lag.p50_ms)} / {ms(figures.consume_lag.p99_ms)}",
    )
    table.add_row("published with no queue bound", str(figures.unroutable))
    letters = ", ".join(f"{n} {r}" for r, n in figures.dead_letters_waiting.items()) or "none"
    table.add_row("dead letters waiting", letters)
    console.print(table)


@events.command()
@json_option(help='Print {"queue": NAME, "routing_keys": [...]} instead of a sentence.')
def declare(as_json: bool) -> None:
    """Declare the events exchange and this service's queue with its bindings.

    Workers do this when they start; doing it first means events published before a
    worker ever ran are kept for it instead of finding no queue.
    """
    from messaging.celeryapp import events_exchange, service_queue
    from messaging.runtime import celery_app

    queue = service_queue()
    with celery_app().connection_for_write() as conn:
        events_exchange()(conn.default_channel).declare()
        queue(conn.default_channel).declare()
    routing_keys = [binding.routing_key for binding in queue.bindings]
    if as_json:
        echo_json({"queue": queue.name, "routing_keys": routing_keys})
    else:
        console.print(f"queue {queue.name} bound to {', '.join(routing_keys) or 'nothing yet'}")


@events.command()
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Events published per round (one publisher confirm per batch on RabbitMQ).",
)
def relay(batch_size: int) -> None:
    """Publish this service's outbox until stopped (Ctrl-C). Several may run at once.

    Beside it run the service's periodic jobs: the ownership watcher (who writes each
    context, and the handover), and the monolith's saga timeouts.
    """
    from messaging.relay import serve

    serve(batch_size, console.print)


@events.command()
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="TYPE",
    help="Only these event types (e.g. inventory.StockChanged, or inventory.* ).",
)
@click.option(
    "--aggregate",
    metavar="AGGREGATE[:ID]",
    help="Only this aggregate (e.g. inventory.product or inventory.product:SKU-0001).",
)
@json_option(help="One JSON envelope per line.")
@click.option("--count", type=click.IntRange(1), default=None, help="Stop after this many events.")
def tail(types: tuple[str, ...], aggregate: str | None, as_json: bool, count: int | None) -> None:
    """Follow events as they cross the broker (from now on)."""
    from kombu import Connection, Consumer, Queue, binding

    from contracts.envelope import Envelope
    from messaging.celeryapp import events_exchange
    from messaging.runtime import celery_app

    app = celery_app()
    exchange = events_exchange()
    keys = list(types) or ["#"]
    queue = Queue(
        f"carve.tail.{uuid.uuid4().hex[:8]}",
        exchange=exchange,
        bindings=[binding(exchange, routing_key=key) for key in keys],
        durable=False,
        auto_delete=True,
    )
    wanted_aggregate, _, wanted_id = (aggregate or "").partition(":")
    shown = 0
    stop = threading.Event()

    def on_message(body: Any, message: Any) -> None:
        nonlocal shown
        message.ack()
        args = body[0] if isinstance(body, (list, tuple)) else body.get("args", [])
        for raw in args[0] if args else []:
            envelope = Envelope.from_dict(raw)
            if wanted_aggregate and envelope.aggregate != wanted_aggregate:
                continue
            if wanted_id and envelope.aggregate_id != wanted_id:
                continue
            if as_json:
                click.echo(envelope.to_json())
            else:
                console.print(
                    f"{envelope.occurred_at:%H:%M:%S.%f}"[:-3],
                    f"[bold]{envelope.type}[/] v{envelope.version}",
                    f"{envelope.aggregate_id}#{envelope.sequence}",
                    f"from {envelope.origin}",
                    f"[dim]corr {envelope.correlation_id or '-'}[/]",
                    highlight=False,
                )
            shown += 1
            if count is not None and shown >= count:
                stop.set()

    stop_on_signals(stop)
    connection = Connection(
        app.conf.broker_url,
        transport=app.conf.broker_transport,
        transport_options=app.conf.broker_transport_options,
    )
    with connection as conn:
        bound = queue(conn.default_channel)
        bound.declare()
        try:
            with Consumer(conn, queues=[queue], callbacks=[on_message], accept=["json"]):
                click.echo(f"following {', '.join(keys)} (Ctrl-C stops)", err=True)
                while not stop.is_set():
                    try:
                        conn.drain_events(timeout=0.25)
                    except (TimeoutError, OSError):
                        continue
        finally:
            bound.delete()


@events.group()
def dlq() -> None:
    """Dead letters: events a consumer gave up on, kept whole for replay."""


@dlq.command("list")
@click.option(
    "--reason",
    type=click.Choice(["failed", "out_of_order", "worker_lost", "unknown_schema_version"]),
    help="Only letters dead-lettered for this reason.",
)
@click.option("--all", "include_replayed", is_flag=True, help="Include replayed letters too.")
@json_option(help="Print a JSON list of the letters (the first 500) instead of a table.")
def dlq_list(reason: str | None, include_replayed: bool, as_json: bool) -> None:
    """List dead letters (waiting ones by default)."""
    from messaging import deadletters
    from messaging.models import DeadLetter

    letters = DeadLetter.objects.all() if include_replayed else deadletters.waiting(reason=reason)
    if include_replayed and reason:
        letters = letters.filter(reason=reason)
    shown = list(letters.order_by("id")[:500])
    if as_json:
        echo_json([_letter_json(letter) for letter in shown])
        return
    table = Table(title="dead letters")
    for column in ("id", "event", "aggregate", "reason", "attempts", "when", "error"):
        table.add_column(column)
    for letter in shown:
        last_line = (letter.error.strip().splitlines() or [""])[-1][:80]
        table.add_row(
            str(letter.id),
            letter.event_type,
            f"{letter.aggregate_id}#{letter.sequence}",
            letter.reason + (" (replayed)" if letter.replayed_at else ""),
            str(letter.attempts),
            f"{letter.created_at:%Y-%m-%d %H:%M:%S}",
            last_line,
        )
    if table.row_count:
        console.print(table)
    else:
        console.print("no dead letters")


@dlq.command("replay")
@click.argument("letter_ids", nargs=-1, type=int)
@click.option("--all", "replay_all", is_flag=True, help="Replay every waiting dead letter.")
@click.option(
    "--reason",
    type=click.Choice(["failed", "out_of_order", "worker_lost", "unknown_schema_version"]),
    help="With --all: only letters of this reason.",
)
@json_option(help='Print {"replayed": N} instead of a sentence.')
def dlq_replay(
    letter_ids: tuple[int, ...], replay_all: bool, reason: str | None, as_json: bool
) -> None:
    """Send dead letters back to this service's queue (oldest per aggregate first)."""
    from messaging import deadletters
    from messaging.runtime import celery_app

    if bool(letter_ids) == replay_all:
        raise click.UsageError("give dead letter IDs, or --all (not both)")
    if letter_ids:
        known = set(deadletters.waiting().filter(id__in=letter_ids).values_list("id", flat=True))
        missing = sorted(set(letter_ids) - known)
        if missing:
            raise click.ClickException(
                f"no waiting dead letter with id {', '.join(map(str, missing))} "
                "(see `carve events dlq list --all`)"
            )
    sent = deadletters.replay(letter_ids=list(letter_ids) or None, reason=reason, app=celery_app())
    if as_json:
        echo_json({"replayed": sent})
    else:
        console.print(f"replayed {sent} dead letter(s)")


def _letter_json(letter: DeadLetter) -> dict[str, Any]:
    """One dead letter as `carve events dlq list --json` prints it (the envelope whole is
    in the admin)."""
    return {
        "id": letter.id,
        "consumer": letter.consumer,
        "event_id": str(letter.event_id),
        "event_type": letter.event_type,
        "aggregate": letter.aggregate,
        "aggregate_id": letter.aggregate_id,
        "sequence": letter.sequence,
        "reason": letter.reason,
        "attempts": letter.attempts,
        "created_at": letter.created_at.isoformat(),
        "replayed_at": letter.replayed_at.isoformat() if letter.replayed_at else None,
        "error": letter.error,
    }
