from collections.abc import Iterator

import pytest

from tests.integration.harness import Deployment, deployment


@pytest.fixture(scope="module")
def extracted_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A deployment with payments and inventory written by their services."""
    with deployment(tmp_path_factory.mktemp("stack")) as stack:
        stack.route("inventory", "extracted")
        stack.route("payments", "extracted")
        stack.wait_owner("inventory", "inventory")
        stack.wait_owner("payments", "payments")
        yield stack
