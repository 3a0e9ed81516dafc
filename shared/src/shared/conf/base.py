"""Settings shared by every service. A service's settings module star-imports this and adds its
apps, URLconf and queue. Every deployment-specific value is read from the environment."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

from shared.conf.env import (
    env_bool,
    env_cache,
    env_database,
    env_int,
    env_list,
    env_str,
    env_url,
)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
SECURE_COOKIES = env_bool("SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = ["rest_framework", "drf_spectacular", "drf_spectacular_sidecar"]
SHARED_APPS = ["shared.outbox", "shared.audit"]
INSTALLED_APPS: list[str] = DJANGO_APPS + THIRD_PARTY_APPS + SHARED_APPS

MIDDLEWARE = [
    "shared.observability.middleware.RequestContextMiddleware",
    "shared.api.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {"default": env_database("DATABASE_URL")}
CACHES = {
    "default": env_cache("CACHE_URL", {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"})
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = env_str("STATIC_URL", "/static/")
STATIC_ROOT = env_str("STATIC_ROOT", str(Path.cwd() / "var" / "static"))

# Bodies above this size are refused with 413 before any view reads them.
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES

# --- Authentication -------------------------------------------------------------------------
# Web logins (Django admin, dashboard) check credentials against identity.
AUTHENTICATION_BACKENDS = ["shared.auth.backends.IdentityBackend"]
IDENTITY_URL = env_url("IDENTITY_URL", "http://127.0.0.1:8001", schemes=("http", "https"))
JWT_ISSUER = env_str("JWT_ISSUER", "clinic-recovery-identity")
JWT_AUDIENCE = env_str("JWT_AUDIENCE", "clinic-recovery")
JWT_LEEWAY_SECONDS = env_int("JWT_LEEWAY_SECONDS", 10, minimum=0)
JWKS_URL = env_url("JWKS_URL", f"{IDENTITY_URL}/api/identity/v1/.well-known/jwks.json")
JWKS_CACHE_SECONDS = env_int("JWKS_CACHE_SECONDS", 3600, minimum=1)
# An unknown kid makes us fetch the key set again, but never more often than this.
JWKS_MIN_REFETCH_SECONDS = env_int("JWKS_MIN_REFETCH_SECONDS", 30, minimum=0)
JWT_KEY_PROVIDER = "shared.auth.keys.JWKSKeyProvider"
# Addresses of the gateways in front of the services; only their X-Forwarded-For is believed.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])

REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["shared.auth.authentication.AccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "shared.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "shared.api.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Counted in the cache (Redis when deployed: exact across processes); 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "shared.api.throttling.UserWriteRateThrottle",
        "shared.api.throttling.AnonRateThrottle",
    ],
}


def _env_rate(name: str, default: str) -> str:
    value = env_str(name, default)
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate such as '120/min'.")
    return value


# Writes (POST/PUT/PATCH/DELETE) per authenticated caller, and requests per client address
# without a token.
RATE_LIMIT_USER_WRITES = _env_rate("RATE_LIMIT_USER_WRITES", "120/min")
RATE_LIMIT_ANON = _env_rate("RATE_LIMIT_ANON", "300/min")
SPECTACULAR_SETTINGS: dict[str, object] = {
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/[a-z]+/v[0-9]+",
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env_url("BROKER_URL", schemes=("redis", "rediss", "filesystem", "sqla+sqlite"))
_broker_scheme = urlparse(CELERY_BROKER_URL).scheme
if _broker_scheme == "filesystem":
    # The embedded default: every service shares one folder of queue files, no server needed.
    _broker_dir = Path(env_str("BROKER_FILESYSTEM_DIR", str(Path.cwd() / "var" / "broker")))
    for _sub in ("queues", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queues"),
        "data_folder_out": str(_broker_dir / "queues"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    # kombu's filesystem transport, with a consumer that does not list the folder per message.
    CELERY_BROKER_TRANSPORT = "shared.filesystem_broker:Transport"
else:
    # A task not acknowledged within this time is handed to another worker (acks_late).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# After a commit that wrote events, a producer asks for a relay run at most this often.
OUTBOX_KICK_INTERVAL_MS = env_int("OUTBOX_KICK_INTERVAL_MS", 250, minimum=0)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "outbox-relay": {"task": "shared.outbox.relay", "schedule": 5.0},
    "outbox-prune": {"task": "shared.outbox.prune", "schedule": 3600.0},
}

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "context": {"()": "shared.observability.logging.RequestContextFilter"},
        "redact": {"()": "shared.observability.logging.RedactingFilter"},
    },
    "formatters": {"json": {"()": "shared.observability.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["context", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own request logger repeats what the access log says, with less care.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}
