from __future__ import annotations

from celery import shared_task

from identity.authn.services import refresh_tokens_purge


@shared_task(name="identity.authn.refresh_tokens_purge")
def refresh_tokens_purge_task() -> int:
    return refresh_tokens_purge()
