from django.urls import path

from diary.sync import apis

urlpatterns = [
    path("sync/", apis.SyncApi.as_view(), name="sync"),
]
