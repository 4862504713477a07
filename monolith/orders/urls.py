from django.urls import path

from monolith.orders import apis

app_name = "orders"
urlpatterns = [
    path("", apis.OrderListApi.as_view(), name="orders"),
    path("<uuid:order_id>/", apis.OrderDetailApi.as_view(), name="order"),
    path("<uuid:order_id>/cancel/", apis.OrderCancelApi.as_view(), name="cancel"),
]
