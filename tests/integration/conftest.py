from collections.abc import Iterator

import pytest

from tests.integration.harness import Deployment, deployment


@pytest.fixture(scope="package")
def shared_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One deployment with the default settings for the modules that can share it (a
    whole stack costs tens of seconds to start). Each module routes it as it needs first;
    a test that stops a process starts it again; each module uses its own users and SKUs."""
    with deployment(tmp_path_factory.mktemp("shared")) as stack:
        yield stack


@pytest.fixture(scope="module")
def extracted_stack(shared_deployment: Deployment) -> Deployment:
    """The shared deployment with payments and inventory written by their services."""
    shared_deployment.route("inventory", "extracted")
    shared_deployment.route("payments", "extracted")
    shared_deployment.wait_owner("inventory", "inventory")
    shared_deployment.wait_owner("payments", "payments")
    return shared_deployment
