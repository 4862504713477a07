"""The boundaries in pyproject.toml hold, and they really catch a violation."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def test_import_contracts_are_kept():
    result = subprocess.run([LINT_IMPORTS], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_app_reaching_into_another_apps_models_breaks_the_contract(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(
        REPO / "monolith", copy / "monolith", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("servicekit", "carve"):
        shutil.copytree(REPO / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "pyproject.toml").write_text(
        "[tool.importlinter]\n"
        'root_packages = ["monolith"]\n'
        + (REPO / "pyproject.toml")
        .read_text()
        .split("[[tool.importlinter.contracts]]")[1]
        .join(["[[tool.importlinter.contracts]]", ""])
    )
    with (copy / "monolith" / "orders" / "selectors.py").open("a") as selectors:
        selectors.write("\nfrom monolith.payments.models import Charge  # noqa\n")
    result = subprocess.run(
        [LINT_IMPORTS],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "monolith.orders.selectors -> monolith.payments.models" in result.stdout
