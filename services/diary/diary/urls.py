from django.urls import path

from diary.apis import WhoAmIApi
from shared.urls import handler400, handler403, handler404, handler500, service_urlpatterns

api = [
    path("whoami/", WhoAmIApi.as_view(), name="whoami"),
]

urlpatterns = service_urlpatterns("diary", api)

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
