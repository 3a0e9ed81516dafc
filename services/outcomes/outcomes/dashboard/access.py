"""Who may see a dashboard page, and in which clinic and time zone.

A page needs a web sign-in through identity (shared.auth.backends) whose latest token carries a
clinic and the role the page is for: the clinician's pages (patients, flags, cohorts) need the
clinician role, the clinic's administration (its people and invitations) the clinic admin role.
Anyone else signed in sees a plain "not for you" page (403) that points to the pages they may use;
an anonymous visitor is sent to the sign-in page. The sign-in is checked with identity whenever its
access token is due for a refresh (every few minutes), so a deactivated account is shut out of the
dashboard soon after, not when the web session would have ended.
"""

from __future__ import annotations

import functools
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from outcomes.dashboard import clients
from shared.auth.backends import IdentityUnavailable, session_access_token, session_principal
from shared.auth.principal import Role, TokenUser

SESSION_CLINIC_KEY = "dashboard_clinic"


@dataclass(frozen=True)
class StaffMember:
    """The signed-in member of a clinic's staff a page is shown to."""

    principal: TokenUser
    clinic_id: uuid.UUID
    clinic_name: str
    timezone: str

    @property
    def is_clinician(self) -> bool:
        return self.principal.has_role(Role.CLINICIAN)

    @property
    def is_clinic_admin(self) -> bool:
        return self.principal.has_role(Role.CLINIC_ADMIN)


class DashboardRequest(HttpRequest):
    staff: StaffMember


View = Callable[..., HttpResponseBase]


def _clinic(request: HttpRequest) -> tuple[str, str]:
    """The clinic's name and time zone, asked of identity once per web session."""
    stored = request.session.get(SESSION_CLINIC_KEY)
    if stored:
        return stored["name"], stored["timezone"]
    clinic = clients.own_clinic(request)
    if clinic is None:
        return "", "UTC"
    request.session[SESSION_CLINIC_KEY] = {"name": clinic.name, "timezone": clinic.timezone}
    return clinic.name, clinic.timezone


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def sign_in_again(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "Your sign-in has ended. Please sign in again.")
    return redirect_to_login(request.get_full_path(), reverse("dashboard:login"))


def unavailable(request: HttpRequest, service: str) -> HttpResponse:
    return render(request, "dashboard/unavailable.html", {"service": service}, status=503)


def home_url(principal: TokenUser | None) -> str:
    """Where a signed-in person starts: a clinician at their patients, a clinic admin at the
    clinic's people."""
    if principal is not None and principal.clinic_id is not None:
        if principal.has_role(Role.CLINICIAN):
            return reverse("dashboard:patients")
        if principal.has_role(Role.CLINIC_ADMIN):
            return reverse("dashboard:people")
    return reverse("dashboard:patients")


def _forbidden(request: HttpRequest, principal: TokenUser, roles: tuple[str, ...]) -> HttpResponse:
    """ "Not for you", and a way to the pages of the roles the person has, if any."""
    own = home_url(principal)
    has_other = principal.clinic_id is not None and principal.has_role(
        Role.CLINICIAN, Role.CLINIC_ADMIN
    )
    return render(
        request,
        "dashboard/forbidden.html",
        {
            "for_clinicians": Role.CLINICIAN in roles,
            "home": own if has_other and own != request.path else None,
        },
        status=403,
    )


def staff_page(*roles: str) -> Callable[[View], View]:
    """Lets the staff of a clinic with one of ``roles`` through, with ``request.staff`` set and
    times shown in the clinic's zone; an object outside their clinic answers a plain 404 page,
    and a service the page cannot do without that does not answer a "try again" page (503)."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return _staff_view(view, roles, request, *args, **kwargs)

        return wrapped

    return decorator


def _staff_view(
    view: View, roles: tuple[str, ...], request: HttpRequest, *args: Any, **kwargs: Any
) -> HttpResponseBase:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), reverse("dashboard:login"))
    try:
        if session_principal(request) is None or session_access_token(request) is None:
            return sign_in_again(request)
    except IdentityUnavailable:
        return unavailable(request, "identity")
    principal = session_principal(request)
    if principal is None:
        return sign_in_again(request)
    if not principal.has_role(*roles) or principal.clinic_id is None:
        return _forbidden(request, principal, roles)
    try:
        name, zone_name = _clinic(request)
    except clients.SignInEnded:
        return sign_in_again(request)
    except clients.ServiceUnavailable:
        name, zone_name = "", "UTC"
    dashboard_request = cast(DashboardRequest, request)
    dashboard_request.staff = StaffMember(
        principal=principal,
        clinic_id=principal.clinic_id,
        clinic_name=name,
        timezone=zone_name,
    )
    timezone.activate(_zone(zone_name))
    try:
        return view(dashboard_request, *args, **kwargs)
    except Http404:
        return render(request, "dashboard/not_found.html", status=404)
    except clients.SignInEnded:
        return sign_in_again(request)
    except clients.ServiceUnavailable as exc:
        # A page that cannot be shown without another service says which, and keeps the
        # person signed in; pages that can do without it catch this themselves.
        return unavailable(request, exc.service)
    finally:
        timezone.deactivate()


# The clinician's pages: their clinic's patients, flags and cohorts.
clinician_page = staff_page(Role.CLINICIAN)
# The clinic's administration: its people, their invitations and accounts.
clinic_admin_page = staff_page(Role.CLINIC_ADMIN)
# The signed-in person's own account (their password), for any member of a clinic's staff.
staff_member_page = staff_page(Role.CLINICIAN, Role.CLINIC_ADMIN)
