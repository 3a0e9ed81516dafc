"""A minimal project that exercises shared/ on its own, with no service installed."""

from shared.conf import base
from shared.conf.base import *

SERVICE_NAME = "sharedtest"
ROOT_URLCONF = "sharedtest.urls"
INSTALLED_APPS = [*base.INSTALLED_APPS, "sharedtest"]
CELERY_TASK_DEFAULT_QUEUE = SERVICE_NAME
JWT_KEY_PROVIDER = "shared.testing.tokens.TestKeyProvider"
