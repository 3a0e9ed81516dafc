from django.urls import path

from identity.accounts import apis

urlpatterns = [
    path("me/", apis.MeApi.as_view(), name="me"),
    path("me/password/", apis.MePasswordApi.as_view(), name="me-password"),
    path("password-reset/", apis.PasswordResetRedeemApi.as_view(), name="password-reset"),
    path("invitations/", apis.InvitationListCreateApi.as_view(), name="invitations"),
    path("invitations/accept/", apis.InvitationAcceptApi.as_view(), name="invitations-accept"),
    path(
        "invitations/<uuid:invitation_id>/revoke/",
        apis.InvitationRevokeApi.as_view(),
        name="invitations-revoke",
    ),
    path("clinics/", apis.ClinicListCreateApi.as_view(), name="clinics"),
    path("clinics/<uuid:clinic_id>/", apis.ClinicDetailApi.as_view(), name="clinics-detail"),
    path(
        "clinics/<uuid:clinic_id>/invitations/",
        apis.ClinicStaffInvitationApi.as_view(),
        name="clinics-invitations",
    ),
    path("users/", apis.ClinicUserListApi.as_view(), name="users"),
    path("users/<uuid:user_id>/", apis.ClinicUserDetailApi.as_view(), name="users-detail"),
    path(
        "users/<uuid:user_id>/deactivate/",
        apis.ClinicUserDeactivateApi.as_view(),
        name="users-deactivate",
    ),
    path(
        "users/<uuid:user_id>/reactivate/",
        apis.ClinicUserReactivateApi.as_view(),
        name="users-reactivate",
    ),
    path(
        "users/<uuid:user_id>/password-reset/",
        apis.ClinicUserPasswordResetApi.as_view(),
        name="users-password-reset",
    ),
    path("patients/", apis.PatientListApi.as_view(), name="patients"),
    path("patients/<uuid:patient_id>/", apis.PatientDetailApi.as_view(), name="patients-detail"),
    path(
        "patients/<uuid:patient_id>/erase/", apis.PatientEraseApi.as_view(), name="patients-erase"
    ),
]
