"""docker-compose.yml runs the real-mode stack. No Docker engine runs here, so check what
can be checked: it parses, every command it runs exists in the project, and every
environment variable it sets is one the code reads."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import yaml

from carve.cli import SUBCOMMANDS

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
READ_PATTERNS = [
    r'env_(?:str|bool|int|float|list|networks)\("([A-Z_]+)"',
    r'secret\("([A-Z_]+)"',
    r'url_variable="([A-Z_]+)"',
    r'environ\.get\("([A-Z_]+)"',
    r'"([A-Z_]+_DATABASE_URL)"',
    r'_VARIABLE = "([A-Z_]+)"',
]


def names_the_code_reads() -> set[str]:
    found = {"DATABASE_URL"}  # servicekit.env.database's default variable
    for path in REPO.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        text = path.read_text()
        for pattern in READ_PATTERNS:
            found.update(re.findall(pattern, text))
        if "{name.upper()}_DATABASE_URL" in text:
            found.update(
                {"MONOLITH_DATABASE_URL", "PAYMENTS_DATABASE_URL", "INVENTORY_DATABASE_URL"}
            )
    return found


def commands() -> list[list[str]]:
    return [service["command"] for service in SERVICES.values() if "command" in service]


def test_the_file_describes_every_process_of_the_stack():
    for name in ("postgres", "rabbitmq", "setup", "proxy"):
        assert name in SERVICES
    for service in ("monolith", "payments", "inventory"):
        for role in ("", "-worker", "-relay"):
            assert f"{service}{role}" in SERVICES


def test_every_command_exists_in_the_project():
    for command in commands():
        program, *args = command
        if program == "gunicorn":
            module, attribute = args[0].split(":")
            assert importlib.util.find_spec(module), command
            assert attribute == "application"
        elif program == "celery":
            assert importlib.util.find_spec(args[args.index("-A") + 1]), command
        elif program == "carve":
            assert args[0] in SUBCOMMANDS, command
        elif program == "python":
            assert args[:2] == ["-m", "carve"] and args[2] in SUBCOMMANDS, command
        else:
            raise AssertionError(f"unknown program in {command}")
        for option, value in zip(args, args[1:], strict=False):
            if option == "--config":
                assert (REPO / value).is_file(), command


def test_every_environment_variable_set_is_read_by_the_code():
    read = names_the_code_reads()
    for name, service in SERVICES.items():
        if name in ("postgres", "rabbitmq"):
            continue
        unknown = set(service.get("environment", {})) - read
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"


def test_mounted_and_copied_files_exist():
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), volume
    dockerfile = (REPO / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+)", dockerfile, flags=re.M):
        assert (REPO / source).exists(), source


def test_only_the_identity_side_gets_the_private_key():
    """The monolith signs tokens; every other process verifies with the public key only."""
    for name, service in SERVICES.items():
        environment = service.get("environment", {})
        if name in ("monolith", "monolith-worker", "monolith-relay", "setup"):
            assert "CARVE_AUTH_PRIVATE_KEY" in environment, name
        else:
            assert "CARVE_AUTH_PRIVATE_KEY" not in environment, name
        if name not in ("postgres", "rabbitmq"):
            assert "CARVE_AUTH_PUBLIC_KEYS" in environment, name


def test_only_the_proxy_is_public_and_only_it_may_name_the_client():
    """A service port open to the world plus a believed X-Forwarded-For would let anyone
    dodge the per-address throttles."""
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            if name != "proxy":
                assert str(port).startswith("127.0.0.1:"), (name, port)
    proxy_address = SERVICES["proxy"]["networks"]["default"]["ipv4_address"]
    for name in ("monolith", "payments", "inventory"):
        assert SERVICES[name]["environment"]["CARVE_TRUSTED_PROXIES"] == proxy_address
