"""Writes of accounts, clinics, memberships and invitations.

Every change appends an audit entry, and a change a patient's other services must know about
writes its event to the outbox, both in the transaction of the change.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from identity.accounts.codes import code_hash, code_issue, code_normalise
from identity.accounts.errors import (
    AccountConflict,
    EmailTaken,
    InvitationGone,
    InvitationInvalid,
    RoleNotAllowed,
)
from identity.accounts.models import (
    Clinic,
    Invitation,
    Membership,
    MembershipRole,
    Sex,
    User,
    normalise_email,
)
from identity.accounts.passwords import password_resets_revoke, password_validate
from identity.accounts.selectors import patient_clinic_id, user_standing
from identity.accounts.validators import normalise_locale, validate_locale, validate_timezone
from identity.authn import lockout
from identity.authn.errors import TooManyAttempts
from identity.authn.services import TokenPair, refresh_tokens_revoke_for_user, token_pair_issue
from shared.audit.services import audit_record
from shared.auth.principal import Role
from shared.events.catalogue import utc_isoformat
from shared.outbox.services import event_publish

logger = logging.getLogger(__name__)

EVENT_ENROLLED = "identity.patient.enrolled"
EVENT_UPDATED = "identity.patient.updated"
EVENT_DEACTIVATED = "identity.patient.deactivated"
EVENT_REACTIVATED = "identity.patient.reactivated"
EVENT_ERASED = "identity.patient.erased"

# The profile fields other services keep a copy of (reminders: timezone, locale; outcomes:
# sex and birth year for cohorts). A change of any of them is announced.
PATIENT_EVENT_FIELDS = ("timezone", "locale", "sex", "birth_year")
# What a user's profile update may touch at all; the API narrows it further per caller.
UPDATABLE_FIELDS = frozenset({"full_name", "timezone", "locale", "sex", "birth_year", "is_staff"})

# Who may invite whom: a role of the inviter that allows inviting to each role.
INVITERS: dict[str, frozenset[str]] = {
    MembershipRole.PATIENT: frozenset({Role.CLINICIAN}),
    MembershipRole.CLINICIAN: frozenset({Role.CLINIC_ADMIN, Role.SYSTEM_ADMIN}),
    MembershipRole.CLINIC_ADMIN: frozenset({Role.CLINIC_ADMIN, Role.SYSTEM_ADMIN}),
}


def _field_errors(field: str, exc: DjangoValidationError) -> ValidationError:
    return ValidationError({field: list(exc.messages)})


def _check_timezone(value: str, field: str = "timezone") -> None:
    try:
        validate_timezone(value)
    except DjangoValidationError as exc:
        raise _field_errors(field, exc) from None


def _check_locale(value: str) -> None:
    try:
        validate_locale(value)
    except DjangoValidationError as exc:
        raise _field_errors("locale", exc) from None


def _check_birth_year(value: int | None) -> None:
    if value is not None and not 1900 <= value <= timezone.now().year:
        raise ValidationError({"birth_year": ["Enter a year between 1900 and this year."]})


def _save_new_user(user: User) -> None:
    if User.objects.filter(email=user.email).exists():
        raise EmailTaken
    try:
        with transaction.atomic():
            user.save(force_insert=True)
    except IntegrityError:
        # Two sign-ups with one address at once: the constraint lets only one through.
        raise EmailTaken from None


def _patient_data(user: User, clinic_id: uuid.UUID | None) -> dict[str, Any]:
    return {
        "patient_id": str(user.id),
        "clinic_id": str(clinic_id) if clinic_id else None,
        "timezone": user.timezone,
        "locale": user.locale,
        "sex": user.sex,
        "birth_year": user.birth_year,
    }


# --- Clinics ----------------------------------------------------------------------------------


@transaction.atomic
def clinic_create(*, actor_id: uuid.UUID | None, name: str, timezone_name: str) -> Clinic:
    _check_timezone(timezone_name)
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["A clinic needs a name."]})
    if Clinic.objects.filter(name__iexact=name).exists():
        raise AccountConflict("A clinic with this name exists already.")
    clinic = Clinic.objects.create(name=name, timezone=timezone_name)
    audit_record(
        actor_id=actor_id,
        action="clinic.create",
        target_type="clinic",
        target_id=clinic.id,
        changed_fields=("name", "timezone"),
    )
    return clinic


@transaction.atomic
def clinic_update(
    *, actor_id: uuid.UUID | None, clinic: Clinic, changes: Mapping[str, Any]
) -> Clinic:
    unknown = set(changes) - {"name", "timezone"}
    if unknown:
        raise ValueError(f"clinic fields that cannot be changed: {sorted(unknown)}")
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
    changed = [field for field, value in changes.items() if getattr(clinic, field) != value]
    if not changed:
        return clinic
    for field in changed:
        setattr(clinic, field, changes[field])
    clinic.save(update_fields=changed)
    audit_record(
        actor_id=actor_id,
        action="clinic.update",
        target_type="clinic",
        target_id=clinic.id,
        changed_fields=changed,
    )
    return clinic


# --- Users and memberships --------------------------------------------------------------------


@transaction.atomic
def user_create(
    *,
    actor_id: uuid.UUID | None,
    email: str,
    password: str | None,
    full_name: str = "",
    timezone_name: str = "UTC",
    locale: str = "en",
    sex: str = Sex.UNKNOWN,
    birth_year: int | None = None,
    is_system_admin: bool = False,
) -> User:
    """A user without a clinic role (see membership_grant). No password: cannot sign in yet."""
    _check_timezone(timezone_name)
    _check_locale(locale)
    _check_birth_year(birth_year)
    user = User(
        email=normalise_email(email),
        full_name=full_name.strip(),
        timezone=timezone_name,
        locale=normalise_locale(locale),
        sex=sex,
        birth_year=birth_year,
        is_superuser=is_system_admin,
        is_staff=is_system_admin,
    )
    if password:
        password_validate(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    _save_new_user(user)
    audit_record(
        actor_id=actor_id,
        action="user.create",
        target_type="user",
        target_id=user.id,
        changed_fields=("email", "full_name", "timezone", "locale", "is_superuser"),
    )
    return user


@transaction.atomic
def membership_grant(
    *, actor_id: uuid.UUID | None, user: User, clinic: Clinic, role: str
) -> Membership:
    """Give ``user`` a role in ``clinic``. All of a user's roles are in one clinic."""
    if role not in MembershipRole.values:
        raise ValidationError({"role": [f"{role!r} is not a clinic role."]})
    # Serialises grants to one user, so two grants in different clinics cannot both pass.
    locked = User.objects.select_for_update().get(pk=user.pk)
    if not locked.is_active:
        # Deactivation is final: a role would announce an enrolment nobody can use.
        raise AccountConflict("This account has been deactivated.")
    if locked.memberships.exclude(clinic=clinic).exists():
        raise AccountConflict("This user already belongs to another clinic.")
    membership, created = Membership.objects.get_or_create(user=locked, clinic=clinic, role=role)
    if not created:
        return membership
    audit_record(
        actor_id=actor_id,
        action="membership.grant",
        target_type="membership",
        target_id=membership.id,
        subject_patient_id=locked.id if role == MembershipRole.PATIENT else None,
        changed_fields=("role", "clinic"),
    )
    if role == MembershipRole.PATIENT:
        event_publish(
            type=EVENT_ENROLLED,
            subject=locked.id,
            data={
                **_patient_data(locked, clinic.id),
                "enrolled_at": membership.created_at.isoformat().replace("+00:00", "Z"),
            },
        )
    return membership


@transaction.atomic
def user_update(*, actor_id: uuid.UUID | None, user: User, changes: Mapping[str, Any]) -> User:
    """Change profile fields; a patient's change of a shared field is announced."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"user fields that cannot be changed here: {sorted(unknown)}")
    changes = dict(changes)
    if "timezone" in changes:
        _check_timezone(changes["timezone"])
    if "locale" in changes:
        _check_locale(changes["locale"])
        changes["locale"] = normalise_locale(changes["locale"])
    if "birth_year" in changes:
        _check_birth_year(changes["birth_year"])
    if "sex" in changes and changes["sex"] not in Sex.values:
        raise ValidationError({"sex": [f"{changes['sex']!r} is not one of {Sex.values}."]})
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.is_erased:
        raise AccountConflict("This account has been erased.")
    changed = sorted(field for field, value in changes.items() if getattr(locked, field) != value)
    if not changed:
        return locked
    for field in changed:
        setattr(locked, field, changes[field])
    locked.save(update_fields=[*changed, "updated_at"])
    clinic_id = patient_clinic_id(locked)
    audit_record(
        actor_id=actor_id,
        action="user.update",
        target_type="user",
        target_id=locked.id,
        subject_patient_id=locked.id if clinic_id else None,
        changed_fields=changed,
    )
    announced = [field for field in changed if field in PATIENT_EVENT_FIELDS]
    if clinic_id and announced:
        event_publish(
            type=EVENT_UPDATED,
            subject=locked.id,
            data={**_patient_data(locked, clinic_id), "changed": announced},
        )
    return locked


@transaction.atomic
def user_deactivate(*, actor_id: uuid.UUID | None, user: User) -> User:
    """The user cannot sign in or refresh any more; access tokens at identity stop at once. A
    patient's deactivation is announced, so reminders stops prompting them."""
    if actor_id is not None and user.pk == actor_id:
        raise AccountConflict("You cannot deactivate your own account.")
    locked = User.objects.select_for_update().get(pk=user.pk)
    if not locked.is_active:
        return locked
    locked.is_active = False
    locked.save(update_fields=["is_active", "updated_at"])
    refresh_tokens_revoke_for_user(user=locked)
    password_resets_revoke(user=locked, now=locked.updated_at)
    _standing_recorded(actor_id, locked, "user.deactivate", EVENT_DEACTIVATED, "deactivated_at")
    return locked


def _standing_recorded(
    actor_id: uuid.UUID | None, user: User, action: str, event_type: str, at_field: str
) -> None:
    """The audit entry of an account deactivated or reactivated, and for a patient the event
    that tells reminders when (``at_field``: the time of the change)."""
    clinic_id = patient_clinic_id(user)
    audit_record(
        actor_id=actor_id,
        action=action,
        target_type="user",
        target_id=user.id,
        subject_patient_id=user.id if clinic_id else None,
        changed_fields=("is_active",),
    )
    if clinic_id:
        event_publish(
            type=event_type,
            subject=user.id,
            data={
                "patient_id": str(user.id),
                "clinic_id": str(clinic_id),
                at_field: utc_isoformat(user.updated_at),
            },
        )


@transaction.atomic
def user_reactivate(*, actor_id: uuid.UUID | None, user: User) -> User:
    """The user may sign in again, with the password they had (their sign-ins ended at the
    deactivation). A patient's reactivation is announced, so reminders plans the prompts still
    to come again. An erased account never comes back."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.is_erased:
        raise AccountConflict("An erased account cannot be reactivated.")
    if locked.is_active:
        return locked
    locked.is_active = True
    locked.save(update_fields=["is_active", "updated_at"])
    _standing_recorded(actor_id, locked, "user.reactivate", EVENT_REACTIVATED, "reactivated_at")
    return locked


def erased_email(user_id: uuid.UUID) -> str:
    return f"erased-{user_id.hex}@erased.invalid"


@transaction.atomic
def patient_erase(*, actor_id: uuid.UUID | None, patient: User) -> User:
    """Scrub a patient's personal data. Memberships stay (clinic counts); the id stays so other
    services can act on the erased event."""
    locked = User.objects.select_for_update().get(pk=patient.pk)
    standing = user_standing(locked)
    if set(standing.roles) != {Role.PATIENT}:
        raise AccountConflict("Only a patient account (with no staff role) can be erased.")
    if locked.is_erased:
        return locked
    clinic_id = standing.clinic_id
    now = timezone.now()
    locked.email = erased_email(locked.id)
    locked.full_name = ""
    locked.sex = Sex.UNKNOWN
    locked.birth_year = None
    locked.is_active = False
    locked.erased_at = now
    locked.set_unusable_password()
    locked.save()
    refresh_tokens_revoke_for_user(user=locked)
    password_resets_revoke(user=locked, now=now)
    # The invitation that brought the patient in holds their address and name too.
    Invitation.objects.filter(accepted_user=locked).update(
        email=locked.email, full_name="", sex=Sex.UNKNOWN, birth_year=None
    )
    audit_record(
        actor_id=actor_id,
        action="user.erase",
        target_type="user",
        target_id=locked.id,
        subject_patient_id=locked.id,
        changed_fields=("email", "full_name", "sex", "birth_year", "password", "is_active"),
    )
    event_publish(
        type=EVENT_ERASED,
        subject=locked.id,
        data={"patient_id": str(locked.id), "clinic_id": str(clinic_id) if clinic_id else None},
    )
    logger.info("patient erased", extra={"patient_id": str(locked.id)})
    return locked


# --- Invitations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    code: str  # shown once; only its hash is stored


@transaction.atomic
def invitation_create(
    *,
    actor_id: uuid.UUID,
    actor_roles: frozenset[str],
    clinic: Clinic,
    email: str,
    role: str = MembershipRole.PATIENT,
    full_name: str = "",
    sex: str = Sex.UNKNOWN,
    birth_year: int | None = None,
) -> IssuedInvitation:
    if role not in INVITERS:
        raise ValidationError({"role": [f"{role!r} is not a clinic role."]})
    if not actor_roles & INVITERS[role]:
        raise RoleNotAllowed(f"Your role may not invite a {role.replace('_', ' ')}.")
    _check_birth_year(birth_year)
    email = normalise_email(email)
    if User.objects.filter(email=email).exists():
        raise EmailTaken
    now = timezone.now()
    # A new invitation replaces an open one to the same person: only the latest code works.
    Invitation.objects.filter(
        clinic=clinic, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    code, hashed = code_issue()
    invitation = Invitation.objects.create(
        clinic=clinic,
        role=role,
        email=email,
        full_name=full_name.strip(),
        sex=sex,
        birth_year=birth_year,
        code_hash=hashed,
        created_by_id=actor_id,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.INVITATION_SECONDS),
    )
    audit_record(
        actor_id=actor_id,
        action="invitation.create",
        target_type="invitation",
        target_id=invitation.id,
        changed_fields=("email", "role", "full_name", "sex", "birth_year"),
    )
    return IssuedInvitation(invitation=invitation, code=code)


@transaction.atomic
def invitation_revoke(*, actor_id: uuid.UUID | None, invitation: Invitation) -> Invitation:
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.accepted_at is not None:
        raise AccountConflict("This invitation has been accepted already.")
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            actor_id=actor_id,
            action="invitation.revoke",
            target_type="invitation",
            target_id=locked.id,
            changed_fields=("revoked_at",),
        )
    return locked


def _invitation_failure(client_address: str) -> None:
    if lockout.code_failure_record(address=client_address):
        logger.warning("invitation attempts locked for an address")


@transaction.atomic
def invitation_accept(
    *,
    code: str,
    password: str,
    timezone_name: str,
    locale: str | None = None,
    client_address: str,
) -> User:
    """Create the invited person's account and role. Single use: the invitation row is locked,
    so of two accepts at once the second sees it accepted and creates nothing."""
    wait = lockout.code_retry_after(address=client_address)
    if wait:
        raise TooManyAttempts("Too many invalid invitation codes; try again later.", wait=wait)
    normalised = code_normalise(code)
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("clinic")
        .filter(code_hash=code_hash(normalised))
        .first()
        if normalised
        else None
    )
    if invitation is None:
        _invitation_failure(client_address)
        raise InvitationInvalid
    now = timezone.now()
    state = invitation.state_at(now)
    if state != "pending":
        _invitation_failure(client_address)
        raise InvitationGone(state)
    _check_timezone(timezone_name)
    if locale is not None:
        _check_locale(locale)
    user = User(
        email=invitation.email,
        full_name=invitation.full_name,
        timezone=timezone_name,
        locale=normalise_locale(locale) if locale else "en",
        sex=invitation.sex,
        birth_year=invitation.birth_year,
    )
    password_validate(password, user)
    user.set_password(password)
    _save_new_user(user)
    invitation.accepted_at = now
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user"])
    audit_record(
        actor_id=user.id,
        action="invitation.accept",
        target_type="invitation",
        target_id=invitation.id,
        subject_patient_id=user.id if invitation.role == MembershipRole.PATIENT else None,
        changed_fields=("accepted_at",),
    )
    membership_grant(actor_id=user.id, user=user, clinic=invitation.clinic, role=invitation.role)
    return user


@transaction.atomic
def invitation_accept_and_sign_in(
    *,
    code: str,
    password: str,
    timezone_name: str,
    locale: str | None = None,
    client_address: str,
) -> TokenPair:
    """Accept and hand out the first tokens; without a signing key nothing is accepted."""
    user = invitation_accept(
        code=code,
        password=password,
        timezone_name=timezone_name,
        locale=locale,
        client_address=client_address,
    )
    return token_pair_issue(user=user)
