"""Settings of the diary service: the shared base plus this service's apps, URLs and queue."""

from shared.conf import base
from shared.conf.base import *

SERVICE_NAME = "diary"
ROOT_URLCONF = "diary.urls"
WSGI_APPLICATION = "diary.wsgi.application"
INSTALLED_APPS = [*base.INSTALLED_APPS]
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
# Behind one gateway host every service would otherwise share (and clobber) one session cookie.
SESSION_COOKIE_NAME = f"{SERVICE_NAME}_sessionid"
CSRF_COOKIE_NAME = f"{SERVICE_NAME}_csrftoken"
SPECTACULAR_SETTINGS = {
    **base.SPECTACULAR_SETTINGS,
    "TITLE": "Diary API",
    "DESCRIPTION": (
        "The phone app's pain diary: injections, pain entries, questionnaires, offline sync."
    ),
}
