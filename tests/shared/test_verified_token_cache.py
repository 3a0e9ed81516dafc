"""A token verified once is remembered until it expires, but never past a withdrawn key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from shared.auth.tokens import InvalidToken, decode_access_token, verified_tokens
from shared.testing.tokens import TEST_KID, TestKeyProvider, access_token


class SwitchableKeys(TestKeyProvider):
    """Publishes the test key until told to withdraw it, counting the lookups."""

    def __init__(self) -> None:
        self.known_kids = (TEST_KID,)
        self.lookups = 0

    def public_key(self, kid: str) -> Any | None:
        self.lookups += 1
        return super().public_key(kid)


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    verified_tokens.clear()


def test_the_same_token_twice_gives_the_same_caller() -> None:
    user_id = uuid.uuid4()
    token = access_token(user_id, roles=("clinician",))
    first = decode_access_token(token, SwitchableKeys())
    again = decode_access_token(token, SwitchableKeys())
    assert first == again
    assert again.id == user_id


def test_a_remembered_token_is_refused_once_its_key_is_withdrawn() -> None:
    keys = SwitchableKeys()
    token = access_token()
    decode_access_token(token, keys)

    keys.known_kids = ()

    with pytest.raises(InvalidToken, match="unknown key"):
        decode_access_token(token, keys)


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    keys = SwitchableKeys()
    issued = datetime.now(tz=UTC)
    token = access_token(issued_at=issued, lifetime=timedelta(minutes=5))
    decode_access_token(token, keys)

    later = issued + timedelta(minutes=6)
    with time_machine.travel(later, tick=False), pytest.raises(InvalidToken, match="expired"):
        decode_access_token(token, keys)


def test_a_tampered_copy_of_a_remembered_token_is_not_taken_from_memory() -> None:
    keys = SwitchableKeys()
    token = access_token(roles=("patient",))
    decode_access_token(token, keys)
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"

    with pytest.raises(InvalidToken):
        decode_access_token(tampered, keys)
