from django.urls import path

from monolith.payments import apis

app_name = "payments"
urlpatterns = [
    path("charges/", apis.ChargeListApi.as_view(), name="charges"),
    path("charges/<uuid:charge_id>/", apis.ChargeDetailApi.as_view(), name="charge"),
    path("charges/<uuid:charge_id>/refunds/", apis.ChargeRefundApi.as_view(), name="refunds"),
]
