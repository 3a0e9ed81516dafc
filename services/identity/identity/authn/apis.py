from __future__ import annotations

from django.db import transaction
from django.utils.decorators import method_decorator
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from identity.api import EmailAddressField, problems
from identity.authn.keys import jwks
from identity.authn.service_clients import ServiceToken, service_token_issue
from identity.authn.services import TokenPair, login, logout, token_refresh
from shared.api.serializers import StrictInputSerializer
from shared.observability.client_ip import client_ip


class TokenPairSerializer(serializers.Serializer[TokenPair]):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.SerializerMethodField()
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")

    def get_token_type(self, pair: TokenPair) -> str:
        return "Bearer"


def token_response(pair: TokenPair, status_code: int = status.HTTP_200_OK) -> Response:
    response = Response(TokenPairSerializer(pair).data, status=status_code)
    # Tokens must not linger in any cache between the app and us.
    response["Cache-Control"] = "no-store"
    return response


class _PublicApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


class TokenObtainApi(_PublicApi):
    """Sign in with e-mail address and password."""

    class InputSerializer(StrictInputSerializer):
        email = EmailAddressField(max_length=254)
        password = serializers.CharField(max_length=1024, trim_whitespace=False)

    @extend_schema(
        operation_id="auth_token_obtain",
        request=InputSerializer,
        responses={200: TokenPairSerializer, **problems(400, 401, 413, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        pair = login(
            email=serializer.validated_data["email"],
            password=serializer.validated_data["password"],
            client_address=client_ip(request),
        )
        return token_response(pair)


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class TokenRefreshApi(_PublicApi):
    """Trade a refresh token for new tokens. The refresh token is spent: presenting it again
    ends the whole sign-in (every refresh token descended from the same login)."""

    class InputSerializer(StrictInputSerializer):
        refresh = serializers.CharField(max_length=512)

    @extend_schema(
        operation_id="auth_token_refresh",
        request=InputSerializer,
        responses={200: TokenPairSerializer, **problems(400, 401)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return token_response(token_refresh(refresh=serializer.validated_data["refresh"]))


class LogoutApi(_PublicApi):
    """Sign out: every refresh token of this sign-in stops working."""

    class InputSerializer(StrictInputSerializer):
        refresh = serializers.CharField(max_length=512)

    @extend_schema(
        operation_id="auth_logout",
        request=InputSerializer,
        responses={204: None, **problems(400)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        logout(refresh=serializer.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class ServiceTokenSerializer(serializers.Serializer[ServiceToken]):
    access = serializers.CharField()
    token_type = serializers.SerializerMethodField()
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")

    def get_token_type(self, token: ServiceToken) -> str:
        return "Bearer"


class ServiceTokenApi(_PublicApi):
    """Client-credentials grant for service-to-service calls: an access token with the role
    "service", and no refresh token (ask again before it expires)."""

    class InputSerializer(StrictInputSerializer):
        client_id = serializers.CharField(max_length=64)
        client_secret = serializers.CharField(max_length=256, trim_whitespace=False)

    @extend_schema(
        operation_id="auth_service_token",
        request=InputSerializer,
        responses={200: ServiceTokenSerializer, **problems(400, 401, 413, 429)},
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = service_token_issue(
            client_id=serializer.validated_data["client_id"],
            client_secret=serializer.validated_data["client_secret"],
            client_address=client_ip(request),
        )
        response = Response(ServiceTokenSerializer(token).data)
        response["Cache-Control"] = "no-store"
        return response


class JwksApi(_PublicApi):
    """The public keys that verify identity's access tokens (RFC 7517 key set)."""

    @extend_schema(
        operation_id="jwks",
        responses={
            200: inline_serializer(
                "JsonWebKeySet",
                {
                    "keys": serializers.ListField(
                        child=serializers.DictField(child=serializers.CharField())
                    )
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        response = Response(jwks())
        response["Cache-Control"] = "public, max-age=300"
        return response
