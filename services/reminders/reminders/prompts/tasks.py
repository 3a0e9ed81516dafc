"""Celery tasks of the prompts app: thin wrappers around the dispatch and planning services."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError

from reminders.prompts.services.delivery import prompts_deliver
from reminders.prompts.services.dispatch import DELIVER_TASK, SWEEP_TASK, prompts_sweep
from reminders.prompts.services.planning import (
    REPLAN_BATCH_SIZE,
    REPLAN_TASK,
    courses_replan_flagged,
    replan_kick,
)


@shared_task(name=SWEEP_TASK, ignore_result=True)
def sweep() -> int:
    """Beat runs this every REMINDERS_SWEEP_SECONDS; several at once are harmless."""
    result = prompts_sweep()
    return result.claimed + result.nudges + result.reclaimed


@shared_task(
    name=DELIVER_TASK,
    ignore_result=True,
    acks_late=True,
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
)
def deliver(prompt_ids: list[str], claim_token: str) -> int:
    result = prompts_deliver(prompt_ids=prompt_ids, claim_token=claim_token)
    return result.sent


@shared_task(name=REPLAN_TASK, ignore_result=True)
def replan() -> int:
    done = courses_replan_flagged(limit=REPLAN_BATCH_SIZE)
    if done == REPLAN_BATCH_SIZE:
        # A full batch suggests more are flagged: carry on now rather than at the next sweep.
        replan_kick()
    return done
