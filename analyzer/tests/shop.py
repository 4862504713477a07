"""A small multi-app Django project, written by tests, whose right answers are known."""

from __future__ import annotations

SHOP: dict[str, str] = {
    "manage.py": """
        import os
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
        """,
    "shop/__init__.py": "",
    "shop/settings.py": """
        INSTALLED_APPS = [
            "django.contrib.auth",
            "shop.catalog",
            "shop.orders.apps.OrdersConfig",
            "shop.billing",
            "shop.accounts",
            "shop.reports",
        ]
        ROOT_URLCONF = "shop.urls"
        AUTH_USER_MODEL = "accounts.User"
        """,
    "shop/urls.py": """
        from django.urls import include, path

        urlpatterns = [
            path("catalog/", include("shop.catalog.urls")),
            path("orders/", include("shop.orders.urls")),
        ]
        """,
    "shop/broken.py": """
        def half(:
            pass
        """,
    # catalog: its own models, reached by others only through public.py
    "shop/catalog/__init__.py": "",
    "shop/catalog/apps.py": """
        from django.apps import AppConfig

        class CatalogConfig(AppConfig):
            name = "shop.catalog"
        """,
    "shop/catalog/models.py": """
        from django.db import models

        class Category(models.Model):
            name = models.CharField(max_length=50)

        class Product(models.Model):
            category = models.ForeignKey("Category", on_delete=models.CASCADE)
            sku = models.CharField(max_length=20)
            price = models.DecimalField(max_digits=8, decimal_places=2)
        """,
    "shop/catalog/selectors.py": """
        from shop.catalog.models import Product

        def product_get(*, sku):
            return Product.objects.filter(sku=sku).first()

        def product_list():
            return Product.objects.all()
        """,
    "shop/catalog/services.py": """
        from shop.catalog.models import Category, Product
        from shop.orders.models import Line

        def product_create(*, sku, price, category):
            category = Category.objects.get(name=category)
            return Product.objects.create(sku=sku, price=price, category=category)

        def product_retire(*, sku):
            Line.objects.filter(product__sku=sku).delete()
        """,
    "shop/catalog/public.py": """
        from shop.catalog import selectors

        def price_get(*, sku):
            product = selectors.product_get(sku=sku)
            return None if product is None else product.price
        """,
    "shop/catalog/views.py": """
        from shop.catalog import selectors, services

        def product_list(request):
            return selectors.product_list()

        def product_create(request):
            return services.product_create(sku="x", price=1, category="c")
        """,
    "shop/catalog/admin.py": """
        from django.contrib import admin
        from shop.catalog.models import Category, Product

        admin.site.register([Category, Product])
        """,
    "shop/catalog/urls.py": """
        from django.urls import path
        from shop.catalog import views

        urlpatterns = [path("", views.product_list), path("new/", views.product_create)]
        """,
    # orders and billing: entangled through string relations, signals, writes and tasks
    "shop/orders/__init__.py": "",
    "shop/orders/apps.py": """
        from django.apps import AppConfig

        class OrdersConfig(AppConfig):
            name = "shop.orders"
            label = "orders"
        """,
    "shop/orders/models.py": """
        from django.conf import settings
        from django.db import models

        class Order(models.Model):
            customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
            invoice = models.OneToOneField("billing.Invoice", null=True, on_delete=models.SET_NULL)
            total = models.DecimalField(max_digits=8, decimal_places=2)

        class Line(models.Model):
            order = models.ForeignKey(Order, on_delete=models.CASCADE)
            product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT)
        """,
    "shop/orders/services.py": """
        from django.apps import apps
        from celery import current_app
        from shop.catalog import public as catalog
        from shop.orders.models import Line, Order

        def order_place(*, customer, skus):
            order = Order.objects.create(customer=customer, total=0)
            for sku in skus:
                order.total += catalog.price_get(sku=sku)
                Line.objects.create(order=order, product_id=sku)
            order.save()
            Invoice = apps.get_model("billing", "Invoice")
            Invoice.objects.create(order=order, amount=order.total)
            current_app.send_task("billing.charge", args=[order.pk])
            return order
        """,
    "shop/orders/serializers.py": """
        from rest_framework import serializers
        from shop.billing.models import Invoice

        class InvoiceSerializer(serializers.ModelSerializer):
            class Meta:
                model = Invoice
                fields = ["id", "amount"]
        """,
    "shop/orders/views.py": """
        from shop.orders import services
        from shop.orders.serializers import InvoiceSerializer

        def order_create(request):
            return InvoiceSerializer(services.order_place(customer=request.user, skus=[]))
        """,
    "shop/orders/urls.py": """
        from django.urls import path
        from shop.orders import views

        urlpatterns = [path("", views.order_create)]
        """,
    "shop/orders/tests/__init__.py": "",
    "shop/orders/tests/test_services.py": """
        from shop.accounts.models import User
        """,
    "shop/orders/migrations/__init__.py": "",
    "shop/orders/migrations/0001_initial.py": """
        from shop.accounts.models import User
        """,
    "shop/billing/__init__.py": "",
    "shop/billing/models.py": """
        from django.db import models

        class Invoice(models.Model):
            order = models.ForeignKey("orders.Order", on_delete=models.PROTECT)
            amount = models.DecimalField(max_digits=8, decimal_places=2)
            paid = models.BooleanField(default=False)
        """,
    "shop/billing/receivers.py": """
        from django.db.models.signals import post_save
        from django.dispatch import receiver
        from shop.orders.models import Order

        @receiver(post_save, sender="orders.Order")
        def order_saved(sender, instance, **kwargs):
            Order.objects.filter(pk=instance.pk).update(total=instance.total)
        """,
    "shop/billing/tasks.py": """
        from celery import shared_task
        from shop.billing.models import Invoice

        @shared_task(name="billing.charge")
        def charge(order_id):
            Invoice.objects.filter(order_id=order_id).update(paid=True)
        """,
    # accounts: the user model, referred to only through AUTH_USER_MODEL
    "shop/accounts/__init__.py": "",
    "shop/accounts/apps.py": """
        from django.apps import AppConfig

        class AccountsConfig(AppConfig):
            name = "shop.accounts"
        """,
    "shop/accounts/models.py": """
        from django.contrib.auth.models import AbstractUser

        class User(AbstractUser):
            pass
        """,
    "shop/accounts/services.py": """
        from shop.accounts.models import User

        def user_register(*, username):
            return User.objects.create(username=username)
        """,
    # reports: a read model fed by the events of orders and catalog (the contracts live outside)
    "shop/reports/__init__.py": "",
    "shop/reports/models.py": """
        from django.db import models

        class Sale(models.Model):
            sku = models.CharField(max_length=20)
            total = models.DecimalField(max_digits=8, decimal_places=2)
        """,
    "shop/reports/handlers.py": """
        from shop_contracts.events import catalog, orders
        from shop.reports.models import Sale

        @handles(orders.OrderPlaced)
        def on_order(event):
            Sale.objects.create(sku=event.sku, total=event.total)

        @handles(catalog.PriceChanged)
        def on_price(event): ...
        """,
}
