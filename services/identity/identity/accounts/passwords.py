"""Writes of passwords: a person changes their own, or sets a new one with a one-time code their
clinic issued after they forgot it.

Either way every refresh token of the account is revoked in the same transaction, so every
phone and browser signed in before must sign in again (access tokens already handed out run out
within minutes), and the device that made the change gets a fresh pair. Reset codes have the
invitation codes' form and budget: a guess from an address counts against the same limit.
Neither a password nor a code is ever logged or kept: codes are stored as hashes.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from identity.accounts.codes import code_hash, code_issue, code_normalise
from identity.accounts.errors import (
    AccountConflict,
    PasswordResetGone,
    PasswordResetInvalid,
    RoleNotAllowed,
)
from identity.accounts.models import MembershipRole, PasswordReset, User
from identity.accounts.selectors import user_is_patient
from identity.authn import lockout
from identity.authn.errors import TooManyAttempts
from identity.authn.services import TokenPair, refresh_tokens_revoke_for_user, token_pair_issue
from shared.audit.services import audit_record
from shared.auth.principal import Role

logger = logging.getLogger(__name__)

# Who may issue a reset code to whom: for each role the person holds, the roles that may.
RESETTERS: dict[str, frozenset[str]] = {
    MembershipRole.PATIENT: frozenset({Role.CLINICIAN, Role.CLINIC_ADMIN, Role.SYSTEM_ADMIN}),
    MembershipRole.CLINICIAN: frozenset({Role.CLINIC_ADMIN, Role.SYSTEM_ADMIN}),
    MembershipRole.CLINIC_ADMIN: frozenset({Role.CLINIC_ADMIN, Role.SYSTEM_ADMIN}),
}


def password_validate(password: str, user: User, *, field: str = "password") -> None:
    """Django's password validators, as a 400 on ``field``."""
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationError({field: list(exc.messages)}) from None


def _subject(user: User) -> uuid.UUID | None:
    """The account as the audit trail's patient subject, when it is a patient's."""
    return user.id if user_is_patient(user) else None


def _password_replaced(user: User, password: str, *, client_address: str, action: str) -> TokenPair:
    """Store the new password (``user`` is locked), end every sign-in of the account, record
    it, and sign in the device that made the change."""
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    refresh_tokens_revoke_for_user(user=user)
    lockout.login_success_record(email=user.email, address=client_address)
    audit_record(
        actor_id=user.id,
        action=action,
        target_type="user",
        target_id=user.id,
        subject_patient_id=_subject(user),
        changed_fields=("password",),
    )
    return token_pair_issue(user=user)


# --- Changing one's own -----------------------------------------------------------------------


@transaction.atomic
def password_change(
    *, user: User, current_password: str, new_password: str, client_address: str
) -> TokenPair:
    """Replace the caller's password. A wrong current password counts as a failed sign-in, so
    a stolen access token cannot be used to guess the password."""
    wait = lockout.login_retry_after(email=user.email, address=client_address)
    if wait:
        raise TooManyAttempts("Too many failed attempts; try again later.", wait=wait)
    locked = User.objects.select_for_update().get(pk=user.pk)
    if not locked.check_password(current_password):
        if lockout.login_failure_record(email=locked.email, address=client_address):
            logger.warning(
                "password change locked after repeated failures",
                extra={"target_user_id": str(locked.id)},
            )
        raise ValidationError({"current_password": ["This is not your current password."]})
    if new_password == current_password:
        raise ValidationError({"new_password": ["Choose a password other than the current one."]})
    password_validate(new_password, locked, field="new_password")
    return _password_replaced(
        locked, new_password, client_address=client_address, action="user.password_change"
    )


# --- A code from the clinic ---------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedReset:
    reset: PasswordReset
    code: str  # shown once; only its hash is stored


def _may_reset(actor_roles: frozenset[str], roles: set[str]) -> bool:
    return bool(roles) and all(actor_roles & RESETTERS.get(role, frozenset()) for role in roles)


@transaction.atomic
def password_reset_create(
    *, actor_id: uuid.UUID, actor_roles: frozenset[str], user: User
) -> IssuedReset:
    """A one-time code for ``user`` (a person of the actor's clinic) to set a new password with.
    A new code replaces any open one; the account's sign-ins go on until the code is used."""
    if user.pk == actor_id:
        raise AccountConflict("Change your own password with your current one instead.")
    locked = User.objects.select_for_update().get(pk=user.pk)
    roles = set(locked.memberships.values_list("role", flat=True))
    if not _may_reset(actor_roles, roles):
        raise RoleNotAllowed("Your role may not reset this person's password.")
    if not locked.is_active or locked.is_erased:
        raise AccountConflict("This account is deactivated; it cannot be given a new password.")
    now = timezone.now()
    PasswordReset.objects.filter(user=locked, used_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=now
    )
    code, hashed = code_issue()
    reset = PasswordReset.objects.create(
        user=locked,
        code_hash=hashed,
        created_by_id=actor_id,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.PASSWORD_RESET_SECONDS),
    )
    audit_record(
        actor_id=actor_id,
        action="user.password_reset_issue",
        target_type="user",
        target_id=locked.id,
        subject_patient_id=_subject(locked),
    )
    return IssuedReset(reset=reset, code=code)


def password_resets_revoke(*, user: User, now: datetime) -> int:
    """Withdraw the account's open codes (it was deactivated or erased)."""
    return PasswordReset.objects.filter(
        user=user, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)


def _code_failure(client_address: str) -> None:
    if lockout.code_failure_record(address=client_address):
        logger.warning("code attempts locked for an address")


@transaction.atomic
def password_reset_redeem(*, code: str, password: str, client_address: str) -> TokenPair:
    """Set the new password with a code and sign in. Single use: the code's row is locked, so
    of two redemptions at once the second finds it used. A refused password leaves the code
    usable."""
    wait = lockout.code_retry_after(address=client_address)
    if wait:
        raise TooManyAttempts("Too many invalid codes; try again later.", wait=wait)
    normalised = code_normalise(code)
    reset = (
        PasswordReset.objects.select_for_update().filter(code_hash=code_hash(normalised)).first()
        if normalised
        else None
    )
    if reset is None:
        _code_failure(client_address)
        raise PasswordResetInvalid
    now = timezone.now()
    state = reset.state_at(now)
    if state != "pending":
        _code_failure(client_address)
        raise PasswordResetGone(state)
    user = User.objects.select_for_update().get(pk=reset.user_id)
    if not user.is_active or user.is_erased:
        _code_failure(client_address)
        raise PasswordResetGone("withdrawn")
    password_validate(password, user)
    reset.used_at = now
    reset.save(update_fields=["used_at"])
    return _password_replaced(
        user, password, client_address=client_address, action="user.password_reset"
    )
