"""Settings of the identity service: the shared base plus this service's apps, URLs and queue."""

from pathlib import Path

from shared.conf import base
from shared.conf.base import *
from shared.conf.env import env_int, env_str

SERVICE_NAME = "identity"
ROOT_URLCONF = "identity.urls"
WSGI_APPLICATION = "identity.wsgi.application"
INSTALLED_APPS = [*base.INSTALLED_APPS, "identity.accounts", "identity.authn"]
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
# Behind one gateway host every service would otherwise share (and clobber) one session cookie.
SESSION_COOKIE_NAME = f"{SERVICE_NAME}_sessionid"
CSRF_COOKIE_NAME = f"{SERVICE_NAME}_csrftoken"
SPECTACULAR_SETTINGS = {
    **base.SPECTACULAR_SETTINGS,
    "TITLE": "Identity API",
    "DESCRIPTION": "Accounts, clinics, roles, invitations, tokens and the public signing keys.",
    "ENUM_NAME_OVERRIDES": {
        "MembershipRoleEnum": "identity.accounts.models.MembershipRole",
        "StaffRoleEnum": "identity.accounts.models.STAFF_ROLE_CHOICES",
    },
}

# The claims identity writes. The values come from the shared base; they are named again here
# because the type checker does not follow the star import.
JWT_ISSUER = base.JWT_ISSUER
JWT_AUDIENCE = base.JWT_AUDIENCE

AUTH_USER_MODEL = "accounts.User"
# Identity holds the passwords, so its own admin checks them here, with the login lockout.
AUTHENTICATION_BACKENDS = ["identity.authn.backends.LockoutModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 10, minimum=8)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    **base.REST_FRAMEWORK,
    # Identity owns the accounts: a token of a deactivated or erased user stops working here at
    # once, not only when it expires.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "identity.authn.authentication.ActiveUserTokenAuthentication"
    ],
    "DEFAULT_SCHEMA_CLASS": "shared.api.schema.NestedNameAutoSchema",
}

# --- Tokens -----------------------------------------------------------------------------------
# Identity verifies its own tokens from the key files, with no HTTP call to itself.
JWT_KEY_PROVIDER = "identity.authn.keys.LocalKeyProvider"
JWT_SIGNING_KEYS_DIR = env_str("JWT_SIGNING_KEYS_DIR", str(Path.cwd() / "var" / "keys"))
# Empty: the newest key signs.
JWT_ACTIVE_KID = env_str("JWT_ACTIVE_KID", "")
# Another process may add a key (rotation); the directory is read again after this long.
JWT_KEYS_RELOAD_SECONDS = env_int("JWT_KEYS_RELOAD_SECONDS", 60, minimum=1)
ACCESS_TOKEN_SECONDS = env_int("ACCESS_TOKEN_SECONDS", 300, minimum=30)
REFRESH_TOKEN_SECONDS = env_int("REFRESH_TOKEN_SECONDS", 30 * 24 * 3600, minimum=300)
INVITATION_SECONDS = env_int("INVITATION_SECONDS", 7 * 24 * 3600, minimum=300)
PASSWORD_RESET_SECONDS = env_int("PASSWORD_RESET_SECONDS", 24 * 3600, minimum=300)

# --- Brute-force protection -------------------------------------------------------------------
# Failures of one account from one client address lock that pair; failures from one address
# across accounts lock the address. Counters live in the cache (Redis when deployed).
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 50, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60, minimum=1)
# Invalid or spent codes (invitations and password resets together) from one address.
INVITATION_ACCEPT_FAILURES_PER_ADDRESS = env_int(
    "INVITATION_ACCEPT_FAILURES_PER_ADDRESS", 10, minimum=1
)

CELERY_BEAT_SCHEDULE = {
    **base.CELERY_BEAT_SCHEDULE,
    "refresh-token-purge": {"task": "identity.authn.refresh_tokens_purge", "schedule": 3600.0},
}
