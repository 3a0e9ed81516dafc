"""URL patterns every service mounts: health checks, its OpenAPI schema and Swagger UI, admin."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# Browsers ask every host for /favicon.ico when a page (the admin, Swagger UI) names no icon: a
# small mark answers instead of a 404 in every browser console.
FAVICON_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect width="16" height="16" rx="3" fill="#1f5f8b"/>'
    '<path d="M3 9h3l1.5-4 2 7 1.5-3H13" fill="none" stroke="#fff" stroke-width="1.6"/>'
    "</svg>"
)


@require_safe
@cache_control(public=True, max_age=7 * 24 * 3600)
def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponse(FAVICON_SVG, content_type="image/svg+xml")


def service_urlpatterns(
    service: str, api: list[URLPattern | URLResolver]
) -> list[URLPattern | URLResolver]:
    prefix = f"api/{service}/v1/"
    return [
        path("", include("shared.health.urls")),
        path("favicon.ico", favicon, name="favicon"),
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
