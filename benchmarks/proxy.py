"""carve proxy against nginx: throughput and added latency, in one run, on loopback.

    .venv/bin/python benchmarks/proxy.py [--duration 8] [--connections 64] [--rounds 3]

A fast upstream (nginx answering a fixed body) is hit directly, through nginx
proxy_pass with 1 and 2 workers, and through `carve proxy` with 1 and 2 workers, all
with wrk at the same concurrency. The rounds are interleaved and the median of each
is kept, because the machine is shared and noisy. Then the added p50 latency at low
load (one connection). Prints JSON. Needs wrk and nginx (Debian packages).

Targets (issue 4): carve >= 0.30 of nginx with the same cores, <= 1 ms added p50.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BODY = '{"ok": true, "service": "fast-upstream"}'

NGINX_CONF = """
worker_processes {workers};
daemon off;
pid {dir}/nginx-{port}.pid;
error_log {dir}/nginx-{port}.err warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {dir}/cb; proxy_temp_path {dir}/pt; fastcgi_temp_path {dir}/ft;
    uwsgi_temp_path {dir}/ut; scgi_temp_path {dir}/st;
    {body}
}}
"""
UPSTREAM_SERVER = """
    server {{ listen 127.0.0.1:{port};
        location / {{ default_type application/json; return 200 '{body}'; }} }}
"""
PROXY_SERVER = """
    upstream fast {{ server 127.0.0.1:{upstream}; keepalive 128; }}
    server {{ listen 127.0.0.1:{port};
        location / {{ proxy_pass http://fast; proxy_http_version 1.1;
                     proxy_set_header Connection ""; }} }}
"""
CARVE_CONF = """
[proxy]
listen = "127.0.0.1:{port}"
routes_url = "file:{dir}/routes.json"
[upstreams.monolith]
url = "http://127.0.0.1:{upstream}"
[upstreams.payments]
url = "http://127.0.0.1:{upstream}"
[[routes]]
name = "payments"
prefix = "/api/payments/"
service = "payments"
state = "extracted"
"""
PATH = "/api/payments/charges/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer within {timeout} s")
        time.sleep(0.1)


@contextlib.contextmanager
def running(
    command: list[str], ready_url: str, env: dict[str, str] | None = None
) -> Iterator[None]:
    """A child process (never a daemon), stopped with SIGTERM and waited for."""
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_ready(ready_url, process)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def nginx(work: Path, workers: int, server: str, port: int) -> list[str]:
    conf = work / f"nginx-{port}.conf"
    conf.write_text(NGINX_CONF.format(workers=workers, dir=work, port=port, body=server))
    return [shutil.which("nginx") or "/usr/sbin/nginx", "-c", str(conf), "-p", str(work)]


def carve(work: Path, workers: int, port: int, upstream: int) -> list[str]:
    conf = work / f"carve-{port}.toml"
    conf.write_text(CARVE_CONF.format(port=port, dir=work, upstream=upstream))
    return [sys.executable, "-m", "carve", "proxy", "--config", str(conf),
            "--workers", str(workers), "--no-access-log"]  # fmt: skip


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, connections: int, duration: float) -> dict[str, float]:
    """Requests/s and latency percentiles (ms) from one wrk run."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def percentile(p: str) -> float:
        match = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match is None:
            raise SystemExit(f"no {p}% latency in wrk output:\n{out}")
        return float(match.group(1)) * _UNITS[match.group(2)]

    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if rps is None:
        raise SystemExit(f"no Requests/sec in wrk output:\n{out}")
    return {
        "rps": float(rps.group(1)),
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    middle = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
    return {**middle, "rps_all": [round(r["rps"]) for r in runs]}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64, help="wrk concurrency")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target")
    parser.add_argument("--low-load-duration", type=float, default=5.0)
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is missing: apt-get install {tool}")

    with tempfile.TemporaryDirectory(prefix="carve-bench-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        env = {**os.environ, "CARVE_VAR_DIR": str(work)}
        env.pop("CARVE_ROUTES_URL", None)
        up = free_port()
        stack.enter_context(
            running(
                nginx(work, 1, UPSTREAM_SERVER.format(port=up, body=BODY), up),
                f"http://127.0.0.1:{up}/",
            )  # fmt: skip
        )
        targets = {"direct": f"http://127.0.0.1:{up}{PATH}"}
        for workers in (1, 2):
            port = free_port()
            server = PROXY_SERVER.format(port=port, upstream=up)
            stack.enter_context(
                running(nginx(work, workers, server, port), f"http://127.0.0.1:{port}/")
            )
            targets[f"nginx_{workers}"] = f"http://127.0.0.1:{port}{PATH}"
            port = free_port()
            stack.enter_context(
                running(carve(work, workers, port, up), f"http://127.0.0.1:{port}/readyz", env)
            )
            targets[f"carve_{workers}"] = f"http://127.0.0.1:{port}{PATH}"

        for url in targets.values():  # warm up connection pools and caches
            wrk(url, args.connections, 1)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, url in targets.items():
                runs[name].append(wrk(url, args.connections, args.duration))
        results = {name: median_run(r) for name, r in runs.items()}

        low = {
            name: wrk(targets[name], 1, args.low_load_duration)
            for name in ("direct", "nginx_1", "carve_1")
        }

    def ratio(a: str, b: str) -> float:
        return round(results[a]["rps"] / results[b]["rps"], 3)

    added = round(low["carve_1"]["p50_ms"] - low["direct"]["p50_ms"], 3)
    report = {
        "benchmark": "proxy",
        "cores": os.cpu_count(),
        "settings": {
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "wrk_threads": 1,
            "path": PATH,
            "body_bytes": len(BODY),
            "carve_access_log": False,
        },
        "throughput": results,
        "ratios": {
            "carve_1/nginx_1": ratio("carve_1", "nginx_1"),
            "carve_2/nginx_2": ratio("carve_2", "nginx_2"),
            "carve_2/carve_1": ratio("carve_2", "carve_1"),
            "nginx_1/direct": ratio("nginx_1", "direct"),
        },
        "low_load_c1": {
            **{f"{name}_p50_ms": round(r["p50_ms"], 3) for name, r in low.items()},
            "carve_added_p50_ms": added,
            "nginx_added_p50_ms": round(low["nginx_1"]["p50_ms"] - low["direct"]["p50_ms"], 3),
        },
        "targets": {
            "carve/nginx >= 0.30 (1 worker)": ratio("carve_1", "nginx_1") >= 0.30,
            "carve/nginx >= 0.30 (2 workers)": ratio("carve_2", "nginx_2") >= 0.30,
            "added p50 <= 1 ms": added <= 1.0,
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
