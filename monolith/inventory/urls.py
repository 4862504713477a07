from django.urls import path

from monolith.inventory import apis

app_name = "inventory"
urlpatterns = [
    path("products/", apis.ProductListApi.as_view(), name="products"),
    path("products/<str:sku>/", apis.ProductDetailApi.as_view(), name="product"),
    path("products/<str:sku>/stock/", apis.StockAdjustApi.as_view(), name="stock"),
    path("reservations/", apis.ReservationListApi.as_view(), name="reservations"),
    path("reservations/<uuid:order_id>/", apis.ReservationDetailApi.as_view(), name="reservation"),
]
