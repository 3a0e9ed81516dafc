"""Events between services: the catalogue of types, the consumer's handler registry and handling.

Producers write events with ``shared.outbox.services.event_publish``; consumers write
``<app>/handlers.py`` with functions decorated by ``shared.events.registry.event_handler``.
"""
