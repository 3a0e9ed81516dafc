"""Permission classes by role. Everything is denied unless a class here lets it through."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from shared.auth.principal import Role, TokenUser


class _HasRole(BasePermission):
    roles: tuple[str, ...] = ()

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return isinstance(user, TokenUser) and user.has_role(*self.roles)


def role_required(*roles: str) -> type[BasePermission]:
    unknown = set(roles) - Role.ALL
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    name = "Is" + "Or".join(r.title().replace("_", "") for r in roles)
    return type(name, (_HasRole,), {"roles": roles})


IsPatient = role_required(Role.PATIENT)
IsClinician = role_required(Role.CLINICIAN)
IsClinicAdmin = role_required(Role.CLINIC_ADMIN)
IsSystemAdmin = role_required(Role.SYSTEM_ADMIN)
IsClinicStaff = role_required(Role.CLINICIAN, Role.CLINIC_ADMIN)
IsService = role_required(Role.SERVICE)
