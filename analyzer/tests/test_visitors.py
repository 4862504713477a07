"""Each visitor on inline source: what it finds, with lines, and what it leaves alone."""

from __future__ import annotations

from analyzer.extract import extract_facts
from analyzer.facts import Binding, Form, Kind, Reference, TaskDefinition
from analyzer.options import ParseOptions
from analyzer.tests.conftest import facts_of


def refs(source: str, kind: Kind) -> list[tuple[Form, str, int, str]]:
    return [
        (r.form, r.target, r.line, r.detail) for r in facts_of(source).references if r.kind == kind
    ]


def test_imports_absolute_relative_and_in_functions() -> None:
    facts = facts_of(
        """
        import os.path
        import shop.orders.models as order_models
        from ..billing import public as billing
        from . import selectors
        from .models import *

        def later():
            from shop.inventory.services import reserve
        """
    )
    found = [(r.kind, r.form, r.target, r.line, r.level) for r in facts.references]
    assert found == [
        (Kind.IMPORT, Form.PATH, "os.path", 2, 0),
        (Kind.IMPORT, Form.PATH, "shop.orders.models", 3, 0),
        (Kind.IMPORT, Form.RELATIVE, "billing.public", 4, 2),
        (Kind.IMPORT, Form.RELATIVE, "selectors", 5, 1),
        (Kind.IMPORT, Form.RELATIVE, "models", 6, 1),
        (Kind.IMPORT, Form.PATH, "shop.inventory.services.reserve", 9, 0),
    ]
    assert facts.bindings["os"] == Binding(0, "os")
    assert facts.bindings["order_models"] == Binding(0, "shop.orders.models")
    assert facts.bindings["billing"] == Binding(2, "billing.public")
    assert facts.bindings["reserve"] == Binding(0, "shop.inventory.services.reserve")


def test_type_checking_imports_are_a_kind_apart_but_not_their_else_branch() -> None:
    source = """
        from __future__ import annotations
        import typing
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from shop.orders.models import Order
        else:
            import shop.runtime
        if typing.TYPE_CHECKING: import shop.billing
        """
    assert refs(source, Kind.TYPE_CHECKING) == [
        (Form.PATH, "shop.orders.models.Order", 6, ""),
        (Form.PATH, "shop.billing", 9, ""),
    ]
    assert (Form.PATH, "shop.runtime", 8, "") in refs(source, Kind.IMPORT)


def test_calls_of_imported_names_only() -> None:
    source = """
        from shop.inventory import public as inventory
        import shop.billing

        def place(order):
            inventory.stock_reserve(order_id=order.id)
            shop.billing.charge(
                order.total,
            )
            order.save()
            len(order.lines)
        """
    assert refs(source, Kind.CALL) == [
        (Form.NAME, "inventory.stock_reserve", 6, ""),
        (Form.NAME, "shop.billing.charge", 7, ""),
    ]


def test_relation_fields_written_as_strings_settings_or_names() -> None:
    source = """
        from django.conf import settings
        from django.db import models
        from shop.catalog.models import Product

        class Line(models.Model):
            order = models.ForeignKey("orders.Order", on_delete=models.CASCADE)
            parent = models.ForeignKey("self", null=True, on_delete=models.CASCADE)
            tags = models.ManyToManyField(to="Tag")
            owner = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
            product = models.ForeignKey(
                Product, on_delete=models.PROTECT
            )
            name = models.CharField(max_length=10)
        """
    assert refs(source, Kind.RELATION) == [
        (Form.MODEL, "orders.Order", 7, "ForeignKey"),
        (Form.MODEL, "self", 8, "ForeignKey"),
        (Form.MODEL, "Tag", 9, "ManyToManyField"),
        (Form.AUTH_USER, "", 10, "OneToOneField"),
        (Form.NAME, "Product", 12, "ForeignKey"),
    ]


def test_loaders_get_model_get_user_model_and_configured_names() -> None:
    source = """
        from django.apps import apps
        from oscar.core.loading import get_class

        Order = apps.get_model("orders", "Order")
        Line = apps.get_model("orders.Line")
        User = get_user_model()
        Basket = get_class("basket.models", "Basket")
        fetch_model("billing", "Invoice")
        dynamic = apps.get_model(app_label, name)
        """
    assert refs(source, Kind.LOADER) == [
        (Form.MODEL, "orders.Order", 5, "get_model"),
        (Form.MODEL, "orders.Line", 6, "get_model"),
        (Form.AUTH_USER, "", 7, "get_user_model"),
        (Form.APP_PATH, "basket.models", 8, "Basket"),
    ]
    custom = ParseOptions(model_loaders=("fetch_model", "get_model"), path_loaders=())
    found = [
        r
        for r in extract_facts(source.replace("        ", ""), custom).references
        if r.kind == Kind.LOADER
    ]
    assert (Form.MODEL, "billing.Invoice") in [(r.form, r.target) for r in found]
    assert "basket.models" not in [r.target for r in found]


def test_signal_receivers_with_senders() -> None:
    source = """
        from django.db.models.signals import post_save
        from django.dispatch import receiver
        from shop.orders.models import Order
        from shop.orders.signals import order_placed

        @receiver(post_save, sender=Order)
        def on_save(sender, **kwargs): ...

        @receiver([order_placed], sender="billing.Invoice")
        def on_placed(sender, **kwargs): ...

        post_save.connect(on_save, sender=Order)
        connection.connect(timeout=3)
        """
    assert refs(source, Kind.SIGNAL) == [
        (Form.NAME, "post_save", 7, "signal"),
        (Form.NAME, "Order", 7, "sender"),
        (Form.NAME, "order_placed", 10, "signal"),
        (Form.MODEL, "billing.Invoice", 10, "sender"),
        (Form.NAME, "post_save", 13, "signal"),
        (Form.NAME, "Order", 13, "sender"),
    ]


def test_meta_model_of_serializers_and_forms() -> None:
    source = """
        from rest_framework import serializers
        from shop.orders.models import Order

        class OrderSerializer(serializers.ModelSerializer):
            class Meta:
                model = Order
                fields = ["id"]

        class Meta:
            model = NotNested
        """
    assert refs(source, Kind.META_MODEL) == [(Form.NAME, "Order", 7, "OrderSerializer")]


def test_admin_registrations_call_and_decorator() -> None:
    source = """
        import atexit
        from django.contrib import admin
        from shop.orders.models import Order, Line, Refund

        admin.site.register(Order)
        admin.site.register([Line, Refund], LineAdmin)

        @admin.register(Refund, Order)
        class RefundAdmin(admin.ModelAdmin): ...

        atexit.register(cleanup)
        """
    assert refs(source, Kind.ADMIN) == [
        (Form.NAME, "Order", 6, "register"),
        (Form.NAME, "Line", 7, "register"),
        (Form.NAME, "Refund", 7, "register"),
        (Form.NAME, "Refund", 9, "register"),
        (Form.NAME, "Order", 9, "register"),
    ]


def test_url_includes_by_string() -> None:
    source = """
        from django.urls import include, path
        urlpatterns = [
            path("orders/", include("shop.orders.urls")),
            path("billing/", include(("shop.billing.urls", "billing"))),
            path("api/", include(api_patterns)),
        ]
        """
    assert refs(source, Kind.URL_INCLUDE) == [
        (Form.PATH, "shop.orders.urls", 4, "include"),
        (Form.PATH, "shop.billing.urls", 5, "include"),
    ]


def test_celery_tasks_sent_by_name_and_defined() -> None:
    source = """
        from celery import shared_task, signature
        from config.celery import app

        @shared_task(name="billing.charge")
        def charge(order_id): ...

        @app.task
        def refund(order_id): ...

        def place():
            app.send_task("shop.inventory.tasks.reserve", args=[1])
            signature("billing.charge").delay()
            inspect.signature(place)
        """
    assert refs(source, Kind.CELERY_TASK) == [
        (Form.TASK, "shop.inventory.tasks.reserve", 12, "shop.inventory.tasks.reserve"),
        (Form.TASK, "billing.charge", 13, "billing.charge"),
    ]
    assert facts_of(source).tasks == [
        TaskDefinition("charge", "billing.charge"),
        TaskDefinition("refund", None),
    ]


def test_orm_writes_through_managers_and_typed_instances() -> None:
    source = """
        from shop.orders.models import Order, Line
        from shop.billing import models as billing

        def place(order: Order, form):
            Order.objects.create(total=1)
            Order.objects.filter(pk=1).update(total=2)
            billing.Invoice._default_manager.bulk_create([])
            order.save(update_fields=["total"])
            line = Line(order=order)
            line.save()
            found = Line.objects.get(pk=1)
            found.delete()
            form.save()
            Order.objects.filter(pk=1).count()
        """
    assert refs(source, Kind.ORM_WRITE) == [
        (Form.NAME, "Order", 6, "create"),
        (Form.NAME, "Order", 7, "update"),
        (Form.NAME, "billing.Invoice", 8, "bulk_create"),
        (Form.NAME, "Order", 9, "instance.save"),
        (Form.NAME, "Line", 11, "instance.save"),
        (Form.NAME, "Line", 13, "instance.delete"),
    ]


def test_definitions_app_configs_and_settings() -> None:
    facts = facts_of(
        """
        from django.apps import AppConfig

        INSTALLED_APPS = ["django.contrib.auth", "shop.orders"]
        INSTALLED_APPS += ["shop.billing.apps.BillingConfig"]
        ROOT_URLCONF = "config.urls"
        AUTH_USER_MODEL = "accounts.User"

        class BillingConfig(AppConfig):
            name = "shop.billing"
            label = "billing"

            def ready(self):
                name = "not a setting"

        def helper(): ...
        """
    )
    assert facts.settings == {
        "INSTALLED_APPS": ["django.contrib.auth", "shop.orders", "shop.billing.apps.BillingConfig"],
        "ROOT_URLCONF": "config.urls",
        "AUTH_USER_MODEL": "accounts.User",
    }
    assert facts.app_configs == [("shop.billing", "billing")]
    assert facts.classes == ["BillingConfig"]
    assert facts.functions == ["helper"]


def test_python_312_syntax_parses() -> None:
    facts = facts_of(
        """
        from shop.orders.models import Order
        type Orders = list[Order]

        def first[T](items: list[T]) -> T:
            return items[0]

        class Box[T]:
            def put(self, item: T) -> None: ...
        """
    )
    assert facts.functions == ["first"]
    assert facts.classes == ["Box"]
    assert Reference(Kind.IMPORT, Form.PATH, "shop.orders.models.Order", 2) in facts.references
