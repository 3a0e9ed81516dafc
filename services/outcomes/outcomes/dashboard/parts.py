"""What the dashboard's pages share: reading another service that may be down, asking it for a
change and saying how that went, pages with one-time codes, and where a button may send the
person back to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from outcomes.dashboard import clients
from outcomes.dashboard.forms import add_service_errors

T = TypeVar("T")


def optional(call: Any, *args: Any, default: Any = None) -> tuple[Any, str | None]:
    """A read from another service, or ``default`` and the service's name when it is down."""
    try:
        return call(*args), None
    except clients.ServiceUnavailable as exc:
        return default, exc.service


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    # Only a path of this dashboard: never somewhere else.
    if target.startswith("/dashboard/") and "//" not in target and "\\" not in target:
        return target
    return fallback


def no_store(response: HttpResponse) -> HttpResponse:
    """A page with a one-time code: never kept by a browser or a proxy."""
    response["Cache-Control"] = "no-store"
    return response


def sent(
    form: forms.Form,
    change: Callable[[], T | None],
    *,
    no_answer: str,
    refused_on: str | None = None,
    renamed: dict[str, str] | None = None,
) -> T | None:
    """A valid form's change asked of the service that owns it: the service's answer, or None
    when it refused the change (its reasons go on the form: input beside the fields it names,
    a refused change on ``refused_on`` or the whole form) or did not answer (``no_answer``).
    "Not found" when the service does not know the object in the clinician's clinic."""
    try:
        answer = change()
    except clients.InputRefused as exc:
        add_service_errors(form, exc.errors, renamed)
        return None
    except clients.ActionRefused as exc:
        form.add_error(refused_on, str(exc))
        return None
    except clients.ServiceUnavailable:
        form.add_error(None, no_answer)
        return None
    if not answer:
        raise Http404
    return answer


def one_click(request: HttpRequest, change: Callable[[], bool], *, done: str, undone: str) -> None:
    """A change asked of another service from a button, and a message of how it went; "not
    found" when that service does not know the object in the clinician's clinic."""
    try:
        found = change()
    except clients.ServiceUnavailable as exc:
        messages.error(request, f"{exc.service} did not answer, so {undone}. Try again.")
        return
    except clients.ActionRefused as exc:
        messages.error(request, str(exc))
        return
    if not found:
        raise Http404
    messages.success(request, done)


NO_ANSWER_INVITE = (
    "identity did not answer, so the invitation may not be made. Send the form again: a new "
    "code replaces any made meanwhile."
)


def invite_page(
    request: HttpRequest,
    form: forms.Form,
    *,
    roles: frozenset[str],
    template: str,
    back_url: str,
    nav: str,
) -> HttpResponse:
    """An invitation page: a valid form's invitation made at identity and its one-time code
    shown once (never cached), or the form again with why not; below it, the open invitations
    to ``roles``, each with "New code" and "Withdraw"."""
    if form.is_bound and form.is_valid():
        invitation = sent(
            form,
            lambda: clients.invitation_create(request, **form.cleaned_data),
            no_answer=NO_ANSWER_INVITE,
            refused_on="email",  # an address already in use
        )
        if invitation:
            context = {
                "invitation": invitation,
                "join_url": request.build_absolute_uri(reverse("dashboard:join")),
                "again_url": request.path,
                "back_url": back_url,
                "nav": nav,
            }
            return no_store(render(request, "dashboard/invitation_code.html", context))
    pending, down = optional(clients.pending_invitations, request, roles, default=[])
    context = {"form": form, "pending": pending, "unavailable": [down] if down else [], "nav": nav}
    return render(request, template, context)
