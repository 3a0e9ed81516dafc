from django.urls import path

from outcomes.dashboard import account, changes, clinic, views

app_name = "dashboard"

urlpatterns = [
    path("", views.patient_list, name="patients"),
    path("login/", account.SignInView.as_view(), name="login"),
    path("logout/", account.sign_out, name="logout"),
    path("join/", account.join, name="join"),
    path("password-reset/", account.password_reset, name="password-reset"),
    path("account/password/", account.account_password, name="account-password"),
    path("patients/invite/", changes.patient_invite, name="invite"),
    path(
        "invitations/<uuid:invitation_id>/withdraw/",
        changes.invitation_withdraw,
        name="invitation-withdraw",
    ),
    path("patients/<uuid:patient_id>/", views.patient_detail, name="patient"),
    path(
        "patients/<uuid:patient_id>/details/",
        changes.patient_details,
        name="patient-details",
    ),
    path(
        "patients/<uuid:patient_id>/injections/new/",
        changes.injection_new,
        name="injection-new",
    ),
    path("patients/<uuid:patient_id>/timeline/", views.patient_timeline, name="patient-timeline"),
    path("patients/<uuid:patient_id>/diary/", views.patient_diary, name="patient-diary"),
    path(
        "patients/<uuid:patient_id>/password-reset/",
        changes.patient_password_reset,
        name="patient-password-reset",
    ),
    path("injections/<uuid:injection_id>/", changes.injection_edit, name="injection-edit"),
    path(
        "injections/<uuid:injection_id>/delete/",
        changes.injection_remove,
        name="injection-delete",
    ),
    path(
        "injections/<uuid:injection_id>/verify/",
        changes.injection_verify,
        name="injection-verify",
    ),
    path("clinic/people/", clinic.people, name="people"),
    path("clinic/people/<uuid:user_id>/", clinic.person, name="person"),
    path(
        "clinic/people/<uuid:user_id>/password-reset/",
        clinic.person_password_reset,
        name="person-password-reset",
    ),
    path(
        "clinic/people/<uuid:user_id>/deactivate/",
        clinic.person_deactivate,
        name="person-deactivate",
    ),
    path(
        "clinic/people/<uuid:user_id>/reactivate/",
        clinic.person_reactivate,
        name="person-reactivate",
    ),
    path("clinic/people/<uuid:user_id>/erase/", clinic.person_erase, name="person-erase"),
    path("clinic/invite/", clinic.colleague_invite, name="colleague-invite"),
    path("flags/", views.flag_inbox, name="flags"),
    path("flags/<uuid:flag_id>/<slug:action>/", views.flag_action, name="flag-action"),
    path("cohort/", views.cohort, name="cohort"),
    path("cohort/exports/", views.export_create, name="export-create"),
    path("exports/<uuid:export_id>/", views.export_detail, name="export"),
    path("exports/<uuid:export_id>/status/", views.export_status, name="export-status"),
    path("exports/<uuid:export_id>/download/", views.export_download, name="export-download"),
]
