"""The JWKS endpoint, key rotation and the identity_keys command."""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from factories import PASSWORD, member
from helpers import JWKS, ME, bearer, header, tokens_for
from jwt import PyJWK
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from identity.authn.keys import SigningKeyUnavailable, keys_reset, signing_key
from identity.authn.models import RefreshToken
from identity.authn.services import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_keys_dir(settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """An empty key directory of this test's own (rotation must not leak into other tests)."""
    settings.JWT_SIGNING_KEYS_DIR = str(tmp_path / "keys")
    keys_reset()
    yield tmp_path / "keys"
    keys_reset()


def _keys_command(*args: str) -> str:
    out = io.StringIO()
    call_command("identity_keys", *args, stdout=out)
    return out.getvalue()


def _published_kids(client: APIClient) -> list[str]:
    response = client.get(JWKS)
    assert response.status_code == 200
    return [key["kid"] for key in response.json()["keys"]]


def test_jwks_publishes_public_rsa_keys_without_private_parts(api_client: APIClient) -> None:
    response = api_client.get(JWKS)

    assert response.status_code == 200
    keys = response.json()["keys"]
    assert [key["kid"] for key in keys] == [signing_key().kid]
    key = keys[0]
    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    # The published key is the one that verifies our tokens.
    public = PyJWK(key, algorithm="RS256").key
    assert public.public_numbers() == signing_key().public_key.public_numbers()


def test_rotation_adds_a_key_and_old_tokens_keep_working(
    fresh_keys_dir: Path, api_client: APIClient
) -> None:
    first_output = _keys_command()
    old_kid = signing_key().kid
    user = member("patient")
    old_token = tokens_for(user.email)["access"]

    rotate_output = _keys_command("--rotate")

    new_kid = signing_key().kid
    assert new_kid != old_kid
    assert old_kid in first_output
    assert new_kid in rotate_output
    assert set(_published_kids(api_client)) == {old_kid, new_kid}
    # Tokens signed before the rotation still verify while their key is published ...
    assert bearer(old_token).get(ME).status_code == 200
    # ... and new sign-ins are signed with the new key.
    new_token = tokens_for(user.email)["access"]
    assert header(new_token)["kid"] == new_kid
    assert bearer(new_token).get(ME).status_code == 200


def test_removing_a_retired_key_invalidates_its_tokens(
    fresh_keys_dir: Path, api_client: APIClient
) -> None:
    _keys_command()
    user = member("patient")
    old_token = tokens_for(user.email)["access"]
    old_kid = header(old_token)["kid"]
    _keys_command("--rotate")

    (fresh_keys_dir / f"{old_kid}.pem").unlink()
    keys_reset()

    assert old_kid not in _published_kids(api_client)
    assert bearer(old_token).get(ME).status_code == 401


def test_active_kid_setting_chooses_the_signing_key(
    fresh_keys_dir: Path, settings: Settings
) -> None:
    _keys_command()
    first = signing_key().kid
    _keys_command("--rotate")
    settings.JWT_ACTIVE_KID = first
    user = member("patient")
    assert header(tokens_for(user.email)["access"])["kid"] == first


def test_command_without_rotate_keeps_the_existing_key(fresh_keys_dir: Path) -> None:
    _keys_command()
    _keys_command()
    assert len(list(fresh_keys_dir.glob("*.pem"))) == 1


def test_command_prints_the_kid_never_the_key_and_protects_the_file(fresh_keys_dir: Path) -> None:
    output = _keys_command()
    (key_file,) = fresh_keys_dir.glob("*.pem")
    assert key_file.stem in output
    assert "PRIVATE KEY" not in output
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_without_any_key_signing_fails_with_a_clear_error(fresh_keys_dir: Path) -> None:
    with pytest.raises(SigningKeyUnavailable, match="identity_keys"):
        signing_key()


def test_without_any_key_login_writes_nothing(fresh_keys_dir: Path) -> None:
    user = member("patient")
    with pytest.raises(SigningKeyUnavailable):
        login(email=user.email, password=PASSWORD, client_address="192.0.2.1")
    assert not RefreshToken.objects.exists()


def test_an_unreadable_key_file_is_reported_by_name(fresh_keys_dir: Path) -> None:
    fresh_keys_dir.mkdir(parents=True)
    (fresh_keys_dir / "broken.pem").write_text("not a key")
    with pytest.raises(SigningKeyUnavailable, match=r"broken\.pem"):
        signing_key()
