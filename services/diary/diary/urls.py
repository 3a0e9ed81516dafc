from django.urls import include, path

from diary.apis import WhoAmIApi
from shared.urls import handler400, handler403, handler404, handler500, service_urlpatterns

api = [
    path("whoami/", WhoAmIApi.as_view(), name="whoami"),
    path("", include("diary.entries.urls")),
    path("", include("diary.injections.urls")),
    path("", include("diary.questionnaires.urls")),
    path("", include("diary.sync.urls")),
    path("", include("diary.export.urls")),
]

urlpatterns = service_urlpatterns("diary", api)

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
