from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from shared.auth.principal import TokenUser
from shared.auth.tokens import InvalidToken, decode_access_token
from shared.observability.context import bind_user


class AccessTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer <access token>`` verified locally against identity's public keys."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[TokenUser, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        token = token.strip()
        if not token or " " in token:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            user = decode_access_token(token)
        except InvalidToken as exc:
            raise exceptions.AuthenticationFailed(f"Access token refused: {exc}.") from exc
        bind_user(str(user.id))
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


class AccessTokenScheme:
    """Registers the bearer scheme in the generated OpenAPI schema."""

    @staticmethod
    def register() -> None:
        from drf_spectacular.extensions import OpenApiAuthenticationExtension

        class _Ext(OpenApiAuthenticationExtension):
            target_class = "shared.auth.authentication.AccessTokenAuthentication"
            name = "bearerAuth"

            def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
                return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
