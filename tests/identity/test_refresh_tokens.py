"""Refresh-token rotation, reuse detection, sign-out and the end of a sign-in."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone
from factories import member
from helpers import LOGOUT, claims, is_problem, refresh, tokens_for
from rest_framework.test import APIClient

from identity.accounts.services import patient_erase, user_deactivate
from identity.authn.models import RefreshToken
from identity.authn.services import refresh_tokens_purge
from identity.authn.tokens import refresh_token_hash
from shared.audit.models import AuditEntry


@pytest.mark.django_db
def test_refresh_rotates_the_refresh_token(api_client: APIClient) -> None:
    user = member("patient")
    first = tokens_for(user.email)

    response = refresh(api_client, first["refresh"])

    assert response.status_code == 200
    second = response.json()
    assert set(second) == {"access", "refresh", "token_type", "expires_in"}
    assert second["refresh"] != first["refresh"]
    assert claims(second["access"])["sub"] == str(user.id)
    assert claims(second["access"])["jti"] != claims(first["access"])["jti"]


@pytest.mark.django_db
def test_only_a_hash_of_the_refresh_token_is_stored() -> None:
    user = member("patient")
    token = tokens_for(user.email)["refresh"]
    row = RefreshToken.objects.get(user=user)
    assert row.token_hash == refresh_token_hash(token)
    assert token not in row.token_hash


@pytest.mark.django_db
def test_reusing_a_spent_refresh_token_revokes_the_whole_family(api_client: APIClient) -> None:
    user = member("patient")
    r1 = tokens_for(user.email)["refresh"]
    r2 = refresh(api_client, r1).json()["refresh"]
    r3 = refresh(api_client, r2).json()["refresh"]
    other_sign_in = tokens_for(user.email)["refresh"]

    reuse = refresh(api_client, r1)

    assert is_problem(reuse, 401, "invalid-refresh-token")
    # The newest token of the family stops working too ...
    assert is_problem(refresh(api_client, r3), 401, "invalid-refresh-token")
    # ... while a separate sign-in (another family) is untouched.
    assert refresh(api_client, other_sign_in).status_code == 200
    assert AuditEntry.objects.filter(action="auth.refresh_reuse_revoke").count() == 1


@pytest.mark.django_db(transaction=True)
def test_family_revocation_is_committed_although_the_answer_is_401(api_client: APIClient) -> None:
    user = member("patient")
    r1 = tokens_for(user.email)["refresh"]
    r2 = refresh(api_client, r1).json()["refresh"]

    assert refresh(api_client, r1).status_code == 401

    # No test transaction wraps this test: what we read here is what was committed.
    family = RefreshToken.objects.get(token_hash=refresh_token_hash(r2)).family
    assert not RefreshToken.objects.filter(family=family, revoked_at__isnull=True).exists()
    assert refresh(api_client, r2).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_token_give_at_most_one_success() -> None:
    user = member("patient")
    token = tokens_for(user.email)["refresh"]
    workers = 20
    barrier = threading.Barrier(workers)

    def attempt(_: int) -> int:
        try:
            client = APIClient()
            barrier.wait(timeout=10)
            return int(refresh(client, token).status_code)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        statuses = list(pool.map(attempt, range(workers)))

    assert statuses.count(200) <= 1
    assert all(status in (200, 401) for status in statuses)
    assert statuses.count(401) >= workers - 1
    # At most one successor was minted, and the race revoked the family.
    family = RefreshToken.objects.get(token_hash=refresh_token_hash(token)).family
    assert RefreshToken.objects.filter(family=family).count() <= 2
    assert not RefreshToken.objects.filter(family=family, revoked_at__isnull=True).exists()


@pytest.mark.django_db
def test_logout_revokes_the_family(api_client: APIClient) -> None:
    user = member("patient")
    r1 = tokens_for(user.email)["refresh"]
    r2 = refresh(api_client, r1).json()["refresh"]

    response = api_client.post(LOGOUT, {"refresh": r2}, format="json")

    assert response.status_code == 204
    assert is_problem(refresh(api_client, r2), 401, "invalid-refresh-token")
    assert AuditEntry.objects.filter(action="auth.logout", actor_id=user.id).exists()


@pytest.mark.django_db
def test_logout_with_an_unknown_token_answers_the_same(api_client: APIClient) -> None:
    response = api_client.post(LOGOUT, {"refresh": "made-up"}, format="json")
    assert response.status_code == 204


@pytest.mark.django_db
def test_unknown_refresh_token_is_refused(api_client: APIClient) -> None:
    assert is_problem(refresh(api_client, "made-up-token"), 401, "invalid-refresh-token")


@pytest.mark.django_db
def test_expired_refresh_token_is_refused(api_client: APIClient) -> None:
    user = member("patient")
    token = tokens_for(user.email)["refresh"]
    later = timezone.now() + timedelta(seconds=settings.REFRESH_TOKEN_SECONDS + 1)
    with time_machine.travel(later, tick=False):
        assert is_problem(refresh(api_client, token), 401, "invalid-refresh-token")


@pytest.mark.django_db
def test_deactivated_user_cannot_refresh(api_client: APIClient) -> None:
    user = member("patient")
    token = tokens_for(user.email)["refresh"]
    user_deactivate(actor_id=None, user=user)
    assert is_problem(refresh(api_client, token), 401, "invalid-refresh-token")


@pytest.mark.django_db
def test_user_made_inactive_outside_the_services_cannot_refresh(api_client: APIClient) -> None:
    user = member("patient")
    token = tokens_for(user.email)["refresh"]
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert is_problem(refresh(api_client, token), 401, "invalid-refresh-token")
    assert not RefreshToken.objects.filter(user=user, revoked_at__isnull=True).exists()


@pytest.mark.django_db
def test_erased_patient_cannot_refresh(api_client: APIClient) -> None:
    user = member("patient")
    token = tokens_for(user.email)["refresh"]
    patient_erase(actor_id=None, patient=user)
    assert is_problem(refresh(api_client, token), 401, "invalid-refresh-token")


@pytest.mark.django_db
def test_purge_deletes_only_long_expired_refresh_tokens() -> None:
    user = member("patient")
    tokens_for(user.email)
    with time_machine.travel(timezone.now() - timedelta(days=60), tick=False):
        tokens_for(user.email)

    assert refresh_tokens_purge() == 1
    assert RefreshToken.objects.filter(user=user).count() == 1
