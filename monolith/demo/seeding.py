"""Deterministic demo data: the same sizes always give the same users and products."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from monolith.inventory import events as inventory_events
from monolith.inventory.models import Product, Stock
from monolith.users import events as user_events

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"  # local demo only; documented in README
DEMO_PASSWORD = "carve-demo"
ADJECTIVES = ["Red", "Blue", "Quiet", "Sturdy", "Tiny", "Grand", "Swift", "Plain"]
NOUNS = ["Mug", "Lamp", "Chair", "Kettle", "Notebook", "Backpack", "Clock", "Teapot", "Scarf"]


@dataclass(frozen=True)
class SeedReport:
    users_created: int
    products_created: int


def demo_username(index: int) -> str:
    return f"user{index:04d}"


def demo_sku(index: int) -> str:
    return f"SKU-{index:04d}"


def seed(
    *, users: int, products: int, stock: int, progress: Callable[[int], None] | None = None
) -> SeedReport:
    """Create what is missing (with its events); never change or duplicate what exists."""
    user_model = get_user_model()
    with transaction.atomic():
        if not user_model.objects.filter(username=ADMIN_USERNAME).exists():
            user_model.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", ADMIN_PASSWORD)
        existing_users = set(
            user_model.objects.filter(username__startswith="user").values_list(
                "username", flat=True
            )
        )
        template = user_model(username="template")
        template.set_password(DEMO_PASSWORD)  # hash once: seeding thousands stays fast
        new_users = [
            user_model(
                username=demo_username(i),
                email=f"{demo_username(i)}@example.com",
                password=template.password,
            )
            for i in range(1, users + 1)
            if demo_username(i) not in existing_users
        ]
        for user in user_model.objects.bulk_create(new_users, batch_size=500):
            user_events.user_registered(user)
    if progress:
        progress(len(new_users))

    with transaction.atomic():
        existing_skus = set(Product.objects.values_list("sku", flat=True))
        new_products = [
            Product(
                sku=demo_sku(i),
                name=f"{ADJECTIVES[i % len(ADJECTIVES)]} {NOUNS[i % len(NOUNS)]} {i}",
                price=Decimal(5 + (i * 37) % 95) + Decimal("0.99"),
                currency="EUR",
            )
            for i in range(1, products + 1)
            if demo_sku(i) not in existing_skus
        ]
        Product.objects.bulk_create(new_products, batch_size=500)
        stocks = Stock.objects.bulk_create(
            [Stock(product=product, on_hand=stock) for product in new_products], batch_size=500
        )
        for product, product_stock in zip(new_products, stocks, strict=True):
            inventory_events.product_created(product, product_stock)
    if progress:
        progress(len(new_products))
    return SeedReport(users_created=len(new_users), products_created=len(new_products))
