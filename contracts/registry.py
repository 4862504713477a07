"""Every event type by name and schema version. Append-only: add a class (a new type or
a new VERSION of one); never remove or edit a registered one."""

from __future__ import annotations

from contracts.events import Event, inventory, orders, ownership, payments, users

EVENT_CLASSES: tuple[type[Event], ...] = (
    users.UserRegisteredV1,
    inventory.ProductCreatedV1,
    inventory.StockChangedV1,
    inventory.StockReservedV1,
    inventory.StockReleasedV1,
    inventory.StockCommittedV1,
    inventory.StockReturnedV1,
    payments.ChargeCapturedV1,
    payments.ChargeDeclinedV1,
    payments.ChargeFailedV1,
    payments.ChargeRefundedV1,
    orders.OrderPlacedV1,
    orders.OrderConfirmedV1,
    orders.OrderCancelledV1,
    inventory.StockReservationRejectedV1,
    inventory.ReserveStockV1,
    inventory.CommitReservationV1,
    inventory.ReleaseReservationV1,
    inventory.ReturnReservationV1,
    payments.ChargeOrderV1,
    payments.RefundOrderChargeV1,
    ownership.HandedOverV1,
    payments.ChargeRequestedV1,
    users.UserAccessChangedV1,
    users.UserAccessDigestV1,
)

REGISTRY: dict[str, dict[int, type[Event]]] = {}
for _cls in EVENT_CLASSES:
    if _cls.VERSION in REGISTRY.setdefault(_cls.TYPE, {}):
        raise RuntimeError(f"{_cls.TYPE} v{_cls.VERSION} is registered twice")
    REGISTRY[_cls.TYPE][_cls.VERSION] = _cls


class UnknownEventType(LookupError):
    pass


class UnknownSchemaVersion(LookupError):
    """An event of a version this code does not know (usually: newer than the consumer)."""

    def __init__(self, event_type: str, version: int) -> None:
        known = sorted(REGISTRY.get(event_type, {}))
        super().__init__(
            f"{event_type} v{version} is unknown here (this code knows v{known}); "
            "upgrade this service's contracts package"
        )
        self.event_type = event_type
        self.version = version
        self.known = known


def routing_key(event_type: str) -> str:
    """Routing key on the topic exchange: the type name, "<context>.<EventName>"."""
    return event_type


def event_class(event_type: str, version: int) -> type[Event]:
    versions = REGISTRY.get(event_type)
    if versions is None:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    try:
        return versions[version]
    except KeyError:
        raise UnknownSchemaVersion(event_type, version) from None


def schema_filename(cls: type[Event]) -> str:
    return f"{cls.TYPE}.v{cls.VERSION}.json"
