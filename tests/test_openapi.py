"""Every service's OpenAPI schema is valid and generates without a warning: unique
component names, and the signed bearer token as the security scheme of its operations."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from carve.stack import REPO, SERVICES, manage


@pytest.mark.parametrize("service", SERVICES)
def test_the_schema_is_valid_and_warning_free(service: str, tmp_path: Path) -> None:
    schema = tmp_path / "schema.yaml"
    result = subprocess.run(
        [*manage(service), "spectacular", "--validate", "--fail-on-warn", "--file", str(schema)],
        cwd=REPO,
        env={**os.environ, "CARVE_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    document = yaml.safe_load(schema.read_text())
    assert document["components"]["securitySchemes"]["signedToken"]["scheme"] == "bearer"
    names = document["components"]["schemas"]
    assert not any(name in names for name in ("Input", "InputRequest", "Output")), sorted(names)
    # The one error body, as servicekit.errors writes it, on every operation's errors.
    error = names["Error"]
    assert set(error["properties"]) == {"type", "detail", "errors", "code"}
    assert error["required"] == ["detail", "type"]
    assert "lines.0.sku" in error["properties"]["errors"]["description"]
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if method in ("post", "put", "patch"):
                assert responses["400"]["content"]["application/json"]["schema"] == ref, path
            if "{" in path:
                assert responses["404"]["content"]["application/json"]["schema"] == ref, path
