from django.urls import path

from identity.authn import apis

urlpatterns = [
    path("auth/token/", apis.TokenObtainApi.as_view(), name="auth-token"),
    path("auth/refresh/", apis.TokenRefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout/", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/service-token/", apis.ServiceTokenApi.as_view(), name="auth-service-token"),
    path(".well-known/jwks.json", apis.JwksApi.as_view(), name="jwks"),
]
