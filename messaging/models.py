from django.db import models
from django.utils import timezone

# Rows of one aggregate always fall in one partition; a relay publishes a partition only
# while it holds that partition's row lock, so several relays never reorder an aggregate.
RELAY_PARTITIONS = 16


class OutboxMessage(models.Model):
    """An event written in the same transaction as the state change it describes."""

    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=120)
    routing_key = models.CharField(max_length=200)
    aggregate = models.CharField(max_length=120)
    aggregate_id = models.CharField(max_length=120)
    sequence = models.PositiveIntegerField()
    partition = models.PositiveSmallIntegerField()
    envelope = models.TextField(help_text="the event as published (JSON)")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    unroutable = models.BooleanField(
        default=False, help_text="the broker had no queue bound for it when it was sent"
    )
    publish_attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["partition", "id"],
                condition=models.Q(sent_at__isnull=True),
                name="outbox_unsent_by_partition",
            ),
            models.Index(fields=["aggregate", "aggregate_id", "sequence"], name="outbox_aggregate"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.aggregate_id}#{self.sequence}"


class RelayPartition(models.Model):
    number = models.PositiveSmallIntegerField(primary_key=True)
    last_relay = models.CharField(max_length=120, blank=True, default="")
    last_run_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"partition {self.number}"


class InboxMessage(models.Model):
    """An event this service has applied; stored in the handler's transaction."""

    consumer = models.CharField(max_length=120)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=120)
    aggregate = models.CharField(max_length=120)
    aggregate_id = models.CharField(max_length=120)
    sequence = models.PositiveIntegerField()
    origin = models.CharField(max_length=120)
    envelope = models.TextField(help_text="retained so read models can be rebuilt")
    occurred_at = models.DateTimeField()
    processed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["consumer", "event_id"], name="inbox_once_per_event")
        ]
        indexes = [
            models.Index(fields=["event_type", "id"], name="inbox_by_type"),
            models.Index(fields=["consumer", "origin", "event_type"], name="inbox_by_origin"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.aggregate_id}#{self.sequence}"


class AggregateCursor(models.Model):
    """The last sequence an ordered handler applied per aggregate."""

    consumer = models.CharField(max_length=120)
    aggregate = models.CharField(max_length=120)
    aggregate_id = models.CharField(max_length=120)
    sequence = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consumer", "aggregate", "aggregate_id"], name="one_cursor_per_aggregate"
            )
        ]

    def __str__(self) -> str:
        return f"{self.aggregate}:{self.aggregate_id}@{self.sequence}"


class ConsumeAttempt(models.Model):
    """How often this consumer has started on an event; caps retries and redeliveries."""

    consumer = models.CharField(max_length=120)
    event_id = models.UUIDField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # What the last counted try came to (a messaging.fate.Try); empty when it recorded
    # nothing, which is how a worker that died on the event shows.
    last_try = models.CharField(max_length=20, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consumer", "event_id"], name="one_attempt_row_per_event"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.attempts} attempts"


class WaitingEvent(models.Model):
    """An early event of an ordered handler, parked per aggregate until its predecessor is
    applied: the consumer that applies the predecessor applies it next (messaging.waiting).
    """

    consumer = models.CharField(max_length=120)
    event_id = models.UUIDField()
    aggregate = models.CharField(max_length=120)
    aggregate_id = models.CharField(max_length=120)
    sequence = models.PositiveIntegerField()
    envelope = models.TextField()
    parked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consumer", "event_id"], name="one_wait_per_event")
        ]
        indexes = [
            models.Index(
                fields=["consumer", "aggregate", "aggregate_id", "sequence"],
                name="waiting_by_aggregate",
            )
        ]

    def __str__(self) -> str:
        return f"{self.aggregate}:{self.aggregate_id}#{self.sequence} waiting"


class DeadLetter(models.Model):
    """An event a consumer gave up on (or parked), kept whole so it can be replayed."""

    class Reason(models.TextChoices):
        FAILED = "failed", "handler kept failing"
        OUT_OF_ORDER = "out_of_order", "an earlier event never arrived"
        WORKER_LOST = "worker_lost", "the worker died on it every time"
        UNKNOWN_SCHEMA_VERSION = "unknown_schema_version", "newer schema than this consumer knows"

    consumer = models.CharField(max_length=120)
    event_id = models.UUIDField(db_index=True)
    event_type = models.CharField(max_length=120)
    aggregate = models.CharField(max_length=120)
    aggregate_id = models.CharField(max_length=120)
    sequence = models.PositiveIntegerField()
    envelope = models.TextField()
    reason = models.CharField(max_length=32, choices=Reason.choices)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.aggregate_id}#{self.sequence} ({self.reason})"


class ContextOwnership(models.Model):
    """Who writes a context, as this service sees it; rows are kept by the ownership watcher.

    Every write of a context checks this row (shared lock) in its transaction; a handover
    takes the row's exclusive lock, so it waits for in-flight writes and fences later ones.
    """

    class State(models.TextChoices):
        OWNER = "owner", "this service writes it"
        CATCHING_UP = "catching_up", "will write once the old owner's events are applied"
        REPLICA = "replica", "the other side writes it; its events are applied here"

    context = models.CharField(max_length=60, primary_key=True)
    owner = models.CharField(max_length=60, help_text="the service that writes (or will)")
    state = models.CharField(max_length=16, choices=State.choices)
    handover_from = models.CharField(max_length=60, blank=True, default="")
    since_version = models.PositiveIntegerField(
        default=0, help_text="route table version before this service was chosen to write"
    )
    route_version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.context}: {self.owner} ({self.state})"


class HandoverMarker(models.Model):
    """The old owner's word that it stopped writing, and how much it had published."""

    context = models.CharField(max_length=60)
    from_service = models.CharField(max_length=60)
    to_service = models.CharField(max_length=60)
    route_version = models.PositiveIntegerField()
    published = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["context", "from_service", "route_version"], name="one_marker_per_release"
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_service} released {self.context} at v{self.route_version}"


class BackfillProgress(models.Model):
    """How far `carve extract backfill` got, so a killed run resumes where it stopped."""

    name = models.CharField(max_length=120, primary_key=True)
    last_key = models.CharField(max_length=120, blank=True, default="")
    copied = models.PositiveIntegerField(default=0)
    done = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.copied} copied{' (done)' if self.done else ''}"


class ParkedCommand(models.Model):
    """A command this side took while another side wrote its context: kept until the
    owner's result has replicated here, or until this side writes the context and runs it."""

    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=120)
    context = models.CharField(max_length=60)
    envelope = models.TextField()
    parked_at = models.DateTimeField(default=timezone.now)
    checks = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.event_type} parked for {self.context}"
