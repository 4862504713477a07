"""The ledger's handlers, with faults a test switches on by creating files:

<CARVE_TEST_FAULT_DIR>/poison-<sku>   the handler raises for that product
<CARVE_TEST_FAULT_DIR>/block-<sku>    the handler writes started-<sku>, then waits
                                      until block-<sku> is removed
<CARVE_TEST_FAULT_DIR>/crash-<sku>    the handler kills its own process (SIGKILL), as a
                                      segfault or the OOM killer would
<CARVE_TEST_FAULT_DIR>/conflict-<sku> the database refuses the handler's transaction (a
                                      serialization failure: an infrastructure error)
<CARVE_TEST_FAULT_DIR>/die-after-commit-<aggregate id>
                                      once the handler's transaction has committed, the
                                      whole worker is killed (SIGKILL, every process of
                                      it) before it can acknowledge the delivery; once
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from django.db import OperationalError, transaction

from contracts.envelope import Envelope
from contracts.events.inventory import (
    ProductCreatedV1,
    ProductState,
    StockChangedV1,
    StockReservedV1,
)
from contracts.events.orders import OrderPlacedV1
from messaging.handlers import handles
from messaging.tests.ledger.models import Effect


class Poisoned(Exception):
    pass


def _fault(name: str) -> Path | None:
    folder = os.environ.get("CARVE_TEST_FAULT_DIR")
    if not folder:
        return None
    path = Path(folder) / name
    return path if path.exists() else None


def _record(envelope: Envelope) -> None:
    Effect.objects.create(
        event_id=envelope.id,
        event_type=envelope.type,
        aggregate_id=envelope.aggregate_id,
        sequence=envelope.sequence,
    )
    dying = _fault(f"die-after-commit-{envelope.aggregate_id}")
    if dying is not None:
        transaction.on_commit(lambda: _kill_worker(dying))


def _kill_worker(fault: Path) -> None:
    fault.unlink(missing_ok=True)
    os.killpg(os.getpgid(0), signal.SIGKILL)


@handles(StockChangedV1, ordered=True)
def stock_changed(event: ProductState, envelope: Envelope) -> None:
    if _fault(f"poison-{event.sku}"):
        raise Poisoned(f"poison pill for {event.sku}")
    if _fault(f"conflict-{event.sku}"):
        raise OperationalError("could not serialize access due to concurrent update")
    if _fault(f"crash-{event.sku}"):
        os.kill(os.getpid(), signal.SIGKILL)
    blocker = _fault(f"block-{event.sku}")
    if blocker is not None:
        (blocker.parent / f"started-{event.sku}").write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        while blocker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    _record(envelope)


@handles(ProductCreatedV1, ordered=True)
def product_created(event: ProductCreatedV1, envelope: Envelope) -> None:
    _record(envelope)


@handles(StockReservedV1)
def stock_reserved(event: StockReservedV1, envelope: Envelope) -> None:
    _record(envelope)


@handles(OrderPlacedV1, ordered=True)
def order_placed(event: OrderPlacedV1, envelope: Envelope) -> None:
    _record(envelope)
