"""The Celery application of a service, configured from its Django settings (CELERY_*)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_prerun

from shared.observability.context import bind_request_id


def create_celery_app(service: str) -> Celery:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{service}.settings")
    app = Celery(service)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.autodiscover_tasks()
    return app


@task_prerun.connect
def _bind_task_id(task_id: str | None = None, **_: Any) -> None:
    bind_request_id(task_id or "")
