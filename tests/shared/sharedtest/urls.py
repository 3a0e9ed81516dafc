from django.urls import path

from shared.urls import handler400, handler403, handler404, handler500, service_urlpatterns
from sharedtest import views

api = [
    path("echo/", views.EchoApi.as_view(), name="echo"),
    path("patients-only/", views.PatientOnlyApi.as_view(), name="patients-only"),
    path("scores/", views.ScoreListApi.as_view(), name="scores"),
    path("notes/", views.NoteCreateApi.as_view(), name="notes"),
    path("ping/", views.PingApi.as_view(), name="ping"),
]

urlpatterns = service_urlpatterns("sharedtest", api)

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
