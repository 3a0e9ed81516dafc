from django.urls import include, path

from shared.urls import handler400, handler403, handler404, handler500, service_urlpatterns

api = [
    path("", include("outcomes.analytics.urls")),
    path("", include("outcomes.flags.urls")),
]

urlpatterns = [
    *service_urlpatterns("outcomes", api),
    path("dashboard/", include("outcomes.dashboard.urls")),
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
