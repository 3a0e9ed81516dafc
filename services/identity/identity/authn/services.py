"""Sign-in, token refresh with rotation and reuse detection, sign-out."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from identity.accounts.models import User, normalise_email
from identity.accounts.selectors import user_standing
from identity.authn import lockout
from identity.authn.errors import InvalidCredentials, RefreshTokenRejected, TooManyAttempts
from identity.authn.keys import signing_key
from identity.authn.models import RefreshToken
from identity.authn.tokens import access_token_encode, refresh_token_hash, refresh_token_new
from shared.audit.services import audit_record

logger = logging.getLogger(__name__)

# Expired refresh tokens are kept this long (for the audit of a late reuse), then deleted.
PURGE_AFTER = timedelta(days=7)
# Rows deleted per statement by the purge: small enough not to hold locks for long.
PURGE_BATCH_SIZE = 1000


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int
    user_id: uuid.UUID


@transaction.atomic
def token_pair_issue(*, user: User, family: uuid.UUID | None = None) -> TokenPair:
    """An access token and a new refresh token; ``family`` continues a rotation chain."""
    key = signing_key()  # first: without a key nothing is written
    now = timezone.now()
    raw = refresh_token_new()
    RefreshToken.objects.create(
        family=family or uuid.uuid4(),
        user=user,
        token_hash=refresh_token_hash(raw),
        expires_at=now + timedelta(seconds=settings.REFRESH_TOKEN_SECONDS),
    )
    standing = user_standing(user)
    access = access_token_encode(
        key=key,
        user_id=user.id,
        email=user.email,
        roles=standing.roles,
        clinic_id=standing.clinic_id,
        issued_at=now,
    )
    return TokenPair(
        access=access, refresh=raw, expires_in=settings.ACCESS_TOKEN_SECONDS, user_id=user.id
    )


def _can_sign_in(user: User) -> bool:
    return user.is_active and not user.is_erased


def credentials_verify(*, email: str, password: str, client_address: str) -> User:
    """The user these credentials belong to, under the brute-force limits.

    Unknown address, wrong password and disabled account give the same error after the same
    amount of work (a password hash either way), so the answer tells nothing about accounts.
    """
    email = normalise_email(email)
    wait = lockout.login_retry_after(email=email, address=client_address)
    if wait:
        raise TooManyAttempts("Too many failed sign-ins; try again later.", wait=wait)
    user = User.objects.filter(email=email).first()
    if user is None:
        User().set_password(password)  # the cost of a check, for an address with no account
    valid = user is not None and user.check_password(password) and _can_sign_in(user)
    if user is None or not valid:
        if lockout.login_failure_record(email=email, address=client_address):
            logger.warning(
                "sign-in locked after repeated failures",
                extra={"target_user_id": str(user.id) if user else ""},
            )
            audit_record(
                actor_id=None,
                action="auth.lockout",
                target_type="user",
                target_id=user.id if user else None,
            )
        else:
            logger.info("sign-in failed", extra={"target_user_id": str(user.id) if user else ""})
        raise InvalidCredentials
    lockout.login_success_record(email=email, address=client_address)
    return user


@transaction.atomic
def login_record(*, user: User, channel: str) -> None:
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    audit_record(
        actor_id=user.id,
        action=f"auth.login.{channel}",
        target_type="user",
        target_id=user.id,
        changed_fields=("last_login",),
    )


def login(*, email: str, password: str, client_address: str) -> TokenPair:
    user = credentials_verify(email=email, password=password, client_address=client_address)
    with transaction.atomic():
        login_record(user=user, channel="api")
        return token_pair_issue(user=user)


def _family_revoke(*, family: uuid.UUID) -> int:
    # Lock the family's rows in one order first: two revocations of one family at once (the
    # losers of a refresh race) then queue instead of deadlocking.
    ids = list(
        RefreshToken.objects.select_for_update()
        .filter(family=family, revoked_at__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    return RefreshToken.objects.filter(id__in=ids).update(revoked_at=timezone.now())


@transaction.atomic
def refresh_family_revoke(*, family: uuid.UUID, actor_id: uuid.UUID | None, action: str) -> int:
    revoked = _family_revoke(family=family)
    audit_record(
        actor_id=actor_id,
        action=action,
        target_type="refresh_family",
        target_id=family,
        changed_fields=("revoked_at",) if revoked else (),
    )
    return revoked


def refresh_tokens_revoke_for_user(*, user: User) -> int:
    """Every live refresh token of the user (deactivation, erasure)."""
    return RefreshToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def _user_tokens_lock(*, user_id: uuid.UUID) -> None:
    """Queue behind any other rotation or revocation of this user's refresh tokens.

    Without it, a losing conditional UPDATE keeps the row lock PostgreSQL took to re-check the
    token, then waits for the family's other rows while another loser holding those waits for
    it: a deadlock. It also makes a revocation see the token a concurrent rotation just issued.
    NO KEY UPDATE leaves logins, which insert tokens referencing the user, free to proceed.
    """
    list(User.objects.select_for_update(no_key=True).filter(pk=user_id).values_list("pk"))


@transaction.atomic
def _refresh_rotate(*, refresh: str) -> TokenPair | None:
    """The rotation, in one transaction that commits whatever the outcome: a revocation after a
    reuse must stick even though the caller is answered 401."""
    found = (
        RefreshToken.objects.filter(token_hash=refresh_token_hash(refresh))
        .values_list("id", "user_id")
        .first()
    )
    if found is None:
        return None
    token_id, user_id = found
    _user_tokens_lock(user_id=user_id)
    token = RefreshToken.objects.select_related("user").get(pk=token_id)
    if token.revoked_at is not None:
        return None
    if token.used_at is not None:
        _revoke_after_reuse(token=token)
        return None
    now = timezone.now()
    if token.expires_at <= now:
        return None
    if not _can_sign_in(token.user):
        refresh_family_revoke(
            family=token.family,
            actor_id=None,
            action="auth.refresh_inactive_revoke",
        )
        return None
    # Under the user lock this always spends; the condition still guarantees that a token is
    # never spent twice, whatever the database does with the lock (SQLite ignores FOR UPDATE).
    spent = RefreshToken.objects.filter(
        pk=token.pk, used_at__isnull=True, revoked_at__isnull=True
    ).update(used_at=now)
    if spent != 1:
        _revoke_after_reuse(token=token)
        return None
    return token_pair_issue(user=token.user, family=token.family)


def _revoke_after_reuse(*, token: RefreshToken) -> None:
    logger.warning(
        "refresh token reused; family revoked",
        extra={"family": str(token.family), "target_user_id": str(token.user_id)},
    )
    refresh_family_revoke(family=token.family, actor_id=None, action="auth.refresh_reuse_revoke")


def token_refresh(*, refresh: str) -> TokenPair:
    # Not atomic on purpose: the rotation commits (revocations included) before a refusal.
    pair = _refresh_rotate(refresh=refresh)
    if pair is None:
        raise RefreshTokenRejected
    return pair


def logout(*, refresh: str) -> None:
    """End the sign-in the refresh token belongs to. An unknown token is not an error: the
    answer is the same either way, so it tells nothing."""
    token = RefreshToken.objects.filter(token_hash=refresh_token_hash(refresh)).first()
    if token is None:
        return
    with transaction.atomic():
        _user_tokens_lock(user_id=token.user_id)
        refresh_family_revoke(family=token.family, actor_id=token.user_id, action="auth.logout")


def refresh_tokens_purge() -> int:
    """Delete refresh tokens long expired, one batch at a time; the number deleted."""
    cutoff = timezone.now() - PURGE_AFTER
    total = 0
    while True:
        ids = list(
            RefreshToken.objects.filter(expires_at__lt=cutoff).values_list("id", flat=True)[
                :PURGE_BATCH_SIZE
            ]
        )
        if not ids:
            return total
        deleted, _ = RefreshToken.objects.filter(id__in=ids).delete()
        total += deleted
