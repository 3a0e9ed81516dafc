"""The outcomes service. Recovery curves, responder rates and benchmark comparisons."""

from outcomes.celery_app import app as celery_app

__all__ = ["celery_app"]
