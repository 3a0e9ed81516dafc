"""The changes a clinician makes on the dashboard: inviting a patient and correcting their
details, giving a password reset code (identity), recording, correcting, deleting and verifying
injections (diary). Each is asked of the service that owns it with the clinician's own token
(clients.py), so that service checks the clinician's rights and records the change as theirs
(ADR 0018). Views are thin: the form checks what it can, the service decides."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.http import require_http_methods, require_POST

from outcomes.dashboard import clients
from outcomes.dashboard.access import DashboardRequest, clinician_page, staff_member_page
from outcomes.dashboard.forms import (
    InjectionCorrectionForm,
    InjectionForm,
    InvitationForm,
    PatientDetailsForm,
)
from outcomes.dashboard.parts import invite_page, no_store, one_click, optional, safe_next, sent

# When a service does not answer, a change may or may not have been made (the answer may be what
# was lost): each message says how to find out, and sending again is always safe.
NO_ANSWER_RECORD = (
    "diary did not answer, so the injection may not be recorded. Send the form again: it is "
    "never recorded twice."
)
NO_ANSWER_CORRECT = (
    "diary did not answer, so the correction may not be saved. Send it again: if it was saved, "
    "the page says the injection changed and shows it as it is."
)
NO_ANSWER_DETAILS = (
    "identity did not answer, so the details may not be saved. Send the form again: saving the "
    "same details twice changes nothing."
)
NO_ANSWER_DELETE = "the injection may not be deleted. The patient's timeline shows whether it is."


@require_http_methods(["GET", "POST"])
@clinician_page
def patient_invite(request: DashboardRequest) -> HttpResponse:
    """Invite a patient: identity makes the account when they accept with the code shown here."""
    return invite_page(
        request,
        InvitationForm(request.POST if request.method == "POST" else None),
        roles=frozenset({"patient"}),
        template="dashboard/invite.html",
        back_url=reverse("dashboard:patients"),
        nav="patients",
    )


@require_http_methods(["GET", "POST"])
@clinician_page
def patient_details(request: DashboardRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Correct the name, sex or year of birth recorded when the patient was invited."""
    person = clients.person(request, patient_id)
    if person is None:
        raise Http404
    form = PatientDetailsForm(
        request.POST if request.method == "POST" else None,
        initial={"full_name": person.name, "sex": person.sex, "birth_year": person.birth_year},
    )
    saved = (
        form.is_bound
        and form.is_valid()
        and sent(
            form,
            lambda: clients.person_update(request, patient_id, **form.cleaned_data),
            no_answer=NO_ANSWER_DETAILS,
        )
    )
    if saved:
        messages.success(request, "The patient's details are saved.")
        return redirect("dashboard:patient", patient_id=patient_id)
    return render(
        request,
        "dashboard/patient_details.html",
        {
            "form": form,
            "name": clients.display_name(person.name, patient_id),
            "patient_id": patient_id,
            "nav": "patients",
        },
    )


@require_POST
@staff_member_page
def invitation_withdraw(request: DashboardRequest, invitation_id: uuid.UUID) -> HttpResponse:
    """Withdraw an open invitation (a clinician's of a patient, an administrator's of a
    colleague: identity decides which the caller may withdraw)."""
    one_click(
        request,
        lambda: clients.invitation_withdraw(request, invitation_id),
        done="The invitation is withdrawn: its code no longer works.",
        undone="the invitation may still stand",
    )
    return redirect(safe_next(request, reverse("dashboard:invite")))


@require_http_methods(["GET", "POST"])
@clinician_page
def injection_new(request: DashboardRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Record an injection the clinician gave: diary stores it (verified) and its event plans
    the patient's prompts (reminders) and their course (outcomes)."""
    person = clients.person(request, patient_id)
    if person is None:
        raise Http404
    name = clients.display_name(person.name, patient_id)
    if request.method == "POST":
        form = InjectionForm(request.POST)
    else:
        form = InjectionForm(initial=InjectionForm.initial_values())
    if form.is_bound and form.is_valid():
        recorded = sent(
            form,
            lambda: clients.injection_record(request, patient_id, form.diary_body()),
            no_answer=NO_ANSWER_RECORD,
            renamed=InjectionForm.SERVICE_FIELDS,
        )
        if recorded:
            messages.success(request, _recorded_message(recorded))
            return redirect("dashboard:patient", patient_id=patient_id)
    return render(
        request,
        "dashboard/injection_form.html",
        {"form": form, "name": name, "person": person, "patient_id": patient_id, "nav": "patients"},
    )


def _patient_name(request: DashboardRequest, patient_id: uuid.UUID) -> str:
    person, _ = optional(clients.person, request, patient_id)
    return clients.display_name(person.name if person else "", patient_id)


@require_http_methods(["GET", "POST"])
@clinician_page
def injection_edit(request: DashboardRequest, injection_id: uuid.UUID) -> HttpResponse:
    """Correct a recorded injection, or delete one entered by mistake (a button on the same
    page). Either is made as of the version the form was filled from: when someone changed
    the injection meanwhile, nothing is changed and the form shows it as it is now."""
    row = clients.injection(request, injection_id)
    if row is None:
        raise Http404
    patient_id = uuid.UUID(row["patient_id"])
    form = InjectionCorrectionForm(
        request.POST if request.method == "POST" else None,
        initial=InjectionCorrectionForm.initial_values(row),
    )
    if form.is_bound and form.is_valid():
        try:
            corrected = sent(
                form,
                lambda: clients.injection_correct(
                    request, injection_id, form.details(), form.cleaned_data["version"]
                ),
                no_answer=NO_ANSWER_CORRECT,
            )
        except clients.StaleVersion:
            messages.error(request, CHANGED_MEANWHILE)
            return redirect("dashboard:injection-edit", injection_id=injection_id)
        if corrected:
            messages.success(request, "The injection is corrected.")
            return redirect("dashboard:patient", patient_id=patient_id)
    return render(
        request,
        "dashboard/injection_form.html",
        {
            "form": form,
            "name": _patient_name(request, patient_id),
            "patient_id": patient_id,
            "injection": row,
            "nav": "patients",
        },
    )


CHANGED_MEANWHILE = (
    "Someone changed this injection after you opened it, so nothing was changed. Here it is as "
    "it is now: make your change again if it is still needed."
)


@require_POST
@clinician_page
def injection_remove(request: DashboardRequest, injection_id: uuid.UUID) -> HttpResponse:
    """Delete an injection entered by mistake, as of the version the page showed."""
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        raise Http404 from None
    edit_page = reverse("dashboard:injection-edit", args=[injection_id])
    try:
        row = clients.injection(request, injection_id)
    except clients.ServiceUnavailable:
        messages.error(request, "diary did not answer, so nothing was deleted. Try again.")
        return redirect(edit_page)
    if row is None:
        raise Http404
    patient_page = reverse("dashboard:patient", args=[row["patient_id"]])
    try:
        if not clients.injection_delete(request, injection_id, version):
            raise Http404
    except clients.StaleVersion:
        messages.error(request, CHANGED_MEANWHILE)
        return redirect(edit_page)
    except clients.ActionRefused as exc:
        messages.error(request, str(exc))
        return redirect(edit_page)
    except clients.ServiceUnavailable:
        messages.error(request, f"diary did not answer: {NO_ANSWER_DELETE}")
        return redirect(patient_page)
    messages.success(request, "The injection is deleted. Its prompts still to come are cancelled.")
    return redirect(patient_page)


@require_POST
@clinician_page
def injection_verify(request: DashboardRequest, injection_id: uuid.UUID) -> HttpResponse:
    """Confirm an injection a patient reported: diary marks it verified, by this clinician."""
    one_click(
        request,
        lambda: clients.injection_verify(request, injection_id),
        done="The injection is verified.",
        undone="the injection may still be unverified",
    )
    return redirect(safe_next(request, reverse("dashboard:patients")))


def _recorded_message(recorded: clients.RecordedInjection) -> str:
    when = (
        dateformat.format(timezone.localtime(recorded.performed_at), "j M Y, H:i")
        if recorded.performed_at
        else "the time given"
    )
    number = (
        f", injection {recorded.number_in_course} of its course"
        if recorded.number_in_course
        else ""
    )
    if not recorded.created:
        return f"This injection ({when}{number}) was recorded already; nothing was added."
    return (
        f"Injection of {when} recorded{number}. Its prompts are planned and it shows below "
        "once outcomes has taken it in, usually within seconds."
    )


@require_POST
@clinician_page
def patient_password_reset(request: DashboardRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Ask identity for a one-time code the patient sets a new password with, and show it once
    (the answer is not stored anywhere, nor cached)."""
    patient_page = reverse("dashboard:patient", args=[patient_id])
    try:
        issued = clients.password_reset_code(request, patient_id)
        person = clients.person(request, patient_id)
    except clients.ServiceUnavailable:
        messages.error(request, "identity did not answer, so no code was made. Try again.")
        return redirect(patient_page)
    except clients.ActionRefused as exc:
        messages.error(request, str(exc))
        return redirect(patient_page)
    if issued is None:
        raise Http404
    name = clients.display_name(person.name if person else "", patient_id)
    return no_store(
        render(
            request,
            "dashboard/reset_code.html",
            {
                "issued": issued,
                "name": name,
                "for_patient": True,
                "back_url": patient_page,
                "nav": "patients",
            },
        )
    )
