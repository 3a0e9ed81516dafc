from django.urls import path

from outcomes.flags import apis

urlpatterns = [
    path("flags/", apis.FlagListApi.as_view(), name="flags"),
    path(
        "flags/<uuid:flag_id>/acknowledge/",
        apis.FlagAcknowledgeApi.as_view(),
        name="flags-acknowledge",
    ),
    path("flags/<uuid:flag_id>/resolve/", apis.FlagResolveApi.as_view(), name="flags-resolve"),
]
