"""kombu's filesystem transport, made at-least-once.

The stock transport deletes a message file the moment a consumer takes it, so a consumer
killed before acking loses it, and its restore re-routes through the exchange, which
copies a topic message into every bound queue. Here a taken message moves to an
in-flight folder owned by the consuming channel: ack deletes it, reject or restore moves
it back to its own queue, and a channel whose process died (its owner lock is free) has
its in-flight messages swept back by the next channel that starts or polls.

Layout under the broker directory: queue/ (messages), control/ (exchange bindings),
inflight/<owner>/ (taken, not yet acked) and inflight/<owner>.lock.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import socket
import time
import uuid
import weakref
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps, loads

SWEEP_EVERY_SECONDS = 2.0
_sequence = itertools.count()


class Channel(filesystem.Channel):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        root = Path(self.data_folder_in)
        self._inflight_root = root.parent / "inflight"
        self._inflight_root.mkdir(parents=True, exist_ok=True)
        self._owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._owner_dir = self._inflight_root / self._owner
        self._owner_dir.mkdir()
        self._owner_lock = (self._inflight_root / f"{self._owner}.lock").open("w")
        fcntl.flock(self._owner_lock.fileno(), fcntl.LOCK_EX)
        # A channel dropped without close() still lets go of its lock (and no warning).
        weakref.finalize(self, self._owner_lock.close)
        self._taken: dict[str, tuple[str, Path]] = {}  # delivery tag -> (queue, in-flight file)
        self._last_sweep = 0.0
        self.sweep_dead_owners()

    # -- publishing: names that sort in publishing order (the stock ones tie per ms) --------
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{time.time_ns():020d}_{os.getpid():07d}_{next(_sequence):09d}.{queue}.msg"
        final = Path(self.data_folder_out) / name
        partial = final.with_name(f".{name}.tmp")  # not matched by any queue until renamed
        try:
            partial.write_bytes(dumps(payload).encode())
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"cannot write to the broker folder {final.parent}: {exc}") from exc

    # -- consuming ----------------------------------------------------------------------------
    def _get(self, queue: str, timeout: float | None = None) -> Any:
        if time.monotonic() - self._last_sweep > SWEEP_EVERY_SECONDS:
            self.sweep_dead_owners()
        suffix = f".{queue}.msg"
        folder = Path(self.data_folder_in)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            raise Empty() from None  # the broker folder is gone for now: nothing to get
        for name in sorted(n for n in names if n.endswith(suffix)):
            if name.partition(".")[2] != suffix[1:]:
                continue  # another queue whose name ends like this one
            taken = self._owner_dir / name
            try:
                os.rename(folder / name, taken)
            except FileNotFoundError:
                continue  # another consumer took it first
            payload = loads(taken.read_bytes())
            self._taken[payload["properties"]["delivery_tag"]] = (queue, taken)
            return payload
        raise Empty()

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        self._forget(delivery_tag, requeue=False)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if requeue:
            super().basic_reject(delivery_tag, requeue=True)  # calls _restore
        else:
            super().basic_reject(delivery_tag, requeue=False)
            self._forget(delivery_tag, requeue=False)

    def _restore(self, message: Any) -> None:
        tag = message.delivery_tag
        if tag in self._taken:
            self._forget(tag, requeue=True)
        else:
            super()._restore(message)

    def _forget(self, delivery_tag: str, *, requeue: bool) -> None:
        entry = self._taken.pop(delivery_tag, None)
        if entry is None:
            return
        _, taken = entry
        try:
            if requeue:
                requeue_redelivered(taken, Path(self.data_folder_in))
            else:
                taken.unlink()
        except FileNotFoundError:
            pass

    def sweep_dead_owners(self) -> int:
        """Put back what consumers that died had taken; returns how many messages."""
        self._last_sweep = time.monotonic()
        restored = 0
        for lock_path in self._inflight_root.glob("*.lock"):
            owner_dir = lock_path.with_suffix("")
            if owner_dir == self._owner_dir:
                continue
            try:
                handle = lock_path.open("r+")
            except FileNotFoundError:
                continue
            with handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its owner is alive
                if owner_dir.is_dir():
                    for taken in sorted(owner_dir.iterdir()):
                        requeue_redelivered(taken, Path(self.data_folder_in))
                        restored += 1
                    owner_dir.rmdir()
                lock_path.unlink(missing_ok=True)
        return restored

    def close(self) -> None:
        super().close()  # restores what is unacked through _restore
        try:
            self._owner_dir.rmdir()
        except OSError:
            pass  # still holds messages: a later sweep returns them
        else:
            (self._inflight_root / f"{self._owner}.lock").unlink(missing_ok=True)
        self._owner_lock.close()


def requeue_redelivered(taken: Path, queue_folder: Path) -> None:
    """Put a taken message back on its queue marked redelivered, as RabbitMQ does: the
    consumer counts the attempts of a redelivered message (messaging.consumer), so one that
    kills its worker every time is dead-lettered instead of handed out forever.

    The marked copy is in the queue before the taken one goes: a crash in between leaves a
    duplicate, never a loss (the inbox makes a duplicate a no-op)."""
    payload = loads(taken.read_bytes())
    payload.setdefault("properties", {}).setdefault("delivery_info", {})["redelivered"] = True
    final = queue_folder / taken.name
    partial = final.with_name(f".{taken.name}.tmp")
    partial.write_bytes(dumps(payload).encode())
    os.replace(partial, final)
    taken.unlink(missing_ok=True)


class Transport(filesystem.Transport):
    """Use as broker_transport = "messaging.fstransport:Transport" with filesystem://."""

    Channel = Channel

    @property
    def default_connection_params(self) -> dict[str, Any]:
        # A folder has no host: without this, every connection logs "No hostname was
        # supplied. Reverting to default 'localhost'" (kombu's default for virtual ones).
        return {"port": self.default_port}


def broker_options(broker_dir: Path) -> dict[str, Any]:
    """Transport options for a broker directory (created if missing)."""
    queue_dir = broker_dir / "queue"
    queue_dir.mkdir(parents=True, exist_ok=True)
    (broker_dir / "control").mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue_dir),
        "data_folder_out": str(queue_dir),
        "control_folder": str(broker_dir / "control"),
        "polling_interval": 0.02,
    }
