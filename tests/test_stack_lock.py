"""A second `carve stack up` refuses to start, saying why and exiting non-zero, when var/
is in use by a running stack or one of its ports is taken; it touches nothing first."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from carve.stack import REPO, Ports, Stack, StackConfig
from tests.ports import free_base_port

HOLD = (
    "import sys; from pathlib import Path; from carve.stack import Stack, StackConfig\n"
    "stack = Stack(StackConfig(var_dir=Path(sys.argv[1])))\n"
    "stack.claim(ports=False)\n"
    "print('held', flush=True); sys.stdin.read()"
)


def stack_up(var_dir: Path, base_port: int) -> tuple[int, str, str]:
    """Run `carve stack up`; should it start after all, stop it (Ctrl-C) and fail."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    env["CARVE_VAR_DIR"] = str(var_dir)
    with subprocess.Popen(
        [sys.executable, "-m", "carve", "stack", "up", "--base-port", str(base_port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as up:
        try:
            stdout, stderr = up.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            up.send_signal(signal.SIGINT)
            up.communicate(timeout=120)
            raise AssertionError("the second stack started instead of refusing") from None
    return up.returncode, stdout, stderr


def test_a_second_stack_on_a_var_dir_in_use_refuses(tmp_path: Path) -> None:
    var = tmp_path / "var"
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(var)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
            returncode, stdout, stderr = stack_up(var, free_base_port())
        finally:
            holder.kill()
    assert returncode == 1
    assert f"{var} is in use by a running stack (pid {holder.pid})" in stderr
    assert "preparing" not in stdout  # no migrate, no seed on the other one's var/
    assert not list(var.glob("*.sqlite3"))


def test_a_second_stack_on_taken_ports_refuses_and_leaves_var_dir_free(tmp_path: Path) -> None:
    base = free_base_port()
    with socket.create_server(("127.0.0.1", base + 80)):  # someone else's proxy
        returncode, _, stderr = stack_up(tmp_path / "var", base)
    assert returncode == 1
    assert f"port {base + 80} (proxy) is already taken" in stderr
    assert "--base-port" in stderr
    assert not list((tmp_path / "var").glob("*.sqlite3"))
    # it let go of var/: a stack may use it now
    after = Stack(StackConfig(var_dir=tmp_path / "var", ports=Ports(base, base + 1, base + 2)))
    after.claim()
    after.stop()
