"""What the monolith's inventory does with events: replicate the inventory service's
changes, and run inventory commands from the orders saga while it writes inventory.

Loaded through CARVE_EVENT_HANDLER_MODULES (never imported by other code)."""

from __future__ import annotations

from uuid import UUID

from contracts.envelope import Envelope
from contracts.events import inventory as contract
from messaging.commands import execute_or_defer, handles_command
from messaging.handlers import handles
from messaging.ownership import me
from monolith.inventory import replica, services
from monolith.inventory.models import Reservation
from servicekit.errors import Conflict, NotFound, ValidationFailed


@handles(contract.ProductCreatedV1)
@handles(contract.StockChangedV1)
def product_changed(event: contract.ProductState, envelope: Envelope) -> None:
    if envelope.origin != me():
        replica.product_apply(event, envelope.sequence)


@handles(contract.StockReservedV1)
@handles(contract.StockReleasedV1)
@handles(contract.StockCommittedV1)
@handles(contract.StockReturnedV1)
@handles(contract.StockReservationRejectedV1)
def reservation_changed(event: contract.ReservationState, envelope: Envelope) -> None:
    if envelope.origin != me():
        replica.reservation_apply(event, envelope.sequence)


def _reservation_in(order_id: UUID, *statuses: str) -> bool:
    return Reservation.objects.filter(order_id=order_id, status__in=statuses).exists()


@handles(contract.ReserveStockV1)
@handles_command
def reserve_stock(command: contract.ReserveStockV1, envelope: Envelope) -> None:
    def run() -> None:
        lines = [services.LineRequest(sku=ln.sku, quantity=ln.quantity) for ln in command.lines]
        try:
            services.stock_reserve(order_id=command.order_id, lines=lines)
        except (services.InsufficientStock, ValidationFailed) as refused:
            services.reservation_reject(order_id=command.order_id, refused=refused)

    execute_or_defer(
        "inventory",
        what=f"reserve stock for order {command.order_id}",
        run=run,
        done=lambda: Reservation.objects.filter(order_id=command.order_id).exists(),
    )


def _settle_command(action: str, order_id: UUID, done_statuses: tuple[str, ...]) -> None:
    settle = {
        "commit": services.reservation_commit,
        "release": services.reservation_release,
        "return": services.reservation_return,
    }[action]

    def run() -> None:
        try:
            settle(order_id=order_id)
        except (Conflict, NotFound):
            pass  # nothing (more) to do: e.g. a release for an order whose stock was rejected

    execute_or_defer(
        "inventory",
        what=f"{action} the reservation of order {order_id}",
        run=run,
        done=lambda: _reservation_in(order_id, *done_statuses),
    )


@handles(contract.CommitReservationV1)
@handles_command
def commit_reservation(command: contract.CommitReservationV1, envelope: Envelope) -> None:
    _settle_command("commit", command.order_id, ("committed", "returned"))


@handles(contract.ReleaseReservationV1)
@handles_command
def release_reservation(command: contract.ReleaseReservationV1, envelope: Envelope) -> None:
    _settle_command("release", command.order_id, ("released", "rejected"))


@handles(contract.ReturnReservationV1)
@handles_command
def return_reservation(command: contract.ReturnReservationV1, envelope: Envelope) -> None:
    _settle_command("return", command.order_id, ("returned", "released", "rejected"))
