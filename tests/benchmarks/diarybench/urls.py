from django.urls import path

from diary.urls import handler400, handler403, handler404, handler500
from diary.urls import urlpatterns as diary_urlpatterns
from diarybench.views import bare_entry

urlpatterns = [path("bench/bare-entry/", bare_entry), *diary_urlpatterns]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
