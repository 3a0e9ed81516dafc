"""Settings of the outcomes service: the shared base plus this service's apps, URLs and queue."""

from shared.conf import base
from shared.conf.base import *
from shared.conf.env import env_int, env_str, env_url

SERVICE_NAME = "outcomes"
ROOT_URLCONF = "outcomes.urls"
WSGI_APPLICATION = "outcomes.wsgi.application"
INSTALLED_APPS = [
    *base.INSTALLED_APPS,
    "outcomes.readmodel",
    "outcomes.benchmarks",
    "outcomes.flags",
    "outcomes.analytics",
    "outcomes.dashboard",
]
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
# Behind one gateway host every service would otherwise share (and clobber) one session cookie.
SESSION_COOKIE_NAME = f"{SERVICE_NAME}_sessionid"
CSRF_COOKIE_NAME = f"{SERVICE_NAME}_csrftoken"
REST_FRAMEWORK = {
    **base.REST_FRAMEWORK,
    "DEFAULT_SCHEMA_CLASS": "shared.api.schema.NestedNameAutoSchema",
}
SPECTACULAR_SETTINGS = {
    **base.SPECTACULAR_SETTINGS,
    "TITLE": "Outcomes API",
    "DESCRIPTION": "Recovery curves, responder rates and benchmark comparisons.",
}

# --- The diary, for rebuilding the read model (outcomes_resync) --------------------------------
DIARY_URL = env_url("DIARY_URL", "http://127.0.0.1:8002", schemes=("http", "https"))
# The dashboard reads prompts from reminders (and diary notes from the diary) with the signed-in
# clinician's own token.
REMINDERS_URL = env_url("REMINDERS_URL", "http://127.0.0.1:8003", schemes=("http", "https"))
# Records asked for per page of diary's export; one page is one HTTP round trip and one batch
# of inserts into the staging tables.
DIARY_EXPORT_PAGE_SIZE = env_int("DIARY_EXPORT_PAGE_SIZE", 1000, minimum=1)

# --- Analysis ---------------------------------------------------------------------------------
# Fewer patients than this behind a figure and the comparison says "too few patients to say";
# the phone shows the typical band only at weeks with at least this many patients behind it.
OUTCOMES_MIN_PATIENTS = env_int("OUTCOMES_MIN_PATIENTS", 10, minimum=1)
# Cohort results are cached for cohorts of at least this many courses (smaller ones are cheap
# to recompute), for at most this long; any change to the clinic's data retires them at once.
OUTCOMES_CACHE_MIN_COURSES = env_int("OUTCOMES_CACHE_MIN_COURSES", 50, minimum=0)
OUTCOMES_CACHE_SECONDS = env_int("OUTCOMES_CACHE_SECONDS", 24 * 3600, minimum=1)
# The phone's typical band may be this old: it moves slowly, while a busy clinic's data (and so
# its cache version) changes every few seconds.
OUTCOMES_BAND_STALE_SECONDS = env_int("OUTCOMES_BAND_STALE_SECONDS", 600, minimum=0)

# --- Flags ------------------------------------------------------------------------------------
# A patient who answered fewer than this share (percent) of their last closed prompts is flagged.
OUTCOMES_ADHERENCE_THRESHOLD_PERCENT = env_int(
    "OUTCOMES_ADHERENCE_THRESHOLD_PERCENT", 50, minimum=1
)
OUTCOMES_ADHERENCE_WINDOW = env_int("OUTCOMES_ADHERENCE_WINDOW", 6, minimum=1)
OUTCOMES_ADHERENCE_MIN_PROMPTS = env_int("OUTCOMES_ADHERENCE_MIN_PROMPTS", 4, minimum=1)

# --- Dashboard --------------------------------------------------------------------------------
LOGIN_URL = "dashboard:login"
# Seconds a dashboard page waits for identity, diary or reminders before showing the page
# without that part.
DASHBOARD_SERVICE_TIMEOUT = env_int("DASHBOARD_SERVICE_TIMEOUT", 5, minimum=1)
# Finished exports hold patient data: they are deleted this many hours after they were asked for.
DASHBOARD_EXPORT_KEEP_HOURS = env_int("DASHBOARD_EXPORT_KEEP_HOURS", 24, minimum=1)
# Where a clinic administrator's browser finds the reminder schedules (the reminders admin):
# behind the gateway, the same host; the embedded runner names reminders' own port.
DASHBOARD_SCHEDULES_URL = env_str(
    "DASHBOARD_SCHEDULES_URL", "/admin/reminders/schedules/scheduletemplate/"
)
CELERY_BEAT_SCHEDULE = {
    **base.CELERY_BEAT_SCHEDULE,
    "dashboard-exports-tend": {"task": "outcomes.dashboard.exports_tend", "schedule": 60.0},
}
