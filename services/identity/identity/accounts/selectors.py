"""Reads, already limited to what the caller may see. Out of scope reads as "not found"."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from identity.accounts.models import Clinic, Invitation, Membership, MembershipRole, User
from shared.auth.principal import Role


@dataclass(frozen=True)
class Standing:
    """The roles and the clinic a user's access token carries."""

    roles: list[str]
    clinic_id: uuid.UUID | None


def user_standing(user: User) -> Standing:
    memberships = list(user.memberships.order_by("created_at").values_list("role", "clinic_id"))
    roles = sorted({role for role, _ in memberships})
    if user.is_superuser:
        roles.append(Role.SYSTEM_ADMIN)
    return Standing(roles=roles, clinic_id=memberships[0][1] if memberships else None)


def user_is_patient(user: User) -> bool:
    return user.memberships.filter(role=MembershipRole.PATIENT).exists()


def patient_clinic_id(user: User) -> uuid.UUID | None:
    membership = user.memberships.filter(role=MembershipRole.PATIENT).first()
    return membership.clinic_id if membership else None


def user_get_active(user_id: uuid.UUID) -> User | None:
    return User.objects.filter(pk=user_id, is_active=True, erased_at__isnull=True).first()


def _with_clinic_memberships(queryset: QuerySet[User], clinic_id: uuid.UUID) -> QuerySet[User]:
    return queryset.prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.filter(clinic_id=clinic_id),
            to_attr="clinic_memberships",
        )
    )


def clinic_users(*, clinic_id: uuid.UUID, role: str | None = None) -> QuerySet[User]:
    """Users with a role in the clinic, erased ones left out (only their memberships remain)."""
    memberships = Membership.objects.filter(clinic_id=clinic_id)
    if role:
        memberships = memberships.filter(role=role)
    users = User.objects.filter(
        pk__in=memberships.values("user_id"), erased_at__isnull=True
    ).order_by("email")
    return _with_clinic_memberships(users, clinic_id)


def clinic_user_get(*, clinic_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = clinic_users(clinic_id=clinic_id).filter(pk=user_id).first()
    if user is None:
        raise Http404
    return user


def clinic_patients(*, clinic_id: uuid.UUID) -> QuerySet[User]:
    return clinic_users(clinic_id=clinic_id, role=MembershipRole.PATIENT)


def clinic_patient_get(*, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> User:
    patient = clinic_patients(clinic_id=clinic_id).filter(pk=patient_id).first()
    if patient is None:
        raise Http404
    return patient


def clinic_list() -> QuerySet[Clinic]:
    return Clinic.objects.order_by("name")


def clinic_get(clinic_id: uuid.UUID) -> Clinic:
    clinic = Clinic.objects.filter(pk=clinic_id).first()
    if clinic is None:
        raise Http404
    return clinic


def invitation_roles_visible(roles: frozenset[str]) -> set[str]:
    """Clinicians see the patient invitations of their clinic; administrators see staff ones."""
    visible: set[str] = set()
    if Role.CLINICIAN in roles:
        visible.add(MembershipRole.PATIENT)
    if Role.CLINIC_ADMIN in roles:
        visible.update({MembershipRole.CLINICIAN, MembershipRole.CLINIC_ADMIN})
    return visible


def clinic_invitations(
    *, clinic_id: uuid.UUID, roles: frozenset[str], pending_only: bool = False
) -> QuerySet[Invitation]:
    invitations = Invitation.objects.filter(
        clinic_id=clinic_id, role__in=invitation_roles_visible(roles)
    )
    if pending_only:
        invitations = invitations.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
    return invitations.order_by("-created_at")


def clinic_invitation_get(
    *, clinic_id: uuid.UUID, roles: frozenset[str], invitation_id: uuid.UUID
) -> Invitation:
    invitation = (
        clinic_invitations(clinic_id=clinic_id, roles=roles).filter(pk=invitation_id).first()
    )
    if invitation is None:
        raise Http404
    return invitation
