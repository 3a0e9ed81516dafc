from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from identity.accounts import passwords, selectors, services
from identity.accounts.models import (
    STAFF_ROLE_CHOICES,
    Clinic,
    Invitation,
    MembershipRole,
    PasswordReset,
    Sex,
    User,
)
from identity.accounts.validators import validate_locale, validate_timezone
from identity.api import EmailAddressField, problems
from identity.authn.apis import TokenPairSerializer, token_response
from shared.api.serializers import StrictInputSerializer
from shared.audit.services import audit_record
from shared.auth.permissions import IsClinicAdmin, IsClinician, IsClinicStaff, IsSystemAdmin
from shared.auth.principal import TokenUser, caller
from shared.observability.client_ip import client_ip


def _timezone_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=64, validators=[validate_timezone], **kwargs)


def _locale_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(max_length=35, validators=[validate_locale], **kwargs)


def _clinic_of(user: TokenUser) -> uuid.UUID:
    # A staff role without a clinic claim sees nothing rather than everything.
    if user.clinic_id is None:
        raise Http404
    return user.clinic_id


class UserOutputSerializer(serializers.ModelSerializer[User]):
    roles = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "full_name",
            "timezone",
            "locale",
            "sex",
            "birth_year",
            "is_active",
            "roles",
            "date_joined",
        ]

    def get_roles(self, user: User) -> list[str]:
        memberships = getattr(user, "clinic_memberships", None)
        if memberships is None:
            memberships = list(user.memberships.all())
        return sorted({membership.role for membership in memberships})


class PatientOutputSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = [
            "id",
            "full_name",
            "email",
            "timezone",
            "locale",
            "sex",
            "birth_year",
            "is_active",
        ]


# --- The caller's own profile -----------------------------------------------------------------


class MeApi(APIView):
    """The caller's profile. A patient's change of time zone or language reaches the reminders."""

    class InputSerializer(StrictInputSerializer):
        timezone = _timezone_field(required=False, help_text="IANA zone, e.g. Europe/London.")
        locale = _locale_field(required=False, help_text="Language tag, e.g. en-GB.")

    class OutputSerializer(serializers.ModelSerializer[User]):
        roles = serializers.SerializerMethodField()
        clinic_id = serializers.SerializerMethodField()
        clinic_name = serializers.SerializerMethodField()
        clinic_timezone = serializers.SerializerMethodField(
            help_text="The clinic's IANA zone: staff pages show times in it."
        )

        class Meta:
            model = User
            fields = [
                "id",
                "email",
                "full_name",
                "timezone",
                "locale",
                "sex",
                "birth_year",
                "roles",
                "clinic_id",
                "clinic_name",
                "clinic_timezone",
            ]

        def get_roles(self, user: User) -> list[str]:
            return selectors.user_standing(user).roles

        def get_clinic_id(self, user: User) -> uuid.UUID | None:
            return selectors.user_standing(user).clinic_id

        def _clinic(self, user: User) -> Clinic | None:
            clinic_id = selectors.user_standing(user).clinic_id
            return Clinic.objects.filter(pk=clinic_id).first() if clinic_id else None

        def get_clinic_name(self, user: User) -> str | None:
            clinic = self._clinic(user)
            return clinic.name if clinic else None

        def get_clinic_timezone(self, user: User) -> str | None:
            clinic = self._clinic(user)
            return clinic.timezone if clinic else None

    def _me(self, request: Request) -> User:
        user = selectors.user_get_active(caller(request).id)
        if user is None:
            raise AuthenticationFailed("This account is not active.")
        return user

    @extend_schema(operation_id="me_read", responses={200: OutputSerializer, **problems(401)})
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(self._me(request)).data)

    @extend_schema(
        operation_id="me_update",
        request=InputSerializer,
        responses={200: OutputSerializer, **problems(400, 401)},
    )
    def patch(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(
            actor_id=caller(request).id,
            user=self._me(request),
            changes=serializer.validated_data,
        )
        return Response(self.OutputSerializer(user).data)


class MePasswordApi(APIView):
    """Change the caller's password. Every other sign-in of the account ends; this device gets
    new tokens. A wrong current password counts as a failed sign-in."""

    class InputSerializer(StrictInputSerializer):
        current_password = serializers.CharField(max_length=1024, trim_whitespace=False)
        new_password = serializers.CharField(max_length=1024, trim_whitespace=False)

    @extend_schema(
        operation_id="me_password_change",
        request=InputSerializer,
        responses={200: TokenPairSerializer, **problems(400, 401, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = selectors.user_get_active(caller(request).id)
        if user is None:
            raise AuthenticationFailed("This account is not active.")
        pair = passwords.password_change(
            user=user,
            current_password=serializer.validated_data["current_password"],
            new_password=serializer.validated_data["new_password"],
            client_address=client_ip(request),
        )
        return token_response(pair)


# --- Invitations ------------------------------------------------------------------------------


class InvitationOutputSerializer(serializers.ModelSerializer[Invitation]):
    state = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = [
            "id",
            "clinic",
            "role",
            "email",
            "full_name",
            "sex",
            "birth_year",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
            "state",
        ]

    def get_state(self, invitation: Invitation) -> str:
        return invitation.state_at(timezone.now())


class IssuedInvitationSerializer(InvitationOutputSerializer):
    code = serializers.SerializerMethodField(
        help_text="The one-time code for the invited person. It is shown only in this response."
    )

    class Meta(InvitationOutputSerializer.Meta):
        fields = [*InvitationOutputSerializer.Meta.fields, "code"]

    def get_code(self, invitation: Invitation) -> str:
        return str(self.context["code"])


class InvitationInputSerializer(StrictInputSerializer):
    email = EmailAddressField(max_length=254)
    role = serializers.ChoiceField(
        choices=MembershipRole.choices,
        default=MembershipRole.PATIENT,
        help_text="patient (invited by clinicians), clinician or clinic_admin (by clinic admins).",
    )
    full_name = serializers.CharField(max_length=200, required=False, default="")
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, default=Sex.UNKNOWN)
    birth_year = serializers.IntegerField(
        min_value=1900, max_value=2100, required=False, allow_null=True, default=None
    )


def _issued_response(issued: services.IssuedInvitation) -> Response:
    data = IssuedInvitationSerializer(issued.invitation, context={"code": issued.code}).data
    response = Response(data, status=status.HTTP_201_CREATED)
    response["Cache-Control"] = "no-store"
    return response


class InvitationListCreateApi(GenericAPIView[Invitation]):
    """Invitations of the caller's clinic. The clinic is the caller's; the code is returned
    once, in the answer to the POST."""

    permission_classes = [IsClinicStaff]
    serializer_class = InvitationOutputSerializer

    def get_queryset(self) -> Any:
        user = caller(self.request)
        pending = self.request.query_params.get("state") == "pending"
        return selectors.clinic_invitations(
            clinic_id=_clinic_of(user), roles=user.roles, pending_only=pending
        )

    @extend_schema(
        operation_id="invitations_list",
        parameters=[OpenApiParameter("state", str, enum=["pending"], required=False)],
        responses={200: InvitationOutputSerializer(many=True), **problems(401, 403)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(InvitationOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="invitations_create",
        request=InvitationInputSerializer,
        responses={201: IssuedInvitationSerializer, **problems(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        user = caller(request)
        serializer = InvitationInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        clinic = selectors.clinic_get(_clinic_of(user))
        issued = services.invitation_create(
            actor_id=user.id, actor_roles=user.roles, clinic=clinic, **serializer.validated_data
        )
        return _issued_response(issued)


class InvitationRevokeApi(APIView):
    permission_classes = [IsClinicStaff]

    @extend_schema(
        operation_id="invitations_revoke",
        request=None,
        responses={200: InvitationOutputSerializer, **problems(401, 403, 404, 409)},
    )
    def post(self, request: Request, invitation_id: uuid.UUID) -> Response:
        user = caller(request)
        invitation = selectors.clinic_invitation_get(
            clinic_id=_clinic_of(user), roles=user.roles, invitation_id=invitation_id
        )
        invitation = services.invitation_revoke(actor_id=user.id, invitation=invitation)
        return Response(InvitationOutputSerializer(invitation).data)


class InvitationAcceptApi(APIView):
    """Accept an invitation with its code: creates the account and signs it in."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    class InputSerializer(StrictInputSerializer):
        code = serializers.CharField(max_length=64, help_text="As given, e.g. 7KQ3-M9XD-2HPT-WB4R.")
        password = serializers.CharField(max_length=1024, trim_whitespace=False)
        timezone = _timezone_field(help_text="IANA zone of the phone, e.g. Europe/London.")
        locale = _locale_field(required=False)

    @extend_schema(
        operation_id="invitations_accept",
        request=InputSerializer,
        responses={201: TokenPairSerializer, **problems(400, 409, 410, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        pair = services.invitation_accept_and_sign_in(
            code=data["code"],
            password=data["password"],
            timezone_name=data["timezone"],
            locale=data.get("locale"),
            client_address=client_ip(request),
        )
        return token_response(pair, status.HTTP_201_CREATED)


# --- Clinics (system administrators) ----------------------------------------------------------


class ClinicSerializer(serializers.ModelSerializer[Clinic]):
    class Meta:
        model = Clinic
        fields = ["id", "name", "timezone", "created_at"]


class ClinicListCreateApi(GenericAPIView[Clinic]):
    permission_classes = [IsSystemAdmin]
    serializer_class = ClinicSerializer

    class InputSerializer(StrictInputSerializer):
        name = serializers.CharField(max_length=200)
        timezone = _timezone_field()

    def get_queryset(self) -> Any:
        return selectors.clinic_list()

    @extend_schema(
        operation_id="clinics_list",
        responses={200: ClinicSerializer(many=True), **problems(401, 403)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ClinicSerializer(page, many=True).data)

    @extend_schema(
        operation_id="clinics_create",
        request=InputSerializer,
        responses={201: ClinicSerializer, **problems(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        clinic = services.clinic_create(
            actor_id=caller(request).id,
            name=serializer.validated_data["name"],
            timezone_name=serializer.validated_data["timezone"],
        )
        return Response(ClinicSerializer(clinic).data, status=status.HTTP_201_CREATED)


class ClinicDetailApi(APIView):
    permission_classes = [IsSystemAdmin]

    @extend_schema(
        operation_id="clinics_read", responses={200: ClinicSerializer, **problems(401, 403, 404)}
    )
    def get(self, request: Request, clinic_id: uuid.UUID) -> Response:
        return Response(ClinicSerializer(selectors.clinic_get(clinic_id)).data)


class ClinicStaffInvitationApi(APIView):
    """A system administrator invites the first clinic administrators (or clinicians)."""

    permission_classes = [IsSystemAdmin]

    class InputSerializer(InvitationInputSerializer):
        role = serializers.ChoiceField(
            choices=STAFF_ROLE_CHOICES, default=MembershipRole.CLINIC_ADMIN
        )

    @extend_schema(
        operation_id="clinics_invitations_create",
        request=InputSerializer,
        responses={201: IssuedInvitationSerializer, **problems(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, clinic_id: uuid.UUID) -> Response:
        user = caller(request)
        clinic = selectors.clinic_get(clinic_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        issued = services.invitation_create(
            actor_id=user.id, actor_roles=user.roles, clinic=clinic, **serializer.validated_data
        )
        return _issued_response(issued)


# --- Users of a clinic (clinic administrators) ------------------------------------------------


class ClinicUserListApi(GenericAPIView[User]):
    permission_classes = [IsClinicAdmin]
    serializer_class = UserOutputSerializer

    def get_queryset(self) -> Any:
        role = self.request.query_params.get("role")
        if role is not None and role not in MembershipRole.values:
            role = "none"  # an unknown role matches nobody
        return selectors.clinic_users(clinic_id=_clinic_of(caller(self.request)), role=role)

    @extend_schema(
        operation_id="users_list",
        parameters=[
            OpenApiParameter("role", str, enum=list(MembershipRole.values), required=False)
        ],
        responses={200: UserOutputSerializer(many=True), **problems(401, 403)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(UserOutputSerializer(page, many=True).data)


class ClinicUserDetailApi(APIView):
    permission_classes = [IsClinicAdmin]

    @extend_schema(
        operation_id="users_read", responses={200: UserOutputSerializer, **problems(401, 403, 404)}
    )
    def get(self, request: Request, user_id: uuid.UUID) -> Response:
        user = selectors.clinic_user_get(clinic_id=_clinic_of(caller(request)), user_id=user_id)
        return Response(UserOutputSerializer(user).data)


def _standing_changed(
    request: Request, user_id: uuid.UUID, change: Callable[..., object]
) -> Response:
    """Deactivate or reactivate someone of the caller's clinic, and answer them as they are."""
    actor = caller(request)
    user = selectors.clinic_user_get(clinic_id=_clinic_of(actor), user_id=user_id)
    change(actor_id=actor.id, user=user)
    user = selectors.clinic_user_get(clinic_id=_clinic_of(actor), user_id=user_id)
    return Response(UserOutputSerializer(user).data)


class ClinicUserDeactivateApi(APIView):
    """The user can no longer sign in; their sign-ins end. A patient is sent no more prompts."""

    permission_classes = [IsClinicAdmin]

    @extend_schema(
        operation_id="users_deactivate",
        request=None,
        responses={200: UserOutputSerializer, **problems(401, 403, 404, 409)},
    )
    def post(self, request: Request, user_id: uuid.UUID) -> Response:
        return _standing_changed(request, user_id, services.user_deactivate)


class ClinicUserReactivateApi(APIView):
    """The user may sign in again with their password; a patient is prompted again from their
    schedule (prompts whose answer window closed meanwhile are not sent)."""

    permission_classes = [IsClinicAdmin]

    @extend_schema(
        operation_id="users_reactivate",
        request=None,
        responses={200: UserOutputSerializer, **problems(401, 403, 404, 409)},
    )
    def post(self, request: Request, user_id: uuid.UUID) -> Response:
        return _standing_changed(request, user_id, services.user_reactivate)


class PasswordResetIssuedSerializer(serializers.ModelSerializer[PasswordReset]):
    code = serializers.SerializerMethodField(
        help_text="The one-time code to give the person. It is shown only in this response."
    )

    class Meta:
        model = PasswordReset
        fields = ["id", "user", "created_at", "expires_at", "code"]

    def get_code(self, reset: PasswordReset) -> str:
        return str(self.context["code"])


class ClinicUserPasswordResetApi(APIView):
    """Issue a one-time code with which a person of the clinic who forgot their password sets a
    new one (clinicians for patients; clinic admins for anyone of the clinic). A new code
    replaces an open one. The person's sign-ins go on until the code is used."""

    permission_classes = [IsClinicStaff]

    @extend_schema(
        operation_id="users_password_reset_create",
        request=None,
        responses={201: PasswordResetIssuedSerializer, **problems(401, 403, 404, 409)},
    )
    def post(self, request: Request, user_id: uuid.UUID) -> Response:
        actor = caller(request)
        user = selectors.clinic_user_get(clinic_id=_clinic_of(actor), user_id=user_id)
        issued = passwords.password_reset_create(
            actor_id=actor.id, actor_roles=actor.roles, user=user
        )
        data = PasswordResetIssuedSerializer(issued.reset, context={"code": issued.code}).data
        response = Response(data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class PasswordResetRedeemApi(APIView):
    """Set a new password with the code the clinic gave, and sign in. Every earlier sign-in of
    the account ends."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    class InputSerializer(StrictInputSerializer):
        code = serializers.CharField(max_length=64, help_text="As given, e.g. 7KQ3-M9XD-2HPT-WB4R.")
        password = serializers.CharField(max_length=1024, trim_whitespace=False)

    @extend_schema(
        operation_id="password_reset_redeem",
        request=InputSerializer,
        responses={200: TokenPairSerializer, **problems(400, 410, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = passwords.password_reset_redeem(
            code=serializer.validated_data["code"],
            password=serializer.validated_data["password"],
            client_address=client_ip(request),
        )
        return token_response(pair)


# --- Patients of a clinic ---------------------------------------------------------------------


class PatientListApi(GenericAPIView[User]):
    """The patients of the caller's clinic, for clinicians and the services acting for them."""

    permission_classes = [IsClinician]
    serializer_class = PatientOutputSerializer

    def get_queryset(self) -> Any:
        return selectors.clinic_patients(clinic_id=_clinic_of(caller(self.request)))

    @extend_schema(
        operation_id="patients_list",
        responses={200: PatientOutputSerializer(many=True), **problems(401, 403)},
    )
    def get(self, request: Request) -> Response:
        user = caller(request)
        page = self.paginate_queryset(self.get_queryset())
        audit_record(
            actor_id=user.id, action="patient.list", target_type="clinic", target_id=user.clinic_id
        )
        return self.get_paginated_response(PatientOutputSerializer(page, many=True).data)


class PatientDetailApi(APIView):
    """One patient of the clinician's clinic. A clinician corrects the details recorded at the
    invitation (name, sex, year of birth); the patient's own settings (time zone, language) are
    theirs to change (``me/``)."""

    permission_classes = [IsClinician]

    class InputSerializer(StrictInputSerializer):
        full_name = serializers.CharField(max_length=200, required=False, allow_blank=False)
        sex = serializers.ChoiceField(choices=Sex.choices, required=False)
        birth_year = serializers.IntegerField(
            min_value=1900, max_value=2100, required=False, allow_null=True
        )

    @extend_schema(
        operation_id="patients_read",
        responses={200: PatientOutputSerializer, **problems(401, 403, 404)},
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        user = caller(request)
        patient = selectors.clinic_patient_get(clinic_id=_clinic_of(user), patient_id=patient_id)
        audit_record(
            actor_id=user.id,
            action="patient.read",
            target_type="user",
            target_id=patient.id,
            subject_patient_id=patient.id,
        )
        return Response(PatientOutputSerializer(patient).data)

    @extend_schema(
        operation_id="patients_update",
        request=InputSerializer,
        responses={200: PatientOutputSerializer, **problems(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, patient_id: uuid.UUID) -> Response:
        user = caller(request)
        patient = selectors.clinic_patient_get(clinic_id=_clinic_of(user), patient_id=patient_id)
        serializer = self.InputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        patient = services.user_update(
            actor_id=user.id, user=patient, changes=serializer.validated_data
        )
        return Response(PatientOutputSerializer(patient).data)


class PatientEraseApi(APIView):
    """Erase a patient's personal data (the right to erasure). Irreversible."""

    permission_classes = [IsClinicAdmin]

    @extend_schema(
        operation_id="patients_erase",
        request=None,
        responses={204: None, **problems(401, 403, 404, 409)},
    )
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        actor = caller(request)
        patient = selectors.clinic_patient_get(clinic_id=_clinic_of(actor), patient_id=patient_id)
        services.patient_erase(actor_id=actor.id, patient=patient)
        return Response(status=status.HTTP_204_NO_CONTENT)
