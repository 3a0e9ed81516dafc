"""The reminders service.

Schedules of pain-score prompts after each injection, and their delivery.
"""

from reminders.celery_app import app as celery_app

__all__ = ["celery_app"]
