"""Which functions of this service handle which event types.

A service writes ``<app>/handlers.py``::

    from shared.events.registry import event_handler

    @event_handler("diary.injection.recorded")
    def plan_prompts(envelope: Envelope) -> None:
        prompt_plan_for_injection(injection_id=envelope["data"]["injection_id"], ...)

The module is imported when Django starts (see ``autodiscover_handlers``). A handler runs inside the
transaction that records the event as processed, so its writes and that record commit together; it
must not call other services or enqueue work except through ``transaction.on_commit`` or the
outbox, because a retry runs it again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module

from django.apps import apps
from django.utils.module_loading import module_has_submodule

from shared.events.catalogue import Envelope, event_type

Handler = Callable[[Envelope], None]

HANDLERS_MODULE = "handlers"

_handlers: dict[str, list[Handler]] = {}


def event_handler(*types: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as this service's handler of the given event types."""
    if not types:
        raise TypeError("event_handler needs at least one event type")
    for name in types:
        event_type(name)  # a misspelt type fails when the module is imported, not in production

    def register(handler: Handler) -> Handler:
        for name in types:
            registered = _handlers.setdefault(name, [])
            if handler not in registered:
                registered.append(handler)
        return handler

    return register


def handlers_for(name: str) -> tuple[Handler, ...]:
    return tuple(_handlers.get(name, ()))


def handled_types() -> frozenset[str]:
    return frozenset(name for name, handlers in _handlers.items() if handlers)


def autodiscover_handlers() -> None:
    """Import the ``handlers`` module of every installed app that has one.

    Django's own apps are skipped: some ship an unrelated ``handlers`` module (WSGI handlers).
    """
    for config in apps.get_app_configs():
        if config.name.startswith("django.") or config.module is None:
            continue
        if module_has_submodule(config.module, HANDLERS_MODULE):
            import_module(f"{config.name}.{HANDLERS_MODULE}")


@contextmanager
def isolated_handlers() -> Iterator[None]:
    """For tests: handlers registered inside the block are forgotten when it ends."""
    saved = {name: list(handlers) for name, handlers in _handlers.items()}
    try:
        yield
    finally:
        _handlers.clear()
        _handlers.update(saved)
