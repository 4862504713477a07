"""Ports for a whole stack started by a test (N, N+1, N+2 and N+80)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

STACK_OFFSETS = (0, 1, 2, 80)


def ephemeral_low() -> int:
    """Where the kernel starts handing out ports to outgoing connections."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port() -> int:
    """A base port whose stack ports are free now and stay clear of the ephemeral range:
    a port there that is free now may be some outgoing connection's a moment later (pip,
    the suite's own clients), and the stack would then refuse to start."""
    high = ephemeral_low() - max(STACK_OFFSETS) - 1
    for _ in range(100):
        base = random.randrange(20000, high)
        if all(_free(base + offset) for offset in STACK_OFFSETS):
            return base
    raise AssertionError("no free ports below the ephemeral range")
