from django.urls import include, path

from shared.urls import handler400, handler403, handler404, handler500, service_urlpatterns

api = [
    path("", include("reminders.schedules.urls")),
    path("", include("reminders.patients.urls")),
    path("", include("reminders.prompts.urls")),
]

urlpatterns = service_urlpatterns("reminders", api)

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
