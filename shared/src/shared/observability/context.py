from __future__ import annotations

from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="")
_user_id: ContextVar[str] = ContextVar("user_id", default="")


def current_request_id() -> str:
    return _request_id.get()


def current_user_id() -> str:
    return _user_id.get()


def bind(*, request_id: str | None = None, user_id: str | None = None) -> None:
    if request_id is not None:
        _request_id.set(request_id)
    if user_id is not None:
        _user_id.set(user_id)
