from django.urls import path

from diary.entries import apis

urlpatterns = [
    path("entries/", apis.EntryListApi.as_view(), name="entries"),
    path("entries/<uuid:entry_id>/", apis.EntryDetailApi.as_view(), name="entries-detail"),
    path(
        "patients/<uuid:patient_id>/entries/",
        apis.PatientEntryListApi.as_view(),
        name="patients-entries",
    ),
]
