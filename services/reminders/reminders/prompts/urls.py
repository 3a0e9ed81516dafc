from django.urls import path

from reminders.prompts import apis

urlpatterns = [
    path("prompts/open/", apis.OpenPromptListApi.as_view(), name="prompts-open"),
    path(
        "prompts/<uuid:prompt_id>/receipts/",
        apis.PromptReceiptApi.as_view(),
        name="prompts-receipts",
    ),
    path("patients/adherence/", apis.AdherenceListApi.as_view(), name="adherence"),
    path("patients/next-prompts/", apis.NextPromptListApi.as_view(), name="next-prompts"),
    path(
        "patients/<uuid:patient_id>/adherence/",
        apis.AdherenceDetailApi.as_view(),
        name="adherence-detail",
    ),
    path(
        "patients/<uuid:patient_id>/prompts/",
        apis.PatientTimelineApi.as_view(),
        name="patient-prompts",
    ),
    path(
        "channels/<slug:channel_name>/receipts/",
        apis.ChannelReceiptsApi.as_view(),
        name="channel-receipts",
    ),
]
