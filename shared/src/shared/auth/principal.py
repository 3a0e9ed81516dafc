"""Who is calling: the principal built from a verified access token, with no database row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime


class Role:
    PATIENT = "patient"
    CLINICIAN = "clinician"
    CLINIC_ADMIN = "clinic_admin"
    SYSTEM_ADMIN = "system_admin"
    SERVICE = "service"

    ALL = frozenset({PATIENT, CLINICIAN, CLINIC_ADMIN, SYSTEM_ADMIN, SERVICE})


@dataclass(frozen=True)
class TokenUser:
    id: uuid.UUID
    roles: frozenset[str]
    clinic_id: uuid.UUID | None
    token_id: str
    expires_at: datetime
    email: str = field(default="", compare=False)
    # For a service's token (role "service"): the calling service's name, e.g. "outcomes".
    service_name: str = field(default="", compare=False)

    is_authenticated = True
    is_anonymous = False
    is_active = True

    @property
    def pk(self) -> uuid.UUID:
        return self.id

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_patient(self) -> bool:
        return Role.PATIENT in self.roles

    @property
    def is_clinician(self) -> bool:
        return Role.CLINICIAN in self.roles

    def __str__(self) -> str:
        return f"user:{self.id}"


def caller(request: object) -> TokenUser:
    """The authenticated principal of a DRF request (views behind IsAuthenticated only)."""
    user = getattr(request, "user", None)
    if not isinstance(user, TokenUser):
        raise TypeError("caller() is for views that require an access token")
    return user
