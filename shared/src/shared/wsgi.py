"""A service's WSGI application, loaded in full before its first request.

Django imports a service's URL patterns, and every view module they name, at the first request
that needs them, and compiles each pattern's regular expression at its first use; Celery resolves
the broker transport, the result backend and its task-event classes at the first message (the
relay request after the first write: about 50 ms). A web worker, started anew every few thousand
requests (Gunicorn's ``max_requests``), would pay for all of that in its first requests: a few
hundred milliseconds of CPU, while it is already taking traffic. ``service_application`` does it
at start-up instead.

Then everything loaded so far is moved out of the garbage collector's full passes
(``gc.freeze``): it lives as long as the process, and a request that allocates many objects (a
500-item sync) would otherwise make the collector walk it again and again.
"""

from __future__ import annotations

import gc
import os

from celery import current_app
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver


def service_application(settings_module: str) -> WSGIHandler:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module)
    application = get_wsgi_application()
    # Imports the URLconf, the URLconfs it includes and their views; builds the lookup tables
    # that compile every pattern.
    get_resolver().reverse_dict  # noqa: B018 - evaluated for its side effect
    broker = current_app.connection_for_write()
    try:
        broker.get_transport_cls()  # imports the transport; connects nowhere
    finally:
        broker.release()
    # Sending a task looks up the result backend (per thread); the lookup imports its module.
    current_app.backend  # noqa: B018 - evaluated for its side effect; connects nowhere
    current_app.events.Dispatcher  # noqa: B018 - likewise: the task-event class a send consults
    gc.collect()
    gc.freeze()
    return application
