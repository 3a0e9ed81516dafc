"""The diary service.

The phone app's pain diary: injections, pain entries, questionnaires, offline sync.
"""

from diary.celery_app import app as celery_app

__all__ = ["celery_app"]
