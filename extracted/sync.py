"""Backfill and verify: the service's copy of a context against the monolith's.

The service's models are generated from the monolith's, so they describe the monolith's
tables too: the monolith is read through the same classes on the "monolith" database
(MONOLITH_DATABASE_URL), never by importing monolith code. Aggregates are matched by
their natural key (SKU, order id, charge id) and carry their version: backfill copies a
row only where the service's version is older, so it can run while events flow, again
and again, and resume after a kill from its saved position.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from django.apps import apps
from django.db import models, transaction

from messaging.models import BackfillProgress

MONOLITH_DB = "monolith"
TIMESTAMPS = ("created_at", "updated_at")
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Aggregate:
    """One kind of aggregate of a context: how to key it and what state it carries."""

    name: str
    model: str  # "app_label.Model"
    key: str
    fields: tuple[str, ...]
    children: Callable[[models.Model], list[dict[str, Any]]]
    copy_children: Callable[[models.Model, models.Model], None]

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    def state(self, row: models.Model) -> dict[str, Any]:
        data = {name: _plain(getattr(row, name)) for name in self.fields}
        data["version"] = cast(Any, row).version  # every aggregate model has one
        data["children"] = self.children(row)
        return data


def _plain(value: Any) -> Any:
    return str(value) if value is not None and not isinstance(value, (int, bool, str)) else value


# ------------------------------------------------------------------ payments
def _refunds(charge: Any) -> list[dict[str, Any]]:
    return [
        {"id": str(r.id), "amount": str(r.amount), "reason": r.reason}
        for r in charge.refunds.order_by("created_at", "id")
    ]


def _copy_refunds(source: Any, target: Any) -> None:
    refund = apps.get_model("payments.Refund")
    known = set(refund.objects.filter(charge=target).values_list("id", flat=True))
    for r in source.refunds.all():
        if r.id not in known:
            refund.objects.create(id=r.id, charge=target, amount=r.amount, reason=r.reason)
            refund.objects.filter(pk=r.id).update(created_at=r.created_at)


# ------------------------------------------------------------------ inventory
def _stock(product: Any) -> list[dict[str, Any]]:
    stock = getattr(product, "stock", None)
    return [{"on_hand": stock.on_hand, "reserved": stock.reserved}] if stock else []


def _copy_stock(source: Any, target: Any) -> None:
    apps.get_model("inventory.Stock").objects.update_or_create(
        product=target,
        defaults={"on_hand": source.stock.on_hand, "reserved": source.stock.reserved},
    )


def _lines(reservation: Any) -> list[dict[str, Any]]:
    return sorted(
        ({"sku": line.product.sku, "quantity": line.quantity} for line in reservation.lines.all()),
        key=lambda line: line["sku"],
    )


def _copy_lines(source: Any, target: Any) -> None:
    product = apps.get_model("inventory.Product")
    line = apps.get_model("inventory.ReservationLine")
    skus = [ln.product.sku for ln in source.lines.all()]
    local = {p.sku: p for p in product.objects.filter(sku__in=skus)}
    missing = sorted(set(skus) - set(local))
    if missing:
        raise BackfillError(
            f"reservation {source.order_id} needs products {missing}: backfill products first"
        )
    line.objects.filter(reservation=target).delete()
    line.objects.bulk_create(
        line(reservation=target, product=local[ln.product.sku], quantity=ln.quantity)
        for ln in source.lines.all()
    )


AGGREGATES: dict[str, list[Aggregate]] = {
    "payments": [
        Aggregate(
            "charges",
            "payments.Charge",
            "id",
            (
                "id",
                "user_id",
                "order_id",
                "amount",
                "currency",
                "card_token",
                "status",
                "failure_reason",
                "gateway_reference",
                "refunded_amount",
                "idempotency_key",
                "request_fingerprint",
                "created_at",
            ),
            _refunds,
            _copy_refunds,
        ),
    ],
    "inventory": [
        Aggregate(
            "products",
            "inventory.Product",
            "sku",
            ("sku", "name", "price", "currency"),
            _stock,
            _copy_stock,
        ),
        Aggregate(
            "reservations",
            "inventory.Reservation",
            "order_id",
            ("order_id", "status"),
            _lines,
            _copy_lines,
        ),
    ],
}


class BackfillError(Exception):
    pass


def _rows(aggregate: Aggregate, using: str, after: str = "") -> Iterator[models.Model]:
    """Rows in key order, in pages (steady memory on big tables)."""
    rows = aggregate.model_class._default_manager.using(using).order_by(aggregate.key)
    while True:
        page = list(rows.filter(**{f"{aggregate.key}__gt": after})[:500] if after else rows[:500])
        if not page:
            return
        yield from page
        after = str(getattr(page[-1], aggregate.key))


def count(aggregate: Aggregate, using: str) -> int:
    return int(aggregate.model_class._default_manager.using(using).count())


# ------------------------------------------------------------------ backfill
def _copy(aggregate: Aggregate, source: models.Model) -> bool:
    model = aggregate.model_class
    key = getattr(source, aggregate.key)
    with transaction.atomic():
        target = model._default_manager.select_for_update().filter(**{aggregate.key: key}).first()
        if target is not None and target.version >= source.version:  # type: ignore[attr-defined]
            return False
        if target is None:
            target = model(**{aggregate.key: key})
        for name in aggregate.fields:
            if name not in ("id", *TIMESTAMPS):
                setattr(target, name, getattr(source, name))
        if aggregate.key == "id":
            target.pk = source.pk
        target.version = source.version  # type: ignore[attr-defined]
        target.save()
        stamps = {name: getattr(source, name) for name in TIMESTAMPS if name in aggregate.fields}
        if stamps:  # the writer's, not now (auto_now would overwrite them on save)
            model._default_manager.filter(pk=target.pk).update(**stamps)
        aggregate.copy_children(source, target)
    return True


@dataclass(frozen=True)
class Copied:
    read: int
    copied: int
    resumed_after: str


def backfill(
    context: str, *, progress: Progress | None = None, restart: bool = False
) -> dict[str, Copied]:
    """Copy what the service lacks (or has older) from the monolith; resumable: a run
    that was stopped goes on after the last key it saved."""
    summary: dict[str, Copied] = {}
    for aggregate in AGGREGATES[context]:
        mark, _ = BackfillProgress.objects.get_or_create(name=f"{context}.{aggregate.name}")
        if restart:
            mark.last_key, mark.copied, mark.done = "", 0, False
            mark.save()
        if mark.done:
            mark.last_key, mark.done = "", False  # a finished run starts over: it is cheap
        resumed_after, copied, seen = mark.last_key, 0, 0
        if resumed_after and progress:
            progress(count_upto(aggregate, MONOLITH_DB, resumed_after))
        for seen, row in enumerate(_rows(aggregate, MONOLITH_DB, resumed_after), start=1):
            if _copy(aggregate, row):
                copied += 1
            if seen % 100 == 0:
                mark.last_key = str(getattr(row, aggregate.key))
                mark.copied = copied
                mark.save(update_fields=["last_key", "copied", "updated_at"])
            if progress:
                progress(1)
        mark.done, mark.last_key = True, ""
        mark.save()
        summary[aggregate.name] = Copied(read=seen, copied=copied, resumed_after=resumed_after)
    return summary


def count_upto(aggregate: Aggregate, using: str, key: str) -> int:
    manager = aggregate.model_class._default_manager.using(using)
    return int(manager.filter(**{f"{aggregate.key}__lte": key}).count())


# ------------------------------------------------------------------ verify
@dataclass
class Drift:
    aggregate: str
    total_monolith: int = 0
    total_service: int = 0
    checksum_monolith: str = ""
    checksum_service: str = ""
    only_in_monolith: list[str] = field(default_factory=list)
    only_in_service: list[str] = field(default_factory=list)
    different: dict[str, list[str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (self.only_in_monolith or self.only_in_service or self.different)


def _states(aggregate: Aggregate, using: str) -> dict[str, dict[str, Any]]:
    return {
        str(getattr(row, aggregate.key)): aggregate.state(row) for row in _rows(aggregate, using)
    }


def _checksum(states: dict[str, dict[str, Any]]) -> str:
    digest = hashlib.sha256()
    for key in sorted(states):
        digest.update(json.dumps([key, states[key]], sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def verify(context: str) -> list[Drift]:
    """Per aggregate kind: counts, checksums, and each aggregate that differs (and how)."""
    found = []
    for aggregate in AGGREGATES[context]:
        monolith, service = _states(aggregate, MONOLITH_DB), _states(aggregate, "default")
        drift = Drift(
            aggregate=f"{context}.{aggregate.name}",
            total_monolith=len(monolith),
            total_service=len(service),
            checksum_monolith=_checksum(monolith),
            checksum_service=_checksum(service),
            only_in_monolith=sorted(set(monolith) - set(service)),
            only_in_service=sorted(set(service) - set(monolith)),
        )
        for key in sorted(set(monolith) & set(service)):
            if monolith[key] != service[key]:
                drift.different[key] = sorted(
                    name for name in monolith[key] if monolith[key][name] != service[key].get(name)
                )
        found.append(drift)
    return found
