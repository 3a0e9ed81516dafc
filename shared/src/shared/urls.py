"""URL patterns every service mounts: health checks, its OpenAPI schema and Swagger UI, admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def service_urlpatterns(
    service: str, api: list[URLPattern | URLResolver]
) -> list[URLPattern | URLResolver]:
    prefix = f"api/{service}/v1/"
    return [
        path("", include("shared.health.urls")),
        path(prefix, include(api)),
        path(f"{prefix}schema/", SpectacularAPIView.as_view(), name="schema"),
        path(
            f"{prefix}docs/",
            SpectacularSwaggerView.as_view(url_name="schema"),
            name="swagger-ui",
        ),
        path(f"admin/{service}/", admin.site.urls),
    ]


handler400 = "shared.api.errors.handler400"
handler403 = "shared.api.errors.handler403"
handler404 = "shared.api.errors.handler404"
handler500 = "shared.api.errors.handler500"
