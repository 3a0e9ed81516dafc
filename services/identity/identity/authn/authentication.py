from __future__ import annotations

from rest_framework import exceptions
from rest_framework.request import Request

from identity.accounts.selectors import user_get_active
from identity.authn.selectors import service_client_is_active
from shared.auth.authentication import AccessTokenAuthentication
from shared.auth.principal import Role, TokenUser


class ActiveUserTokenAuthentication(AccessTokenAuthentication):
    """The shared bearer-token check, plus: the account still exists and is active.

    Other services accept a token until it expires; identity, which owns the accounts, refuses
    a deactivated or erased user's token at once (one primary-key read per request), and a
    deactivated service client's token likewise.
    """

    def authenticate(self, request: Request) -> tuple[TokenUser, str] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        if user.has_role(Role.SERVICE):
            if not service_client_is_active(user.id):
                raise exceptions.AuthenticationFailed(
                    "Access token refused: service client not active."
                )
            return user, token
        if user_get_active(user.id) is None:
            raise exceptions.AuthenticationFailed("Access token refused: account not active.")
        return user, token
