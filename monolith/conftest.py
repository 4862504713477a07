"""Fixtures for the monolith's tests: users, tokens, API clients and products."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from monolith.inventory import services as inventory_services
from monolith.inventory.models import Product
from servicekit.tokens import TokenClaims, token_issue

_counter = itertools.count(1)


def token_for(user: Any) -> str:
    return token_issue(
        claims=TokenClaims(
            user_id=user.pk,
            username=user.username,
            is_staff=user.is_staff,
            version=user.token_version,
        )
    )


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    def make(*, username: str | None = None, is_staff: bool = False, password: str = "pw") -> Any:
        name = username or f"person{next(_counter)}"
        return get_user_model().objects.create_user(
            username=name, email=f"{name}@example.com", password=password, is_staff=is_staff
        )

    return make


@pytest.fixture
def client_for() -> Callable[[Any], APIClient]:
    def client(user: Any) -> APIClient:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return api

    return client


@pytest.fixture
def user(make_user: Callable[..., Any]) -> Any:
    return make_user()


@pytest.fixture
def api(client_for: Callable[[Any], APIClient], user: Any) -> APIClient:
    """An API client logged in as `user`."""
    return client_for(user)


@pytest.fixture
def staff_api(client_for: Callable[[Any], APIClient], make_user: Callable[..., Any]) -> APIClient:
    return client_for(make_user(is_staff=True))


@pytest.fixture
def staff(client: Any) -> Any:
    """Django's test client logged in to admin as a superuser."""
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def make_product(db: None) -> Callable[..., Product]:
    def make(
        *, sku: str | None = None, price: str = "10.00", on_hand: int = 10, currency: str = "EUR"
    ) -> Product:
        return inventory_services.product_create(
            sku=sku or f"T-{next(_counter):05d}",
            name="Test product",
            price=Decimal(price),
            currency=currency,
            on_hand=on_hand,
        )

    return make
