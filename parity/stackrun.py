"""`carve parity stack`: a private deployment (carve.stack) just for one parity run.

Embedded mode on free loopback ports, its own var/ folder (SQLite files, the filesystem
broker, the route table), its own admin token; nothing of the user's `make run` stack
is touched, and it is all stopped (and the folder removed unless kept) afterwards.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from carve.stack import REPO, SERVICES, Ports, Stack, StackConfig, StackError, free_ports
from parity.checks import ProxyAdmin
from parity.flip import FlippableDeployment
from parity.runner import ParityError, Progress


def private_config(var_dir: Path) -> StackConfig:
    """Embedded mode whatever the shell says: a URL left in the environment must not send
    this throwaway deployment's data or events to a shared server."""
    monolith, payments, inventory, proxy = free_ports(4)
    isolated = {f"{s.upper()}_DATABASE_URL": "" for s in SERVICES}
    return StackConfig(
        var_dir=var_dir,
        ports=Ports(monolith, payments, inventory, proxy),
        extra_env={
            **isolated,
            "CELERY_BROKER_URL": "filesystem://",
            "CARVE_BROKER_DIR": str(var_dir / "broker"),
            "CARVE_ROUTES_URL": "",
            "CARVE_EVENTS_RETRY_BASE_SECONDS": "0.05",
            # What clients of a real deployment get: JSON errors, not Django's DEBUG pages.
            "DEBUG": "0",
        },
        admin_token=secrets.token_urlsafe(24),
        web_workers=1,
    )


@contextmanager
def private_stack(
    var_dir: Path | None = None, progress: Progress = lambda message: None
) -> Iterator[FlippableDeployment]:
    """Start a whole deployment, yield it ready to flip, stop it."""
    folder = var_dir or Path(tempfile.mkdtemp(prefix="carve-parity-"))
    config = private_config(folder.resolve())
    stack = Stack(config)
    try:
        progress(f"starting a private deployment in {folder} (migrations, demo data ...)")
        stack.prepare(seed=True)
        stack.start(echo=False)
        stack.wait_ready()
    except StackError as exc:
        stack.stop()
        raise ParityError(f"the private deployment did not start: {exc}") from None
    urls = stack.urls()
    try:
        yield FlippableDeployment(
            proxy=urls["proxy"],
            admin=ProxyAdmin(urls["proxy"], config.admin_token),
            sides={name: urls[name] for name in SERVICES},
            verify_env=config.env_for(None),
            verify_cwd=REPO,
        )
    finally:
        progress("stopping the private deployment")
        stack.stop()
        if var_dir is None:
            shutil.rmtree(folder, ignore_errors=True)
