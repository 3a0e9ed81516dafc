"""Settings of the reminders service: the shared base plus this service's apps, URLs and queue."""

from shared.conf import base
from shared.conf.base import *

SERVICE_NAME = "reminders"
ROOT_URLCONF = "reminders.urls"
WSGI_APPLICATION = "reminders.wsgi.application"
INSTALLED_APPS = [*base.INSTALLED_APPS]
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
SPECTACULAR_SETTINGS = {
    **base.SPECTACULAR_SETTINGS,
    "TITLE": "Reminders API",
    "DESCRIPTION": "Schedules of pain-score prompts after each injection, and their delivery.",
}
