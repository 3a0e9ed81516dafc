"""The identity service.

Accounts, clinics, roles, invitations, tokens and the public signing keys.
"""

from identity.celery_app import app as celery_app

__all__ = ["celery_app"]
