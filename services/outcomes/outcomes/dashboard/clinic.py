"""The clinic administrator's pages: the clinic's people (staff and patients) and their accounts,
inviting colleagues, giving a password reset code, deactivating and reactivating an account, and
erasing a patient. identity owns all of it and decides each change with the administrator's own
token (clients.py), as for the clinician's changes (ADR 0018). An administrator sees people's
names, addresses, roles and standing, never their health data (ADR 0019); the reads of patients'
accounts are recorded in the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from outcomes.dashboard import clients
from outcomes.dashboard.access import DashboardRequest, clinic_admin_page
from outcomes.dashboard.forms import ColleagueInvitationForm, DeactivateForm, EraseForm
from outcomes.dashboard.parts import invite_page, no_store, one_click, sent
from shared.audit.services import audit_read_many

PEOPLE_PER_PAGE = 50
STAFF_ROLES = frozenset({"clinician", "clinic_admin"})
# The list's filter: its value, and the words for it.
ROLE_FILTERS = {
    "": "Everyone",
    "clinician": "Clinicians",
    "clinic_admin": "Clinic administrators",
    "patient": "Patients",
}


def _patients_read(request: DashboardRequest, accounts: list[clients.Account], what: str) -> None:
    """The administrator read these patients' accounts (names, addresses, standing)."""
    patient_ids = [a.user_id for a in accounts if "patient" in a.roles]
    if patient_ids:
        audit_read_many(actor=request.staff.principal, patient_ids=patient_ids, resource=what)


@require_GET
@clinic_admin_page
def people(request: DashboardRequest) -> HttpResponse:
    """Everyone with a role in the clinic: filter by role, search by name or address."""
    role = request.GET.get("role", "")
    if role not in ROLE_FILTERS:
        role = ""
    search = request.GET.get("q", "").strip()[:100]
    accounts = clients.clinic_accounts(request, role)
    if search:
        needle = search.casefold()
        accounts = [a for a in accounts if needle in f"{a.name}\n{a.email}".casefold()]
    page = Paginator(accounts, PEOPLE_PER_PAGE).get_page(request.GET.get("page"))
    _patients_read(request, list(page), "clinic_people")
    return render(
        request,
        "dashboard/clinic_people.html",
        {
            "page": page,
            "total": len(accounts),
            "role": role,
            "roles": ROLE_FILTERS,
            "search": search,
            "nav": "people",
        },
    )


def _account(request: DashboardRequest, user_id: uuid.UUID) -> clients.Account:
    account = clients.clinic_account(request, user_id)
    if account is None:
        raise Http404
    _patients_read(request, [account], "clinic_person")
    return account


def _person_page(
    request: DashboardRequest,
    account: clients.Account,
    deactivate_form: DeactivateForm | None = None,
) -> HttpResponse:
    return render(
        request,
        "dashboard/clinic_person.html",
        {
            "account": account,
            "name": clients.display_name(account.name, account.user_id),
            "is_self": account.user_id == request.staff.principal.id,
            "deactivate_form": deactivate_form or DeactivateForm(),
            "nav": "people",
        },
    )


@require_GET
@clinic_admin_page
def person(request: DashboardRequest, user_id: uuid.UUID) -> HttpResponse:
    """One person of the clinic: their roles and standing, and what the administrator may do
    about their account."""
    return _person_page(request, _account(request, user_id))


@require_POST
@clinic_admin_page
def person_deactivate(request: DashboardRequest, user_id: uuid.UUID) -> HttpResponse:
    """End the person's access until they are reactivated: no sign-in, no prompts; their
    records stay."""
    account = _account(request, user_id)
    form = DeactivateForm(request.POST)
    if not form.is_valid():
        return _person_page(request, account, form)
    return _standing_changed(
        request,
        account,
        clients.account_deactivate,
        done="account is deactivated: they can no longer sign in.",
        undone="the account may still be active",
    )


@require_POST
@clinic_admin_page
def person_reactivate(request: DashboardRequest, user_id: uuid.UUID) -> HttpResponse:
    """Let a deactivated person sign in again (a patient is prompted again)."""
    return _standing_changed(
        request,
        _account(request, user_id),
        clients.account_reactivate,
        done="account is active again: they can sign in with their password.",
        undone="the account may still be deactivated",
    )


def _standing_changed(
    request: DashboardRequest,
    account: clients.Account,
    change: Callable[[DashboardRequest, uuid.UUID], bool],
    *,
    done: str,
    undone: str,
) -> HttpResponse:
    """Deactivate or reactivate the account at identity, say how it went ("<name>'s " and
    ``done``), and show the person's page again."""
    name = clients.display_name(account.name, account.user_id)
    one_click(
        request,
        lambda: change(request, account.user_id),
        done=f"{name}'s {done}",
        undone=undone,
    )
    return redirect("dashboard:person", user_id=account.user_id)


@require_POST
@clinic_admin_page
def person_password_reset(request: DashboardRequest, user_id: uuid.UUID) -> HttpResponse:
    """A one-time code with which the person sets a new password, shown once."""
    back = reverse("dashboard:person", args=[user_id])
    try:
        account = clients.clinic_account(request, user_id)
        issued = clients.password_reset_code(request, user_id) if account else None
    except clients.ServiceUnavailable:
        messages.error(request, "identity did not answer, so no code was made. Try again.")
        return redirect(back)
    except clients.ActionRefused as exc:
        messages.error(request, str(exc))
        return redirect(back)
    if account is None or issued is None:
        raise Http404
    return no_store(
        render(
            request,
            "dashboard/reset_code.html",
            {
                "issued": issued,
                "name": clients.display_name(account.name, user_id),
                "for_patient": account.is_patient_only,
                "back_url": back,
                "nav": "people",
            },
        )
    )


@require_http_methods(["GET", "POST"])
@clinic_admin_page
def person_erase(request: DashboardRequest, user_id: uuid.UUID) -> HttpResponse:
    """Erase a patient's personal data (their right to erasure), confirmed by typing their
    e-mail address. identity scrubs the account; diary, reminders and outcomes act on its
    event. Irreversible."""
    account = _account(request, user_id)
    if not account.is_patient_only:
        raise Http404  # only a patient's account is erased; staff are deactivated
    name = clients.display_name(account.name, user_id)
    form = EraseForm(
        request.POST if request.method == "POST" else None, expected_email=account.email
    )
    erased = (
        form.is_bound
        and form.is_valid()
        and sent(
            form,
            lambda: clients.patient_erase(request, user_id),
            no_answer=(
                "identity did not answer, so the patient may not be erased. Send the form "
                "again: erasing twice changes nothing more."
            ),
        )
    )
    if erased:
        messages.success(
            request,
            f"{name}'s personal data is erased. The diary, reminders and outcomes forget "
            "them as they take in the erasure, usually within seconds.",
        )
        return redirect("dashboard:people")
    return render(
        request,
        "dashboard/clinic_erase.html",
        {"form": form, "account": account, "name": name, "nav": "people"},
    )


@require_http_methods(["GET", "POST"])
@clinic_admin_page
def colleague_invite(request: DashboardRequest) -> HttpResponse:
    """Invite a clinician or another administrator: the code shown once is theirs to join with
    on the dashboard's "Join with an invitation code" page."""
    return invite_page(
        request,
        ColleagueInvitationForm(request.POST if request.method == "POST" else None),
        roles=STAFF_ROLES,
        template="dashboard/clinic_invite.html",
        back_url=reverse("dashboard:people"),
        nav="people",
    )
