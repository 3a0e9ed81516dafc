"""Settings of the diary service: the shared base plus this service's apps, URLs and queue."""

from shared.conf import base
from shared.conf.base import *
from shared.conf.env import env_int

SERVICE_NAME = "diary"
ROOT_URLCONF = "diary.urls"
WSGI_APPLICATION = "diary.wsgi.application"
INSTALLED_APPS = [
    *base.INSTALLED_APPS,
    "diary.common",
    "diary.patients",
    "diary.injections",
    "diary.entries",
    "diary.questionnaires",
    "diary.sync",
    "diary.export",
]
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
REST_FRAMEWORK = {
    **base.REST_FRAMEWORK,
    "DEFAULT_SCHEMA_CLASS": "shared.api.schema.NestedNameAutoSchema",
    # DRF's own answers, found faster for a phone's usual request (see diary.common.negotiation).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "diary.common.negotiation.JSONFirstNegotiation",
    "DEFAULT_PARSER_CLASSES": ["diary.common.negotiation.JSONBodyParser"],
}

# --- The diary's rules ------------------------------------------------------------------------
# How far in the future a phone's timestamp may be before it is refused: phone clocks drift.
DIARY_CLOCK_SKEW_SECONDS = env_int("DIARY_CLOCK_SKEW_SECONDS", 600, minimum=0)
# An injection more than this after the patient's previous one starts a new course unless the
# clinician names the course: twice the longest published interval (6 weeks, seed 001).
DIARY_COURSE_GAP_DAYS = env_int("DIARY_COURSE_GAP_DAYS", 84, minimum=1)
