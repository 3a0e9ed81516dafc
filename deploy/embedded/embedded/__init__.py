"""The embedded default: every service, its Celery worker and beat on one machine, no servers.

``deploy/embedded/run.py`` is the entry point (``make run``); the end-to-end tests reuse the
process supervision and service commands from this package.
"""
