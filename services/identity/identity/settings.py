"""Settings of the identity service: the shared base plus this service's apps, URLs and queue."""

from shared.conf import base
from shared.conf.base import *

SERVICE_NAME = "identity"
ROOT_URLCONF = "identity.urls"
WSGI_APPLICATION = "identity.wsgi.application"
INSTALLED_APPS = [*base.INSTALLED_APPS]
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
SPECTACULAR_SETTINGS = {
    **base.SPECTACULAR_SETTINGS,
    "TITLE": "Identity API",
    "DESCRIPTION": "Accounts, clinics, roles, invitations, tokens and the public signing keys.",
}
