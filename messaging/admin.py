from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from messaging import deadletters
from messaging.models import (
    ContextOwnership,
    DeadLetter,
    HandoverMarker,
    InboxMessage,
    OutboxMessage,
    ParkedCommand,
)
from messaging.runtime import celery_app


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that are facts (events, ownership, or a domain object a service writes):
    operators inspect them and act on them only through actions that call the code which
    owns them; nobody adds, edits or deletes a row by hand, so nothing bypasses the outbox.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    """The rows of a read-only record, shown on its page."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class SentFilter(admin.SimpleListFilter):
    title = "published"
    parameter_name = "published"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("no", "not yet (backlog)"), ("yes", "published")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[OutboxMessage]
    ) -> QuerySet[OutboxMessage]:
        if self.value() == "no":
            return queryset.filter(sent_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(sent_at__isnull=False)
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "event_type",
        "aggregate_id",
        "sequence",
        "created_at",
        "sent_at",
        "unroutable",
    ]
    list_filter = [SentFilter, "unroutable", "event_type", "created_at"]
    search_fields = ["event_id", "aggregate_id", "event_type"]
    date_hierarchy = "created_at"


@admin.register(InboxMessage)
class InboxMessageAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "event_type",
        "aggregate_id",
        "sequence",
        "origin",
        "occurred_at",
        "processed_at",
    ]
    list_filter = ["event_type", "origin", "processed_at"]
    search_fields = ["event_id", "aggregate_id", "event_type"]
    date_hierarchy = "processed_at"


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "event_type",
        "aggregate_id",
        "sequence",
        "reason",
        "attempts",
        "created_at",
        "replayed_at",
    ]
    list_filter = ["reason", ("replayed_at", admin.EmptyFieldListFilter), "event_type"]
    search_fields = ["event_id", "aggregate_id", "event_type", "error"]
    actions = ["replay"]

    @admin.action(description="Replay the selected dead letters (after fixing the cause)")
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        ids = list(queryset.filter(replayed_at__isnull=True).values_list("id", flat=True))
        sent = deadletters.replay(letter_ids=ids, app=celery_app())
        self.message_user(request, f"Replayed {sent} dead letter(s).", messages.SUCCESS)


@admin.register(ContextOwnership)
class ContextOwnershipAdmin(ReadOnlyAdmin):
    """Which side writes each context, as this service sees it (moved by the watcher)."""

    list_display = ["context", "owner", "state", "handover_from", "route_version", "updated_at"]


@admin.register(HandoverMarker)
class HandoverMarkerAdmin(ReadOnlyAdmin):
    list_display = ["context", "from_service", "to_service", "route_version", "received_at"]
    list_filter = ["context", "from_service"]


@admin.register(ParkedCommand)
class ParkedCommandAdmin(ReadOnlyAdmin):
    """Commands taken while another side wrote their context, waiting for its result."""

    list_display = ["event_type", "context", "event_id", "parked_at", "checks"]
    list_filter = ["context", "event_type"]
    search_fields = ["event_id"]
