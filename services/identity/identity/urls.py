from django.urls import include, path

from shared.urls import handler400, handler403, handler404, handler500, service_urlpatterns

api = [
    path("", include("identity.authn.urls")),
    path("", include("identity.accounts.urls")),
]

urlpatterns = service_urlpatterns("identity", api)

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
