"""Invitation codes: short enough to read out or type from a letter, long enough not to guess.

16 symbols of Crockford's base32 (no I, L, O or U) carry 80 bits, shown in groups of four
(``7KQ3-M9XD-2HPT-WB4R``). Typing is forgiving: case, spaces and dashes do not matter, and
I/L read as 1, O as 0.
"""

from __future__ import annotations

import hashlib
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 16
GROUP = 4
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


def code_new() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def code_normalise(code: str) -> str | None:
    """The canonical form of a typed code, or None when it cannot be one of ours."""
    if len(code) > 64:
        return None
    cleaned = "".join(ch for ch in code.upper() if ch not in " -").translate(_READ_AS)
    if len(cleaned) != LENGTH or any(ch not in ALPHABET for ch in cleaned):
        return None
    return cleaned


def code_hash(normalised: str) -> str:
    # The code is random with 80 bits, so a fast hash suffices: there is nothing to brute-force
    # offline that would be cheaper than guessing online.
    return hashlib.sha256(normalised.encode("ascii")).hexdigest()


def code_issue() -> tuple[str, str]:
    """A new code as shown to the person, and the hash that is stored."""
    code = code_new()
    normalised = code_normalise(code)
    assert normalised is not None  # noqa: S101 - code_new() makes valid codes
    return code, code_hash(normalised)
