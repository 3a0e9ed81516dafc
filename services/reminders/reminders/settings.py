"""Settings of the reminders service: the shared base plus this service's apps, URLs and queue."""

from shared.conf import base
from shared.conf.base import *
from shared.conf.env import env_bool, env_int, env_str

SERVICE_NAME = "reminders"
ROOT_URLCONF = "reminders.urls"
WSGI_APPLICATION = "reminders.wsgi.application"
INSTALLED_APPS = [
    *base.INSTALLED_APPS,
    "reminders.patients",
    "reminders.schedules",
    "reminders.channels",
    "reminders.prompts",
]
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
# Behind one gateway host every service would otherwise share (and clobber) one session cookie.
SESSION_COOKIE_NAME = f"{SERVICE_NAME}_sessionid"
CSRF_COOKIE_NAME = f"{SERVICE_NAME}_csrftoken"
SPECTACULAR_SETTINGS = {
    **base.SPECTACULAR_SETTINGS,
    "TITLE": "Reminders API",
    "DESCRIPTION": "Schedules of pain-score prompts after each injection, and their delivery.",
    "ENUM_NAME_OVERRIDES": {
        "AnchorEnum": "reminders.schedules.models.Anchor",
        "InstrumentEnum": "reminders.schedules.models.Instrument",
        "PromptStatusEnum": "reminders.prompts.models.PromptStatus",
        "PlatformEnum": "reminders.patients.models.Platform",
    },
}
REST_FRAMEWORK = {
    **base.REST_FRAMEWORK,
    "DEFAULT_SCHEMA_CLASS": "shared.api.schema.NestedNameAutoSchema",
}

# --- Dispatch ---------------------------------------------------------------------------------
# How often beat runs the sweeper. A prompt waits at most this long past its due time before it
# is claimed, so it bounds lateness; an idle sweep costs a few index probes.
REMINDERS_SWEEP_SECONDS = env_int("REMINDERS_SWEEP_SECONDS", 10, minimum=1)
# A prompt claimed this long ago and still not sent belongs to a worker that died (or a task the
# broker lost): a later sweep claims it again. It must exceed the time the workers need for the
# most one sweep can claim (REMINDERS_SWEEP_MAX_CLAIMS at the dispatch rate), or busy workers'
# claims are taken back and their work done twice over (never sent twice: the claim token decides).
REMINDERS_CLAIM_TIMEOUT_SECONDS = env_int("REMINDERS_CLAIM_TIMEOUT_SECONDS", 600, minimum=1)
REMINDERS_CLAIM_BATCH_SIZE = env_int("REMINDERS_CLAIM_BATCH_SIZE", 1000, minimum=1)
REMINDERS_DELIVERY_CHUNK_SIZE = env_int("REMINDERS_DELIVERY_CHUNK_SIZE", 250, minimum=1)
REMINDERS_SWEEP_MAX_CLAIMS = env_int("REMINDERS_SWEEP_MAX_CLAIMS", 100_000, minimum=1)

# The outbox relay (which carries reminders.prompt.* events to outcomes) yields to deliveries
# on this service's queue: a relay request after a delivery commits is queued at a lower
# priority (Redis serves priority 0 first), so during a burst the workers send prompts first and
# publish their events once the backlog is gone, instead of spending half their time on events
# while prompts wait. The beat's relay run keeps the default priority, so events keep moving
# (a batch every few seconds) even under a backlog that never clears. Brokers without
# priorities (the embedded filesystem broker) keep one queue in order, as before.
RELAY_PRIORITY = 6
CELERY_TASK_ROUTES = {"shared.outbox.relay": {"priority": RELAY_PRIORITY}}

CELERY_BEAT_SCHEDULE = {
    **base.CELERY_BEAT_SCHEDULE,
    "outbox-relay": {**base.CELERY_BEAT_SCHEDULE["outbox-relay"], "options": {"priority": 0}},
    "reminders-sweep": {
        "task": "reminders.prompts.sweep",
        "schedule": float(REMINDERS_SWEEP_SECONDS),
        # A sweep that waited longer than one interval in the queue is superseded by the next.
        "options": {"expires": float(REMINDERS_SWEEP_SECONDS)},
    },
}

# --- Channels ---------------------------------------------------------------------------------
# Which class sends each channel; tests and the embedded default swap them by environment.
REMINDERS_CHANNELS = {
    "push": env_str("REMINDERS_CHANNEL_PUSH", "reminders.channels.push.PushChannel"),
    "sms": env_str("REMINDERS_CHANNEL_SMS", "reminders.channels.sms.SmsChannel"),
    "email": env_str("REMINDERS_CHANNEL_EMAIL", "reminders.channels.email.EmailChannel"),
    "console": env_str("REMINDERS_CHANNEL_CONSOLE", "reminders.channels.console.ConsoleChannel"),
}
# With no push, SMS or e-mail configured at all (the embedded default, a developer's machine),
# prompts are written to the log instead. Set to false where a real channel is expected, so a
# lost credential shows as undelivered prompts rather than as log lines.
REMINDERS_CONSOLE_WHEN_UNCONFIGURED = env_bool("REMINDERS_CONSOLE_WHEN_UNCONFIGURED", True)
# Tests slow the recording channel down to stop a worker in the middle of a batch.
REMINDERS_RECORDING_DELAY_MS = env_int("REMINDERS_RECORDING_DELAY_MS", 0, minimum=0)

# Push: Firebase Cloud Messaging for Android and iOS tokens, Web Push (VAPID) for browsers.
REMINDERS_FCM_CREDENTIALS_FILE = env_str("REMINDERS_FCM_CREDENTIALS_FILE", "")
REMINDERS_WEBPUSH_VAPID_PRIVATE_KEY = env_str("REMINDERS_WEBPUSH_VAPID_PRIVATE_KEY", "")
REMINDERS_WEBPUSH_SUBJECT = env_str("REMINDERS_WEBPUSH_SUBJECT", "")
# SMS through Twilio.
REMINDERS_TWILIO_ACCOUNT_SID = env_str("REMINDERS_TWILIO_ACCOUNT_SID", "")
REMINDERS_TWILIO_AUTH_TOKEN = env_str("REMINDERS_TWILIO_AUTH_TOKEN", "")
REMINDERS_TWILIO_FROM = env_str("REMINDERS_TWILIO_FROM", "")
# The public URL Twilio posts delivery reports to (its signature covers the URL).
REMINDERS_TWILIO_CALLBACK_URL = env_str("REMINDERS_TWILIO_CALLBACK_URL", "")
# E-mail through Django's mail backends; no sender address, no e-mail channel.
REMINDERS_EMAIL_FROM = env_str("REMINDERS_EMAIL_FROM", "")
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
