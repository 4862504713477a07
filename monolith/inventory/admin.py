from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from messaging.admin import ReadOnlyAdmin, ReadOnlyInline
from monolith.inventory import services
from monolith.inventory.models import Product, Reservation, ReservationLine, Stock


class StockInline(ReadOnlyInline):
    model = Stock
    # Counts change only through services (reserve/commit/release keep them consistent).
    readonly_fields = ["on_hand", "reserved", "updated_at"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "currency", "on_hand", "reserved", "updated_at"]
    list_filter = ["currency"]
    search_fields = ["sku", "name"]
    readonly_fields = ["id", "sku", "currency", "version", "created_at", "updated_at"]
    inlines = [StockInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # products are created through the API, which publishes the event

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a product other services know of never disappears without an event

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        # Through the service: it checks who writes inventory and publishes the change.
        services.product_update(sku=obj.sku, name=obj.name, price=obj.price)

    list_select_related = ["stock"]

    @admin.display(ordering="stock__on_hand")
    def on_hand(self, obj: Product) -> int:
        return obj.stock.on_hand

    @admin.display(ordering="stock__reserved")
    def reserved(self, obj: Product) -> int:
        return obj.stock.reserved


class ReservationLineInline(ReadOnlyInline):
    model = ReservationLine
    readonly_fields = ["product", "quantity"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    """Reservations move only through the order's saga (reserve, commit, release)."""

    list_display = ["order_id", "status", "created_at", "updated_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["order_id", "lines__product__sku"]
    readonly_fields = ["id", "order_id", "status", "version", "created_at", "updated_at"]
    inlines = [ReservationLineInline]
