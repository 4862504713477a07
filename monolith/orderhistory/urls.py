from django.urls import path

from monolith.orderhistory import apis

app_name = "orderhistory"
urlpatterns = [
    path("", apis.OrderHistoryListApi.as_view(), name="history"),
]
