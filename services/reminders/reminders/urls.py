from shared.urls import handler400, handler403, handler404, handler500, service_urlpatterns

api: list = []

urlpatterns = service_urlpatterns("reminders", api)

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
