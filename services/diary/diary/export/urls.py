from django.urls import path

from diary.export import apis

urlpatterns = [
    path("internal/export/", apis.ExportApi.as_view(), name="internal-export"),
]
