from django.urls import path

from reminders.schedules import apis

urlpatterns = [
    path("templates/", apis.TemplateListApi.as_view(), name="templates"),
    path("templates/preview/", apis.TemplatePreviewApi.as_view(), name="templates-preview"),
    path(
        "templates/<uuid:template_id>/", apis.TemplateDetailApi.as_view(), name="templates-detail"
    ),
    path(
        "templates/<uuid:template_id>/preview/",
        apis.TemplateSavedPreviewApi.as_view(),
        name="templates-preview-saved",
    ),
]
