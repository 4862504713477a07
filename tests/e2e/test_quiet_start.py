"""A clean start of the stack (`make run`) prints the banner and what matters: no warning
that says nothing to the user, on every start, from every process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from carve.stack import Ports, Stack, StackConfig, free_ports

NOISE = [
    "Control socket listening",  # three gunicorns, one socket in the home folder
    "SecurityWarning",  # Celery's "running as root" (containers, CI)
    "No hostname was supplied",  # kombu, for the folder broker
    "had no queue bound",  # events no service subscribes to, e.g. users.UserRegistered
]


@pytest.mark.slow
@pytest.mark.integration
def test_a_clean_start_prints_no_noise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.endswith("DATABASE_URL") or k == "CELERY_BROKER_URL"]:
        monkeypatch.delenv(name)  # the embedded mode `make run` starts in
    config = StackConfig(
        var_dir=tmp_path / "var", ports=Ports(*free_ports(4)), web_workers=1, worker_concurrency=1
    )
    stack = Stack(config)
    try:
        stack.prepare(seed=True)  # the seed publishes events no queue takes
        stack.start(echo=False)
        stack.wait_ready()
        # the relays publish the seed's events within a second or two of starting
        from messaging.testing import wait_until

        wait_until(
            lambda: stack.sql("monolith", "SELECT count(*) FROM messaging_outboxmessage "
                              "WHERE sent_at IS NULL")[0][0] == 0,
            timeout=60,
            message="the monolith's relay did not publish the seed's events",
        )  # fmt: skip
    finally:
        stack.stop()
    logs = {path.name: path.read_text() for path in (config.var_dir / "logs").glob("*.log")}
    assert len(logs) == 10
    noisy = [
        f"{name}: {line}"
        for name, text in logs.items()
        for line in text.splitlines()
        if any(noise in line for noise in NOISE)
    ]
    assert not noisy, "\n".join(noisy)
