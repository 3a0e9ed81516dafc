"""Settings of the outcomes service: the shared base plus this service's apps, URLs and queue."""

from shared.conf import base
from shared.conf.base import *

SERVICE_NAME = "outcomes"
ROOT_URLCONF = "outcomes.urls"
WSGI_APPLICATION = "outcomes.wsgi.application"
INSTALLED_APPS = [*base.INSTALLED_APPS]
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
SPECTACULAR_SETTINGS = {
    **base.SPECTACULAR_SETTINGS,
    "TITLE": "Outcomes API",
    "DESCRIPTION": "Recovery curves, responder rates and benchmark comparisons.",
}
