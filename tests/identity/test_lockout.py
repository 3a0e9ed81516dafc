"""Brute-force lockout on sign-in, keyed on the account and the real client address."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import SESSION_KEY
from factories import PASSWORD, member, system_admin
from helpers import is_problem, login
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"
ATTACKER = "203.0.113.9"
VICTIM = "198.51.100.7"


@pytest.fixture
def behind_proxy(settings: Settings) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]


def _fail(client: APIClient, email: str, times: int, **extra: str) -> None:
    for _ in range(times):
        assert login(client, email, "wrong-password", **extra).status_code == 401


def test_fifth_failure_locks_the_account_for_that_address(api_client: APIClient) -> None:
    user = member("patient")
    _fail(api_client, user.email, 5)

    response = login(api_client, user.email)  # even the right password

    assert is_problem(response, 429, "too-many-attempts")
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def test_lock_applies_to_the_pair_not_to_other_addresses(api_client: APIClient) -> None:
    user = member("patient")
    _fail(api_client, user.email, 5, REMOTE_ADDR=ATTACKER)
    assert login(api_client, user.email, REMOTE_ADDR=ATTACKER).status_code == 429
    assert login(api_client, user.email, REMOTE_ADDR=VICTIM).status_code == 200


def test_lock_covers_every_spelling_of_the_address(api_client: APIClient) -> None:
    member("patient", email="case@example.org")
    _fail(api_client, "CASE@example.org", 3)
    _fail(api_client, "case@EXAMPLE.ORG", 2)
    assert login(api_client, "case@example.org").status_code == 429


def test_success_clears_the_failure_count(api_client: APIClient) -> None:
    user = member("patient")
    _fail(api_client, user.email, 4)
    assert login(api_client, user.email).status_code == 200
    _fail(api_client, user.email, 4)
    assert login(api_client, user.email).status_code == 200


def test_unknown_accounts_are_locked_the_same_way(api_client: APIClient) -> None:
    _fail(api_client, "nobody@example.org", 5)
    assert login(api_client, "nobody@example.org").status_code == 429


def test_many_accounts_from_one_address_lock_the_address(
    api_client: APIClient, settings: Settings
) -> None:
    settings.LOGIN_FAILURES_PER_ADDRESS = 6
    victim = member("patient")
    for index in range(6):
        _fail(api_client, f"guess{index}@example.org", 1, REMOTE_ADDR=ATTACKER)

    assert login(api_client, victim.email, REMOTE_ADDR=ATTACKER).status_code == 429
    assert login(api_client, victim.email, REMOTE_ADDR=VICTIM).status_code == 200


def test_lock_expires(api_client: APIClient, settings: Settings) -> None:
    settings.LOGIN_LOCKOUT_SECONDS = 1
    user = member("patient")
    _fail(api_client, user.email, 5)
    assert login(api_client, user.email).status_code == 429
    time.sleep(1.2)
    assert login(api_client, user.email).status_code == 200


def test_varying_a_forged_forwarded_for_does_not_dodge_the_lock(
    api_client: APIClient, behind_proxy: None
) -> None:
    user = member("patient")
    for index in range(5):
        response = login(
            api_client,
            user.email,
            "wrong-password",
            REMOTE_ADDR=ATTACKER,
            HTTP_X_FORWARDED_FOR=f"192.0.2.{index}",
        )
        assert response.status_code == 401

    response = login(
        api_client, user.email, REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.200"
    )
    assert response.status_code == 429


def test_forged_forwarded_for_prefix_through_our_proxy_still_counts_the_real_address(
    api_client: APIClient, behind_proxy: None
) -> None:
    user = member("patient")
    for index in range(5):
        forged = f"192.0.2.{index}, {ATTACKER}"  # the proxy appended the real peer
        response = login(
            api_client,
            user.email,
            "wrong-password",
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=forged,
        )
        assert response.status_code == 401

    locked = login(
        api_client, user.email, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"192.0.2.99, {ATTACKER}"
    )
    assert locked.status_code == 429


def test_forging_the_victims_address_does_not_lock_the_victim_out(
    api_client: APIClient, behind_proxy: None
) -> None:
    victim = member("patient")
    # Directly, and then through our proxy, the attacker claims to be the victim's address;
    # the failures count against the attacker's own address, which ends up locked.
    _fail(api_client, victim.email, 5, REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=VICTIM)
    through_proxy = login(
        api_client,
        victim.email,
        "wrong-password",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{VICTIM}, {ATTACKER}",
    )
    assert through_proxy.status_code == 429

    # The victim, arriving through our proxy from their real address, signs in.
    response = login(api_client, victim.email, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=VICTIM)
    assert response.status_code == 200


def test_forged_forwarded_for_cannot_reset_the_attackers_count(
    api_client: APIClient, behind_proxy: None
) -> None:
    attacker_account = member("patient")
    victim = member("patient")
    _fail(api_client, victim.email, 4, REMOTE_ADDR=ATTACKER)
    # A success with a forged header naming another address is still the attacker's address:
    # it clears the attacker's own pair for their own account only.
    assert (
        login(
            api_client, attacker_account.email, REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=VICTIM
        ).status_code
        == 200
    )
    _fail(api_client, victim.email, 1, REMOTE_ADDR=ATTACKER)
    assert login(api_client, victim.email, REMOTE_ADDR=ATTACKER).status_code == 429


def test_admin_site_login_applies_the_same_lockout(client: object) -> None:
    admin = system_admin()
    url = "/admin/identity/login/?next=/admin/identity/"
    for _ in range(5):
        response = client.post(url, {"username": admin.email, "password": "wrong-password"})  # type: ignore[attr-defined]
        assert response.status_code == 200  # the form again, with an error
    response = client.post(url, {"username": admin.email, "password": PASSWORD})  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert SESSION_KEY not in client.session  # type: ignore[attr-defined]


def test_admin_site_login_works_for_a_system_admin(client: object) -> None:
    admin = system_admin()
    response = client.post(  # type: ignore[attr-defined]
        "/admin/identity/login/?next=/admin/identity/",
        {"username": admin.email.upper(), "password": PASSWORD},
    )
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(admin.pk)  # type: ignore[attr-defined]
