from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from servicekit.health import health_urls
from servicekit.metrics import metrics_urls

handler400 = "servicekit.errors.json_bad_request"
handler403 = "servicekit.errors.json_permission_denied"
handler404 = "servicekit.errors.json_not_found"
handler500 = "servicekit.errors.json_server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/payments/", include("extracted.payments.payments.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    *health_urls("payments"),
    *metrics_urls(),
]
