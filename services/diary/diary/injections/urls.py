from django.urls import path

from diary.injections import apis

urlpatterns = [
    path("injections/", apis.InjectionListApi.as_view(), name="injections"),
    path(
        "injections/<uuid:injection_id>/",
        apis.InjectionDetailApi.as_view(),
        name="injections-detail",
    ),
    path(
        "injections/<uuid:injection_id>/verify/",
        apis.InjectionVerifyApi.as_view(),
        name="injections-verify",
    ),
    path(
        "patients/<uuid:patient_id>/injections/",
        apis.PatientInjectionListApi.as_view(),
        name="patients-injections",
    ),
]
