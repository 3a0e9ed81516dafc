from django.urls import path

from diary.questionnaires import apis

urlpatterns = [
    path(
        "questionnaires/instruments/",
        apis.InstrumentListApi.as_view(),
        name="questionnaires-instruments",
    ),
    path("questionnaires/", apis.ResponseListApi.as_view(), name="questionnaires"),
    path(
        "questionnaires/<uuid:response_id>/",
        apis.ResponseDetailApi.as_view(),
        name="questionnaires-detail",
    ),
    path(
        "patients/<uuid:patient_id>/questionnaires/",
        apis.PatientResponseListApi.as_view(),
        name="patients-questionnaires",
    ),
]
