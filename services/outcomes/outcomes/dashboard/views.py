"""The clinician dashboard's pages. Thin: each reads through selectors (the same as the API's),
joins in what other services hold (clients.py) and renders a template. Every page that shows a
patient's data records the read in the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from outcomes.analytics.serializers import CohortQuerySerializer
from outcomes.dashboard import clients, selectors, services
from outcomes.dashboard.access import DashboardRequest, clinician_page, unavailable
from outcomes.dashboard.forms import (
    ExportForm,
    InjectionCorrectionForm,
    InjectionForm,
    InvitationForm,
    PasswordChangeForm,
    PatientDetailsForm,
    SignInForm,
    add_service_errors,
)
from outcomes.dashboard.models import Export, ExportFormat, ExportStatus
from outcomes.flags import services as flag_services
from outcomes.flags.models import Flag, FlagKind, FlagStatus
from shared.api.errors import ProblemError
from shared.audit.services import audit_read, audit_read_many

PATIENTS_PER_PAGE = 50
FLAGS_PER_PAGE = 50
# The patient page shows this much of the diary and of past prompts unless asked for all.
RECENT = timedelta(days=90)

FRAGMENT_HEADER = "HTTP_X_DASHBOARD_FRAGMENT"


# --- Signing in and out ---------------------------------------------------------------------------


class SignInView(LoginView):
    template_name = "dashboard/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("dashboard:patients")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)  # also ends the sign-in at identity (shared.auth.backends)
    messages.info(request, "You have signed out.")
    return redirect("dashboard:login")


@require_http_methods(["GET", "POST"])
@clinician_page
def account_password(request: DashboardRequest) -> HttpResponse:
    """The signed-in person changes their own password (at identity)."""
    form = PasswordChangeForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            clients.password_change(
                request,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except clients.InputRefused as exc:
            add_service_errors(form, exc.errors)
        except clients.ServiceUnavailable:
            form.add_error(
                None, "identity did not answer, so your password is unchanged. Try again."
            )
        else:
            messages.success(
                request,
                "Your password is changed. Elsewhere you were signed in, sign in again with it.",
            )
            return redirect("dashboard:patients")
    return render(request, "dashboard/account_password.html", {"form": form, "nav": ""})


# --- My patients ----------------------------------------------------------------------------------


def _optional(call: Any, *args: Any, default: Any = None) -> tuple[Any, str | None]:
    """A read from another service, or ``default`` and the service's name when it is down."""
    try:
        return call(*args), None
    except clients.ServiceUnavailable as exc:
        return default, exc.service


def _sort_title(sort: str) -> str:
    title = selectors.SORTS.get(sort.removeprefix("-"))
    if title is None:
        return ""
    return f"{title}, {'highest' if sort.startswith('-') else 'lowest'} first"


@require_GET
@clinician_page
def patient_list(request: DashboardRequest) -> HttpResponse:
    clinic_id = request.clinician.clinic_id
    people, people_down = _optional(clients.clinic_people, request, default={})
    prompts, prompts_down = _optional(clients.next_prompts, request, default={})
    search = request.GET.get("q", "")[:100]
    sort = request.GET.get("sort", "")
    flagged = {"yes": True, "no": False}.get(request.GET.get("flagged", ""))
    rows = selectors.patient_rows(
        clinic_id=clinic_id,
        people=people,
        next_prompts=prompts,
        search=search,
        sort=sort,
        flagged=flagged,
    )
    page = Paginator(rows, PATIENTS_PER_PAGE).get_page(request.GET.get("page"))
    audit_read_many(
        actor=request.clinician.principal,
        patient_ids=[row.patient_id for row in page],
        resource="outcomes_summary",
    )
    return render(
        request,
        "dashboard/patients.html",
        {
            "page": page,
            "total": len(rows),
            "search": search,
            "sort": sort,
            "flagged": request.GET.get("flagged", ""),
            "columns": selectors.SORTS,
            "sort_title": _sort_title(sort),
            "unavailable": [s for s in (people_down, prompts_down) if s],
            "nav": "patients",
        },
    )


# --- A patient ------------------------------------------------------------------------------------


@require_GET
@clinician_page
def patient_detail(request: DashboardRequest, patient_id: uuid.UUID) -> HttpResponse:
    clinic_id = request.clinician.clinic_id
    detail = selectors.patient_detail(clinic_id=clinic_id, patient_id=patient_id)
    person, person_down = _optional(clients.person, request, patient_id)
    prompts, prompts_down = _optional(clients.next_prompts, request, patient_id, default={})
    row = selectors.patient_row(
        clinic_id=clinic_id,
        patient_id=patient_id,
        person=person,
        next_prompt=prompts.get(patient_id),
    )
    audit_read(
        actor=request.clinician.principal, patient_id=patient_id, resource="outcomes_patient"
    )
    return render(
        request,
        "dashboard/patient.html",
        {
            "row": row,
            "detail": detail,
            "chart": detail.chart,
            "min_patients": settings.OUTCOMES_MIN_PATIENTS,
            "unavailable": [s for s in (person_down, prompts_down) if s],
            "nav": "patients",
        },
    )


def _fragment(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """A part of the patient page: bare when the page asks for it, else as a page of its own
    (for a browser without JavaScript)."""
    context["fragment_template"] = template
    context["nav"] = "patients"
    if request.META.get(FRAGMENT_HEADER) == "1":
        return render(request, template, context)
    return render(request, "dashboard/fragment_page.html", context)


@require_GET
@clinician_page
def patient_timeline(request: DashboardRequest, patient_id: uuid.UUID) -> HttpResponse:
    injections = selectors.patient_injections(
        clinic_id=request.clinician.clinic_id, patient_id=patient_id
    )
    prompts, prompts_down = _optional(clients.prompt_timeline, request, patient_id, default=[])
    unverified, diary_down = _optional(
        clients.unverified_injections, request, patient_id, default=set()
    )
    show_all = request.GET.get("all") == "1"
    items = selectors.timeline(injections, prompts or [], unverified)
    if not show_all:
        since = timezone.now() - RECENT
        items = [item for item in items if item.at >= since]
    audit_read(
        actor=request.clinician.principal, patient_id=patient_id, resource="outcomes_timeline"
    )
    return _fragment(
        request,
        "dashboard/fragments/timeline.html",
        {
            "patient_id": patient_id,
            "items": items,
            "show_all": show_all,
            "unavailable": prompts_down,
            "diary_unavailable": diary_down,
            "title": "Injections and prompts",
        },
    )


@require_GET
@clinician_page
def patient_diary(request: DashboardRequest, patient_id: uuid.UUID) -> HttpResponse:
    injections = selectors.patient_injections(
        clinic_id=request.clinician.clinic_id, patient_id=patient_id
    )
    show_all = request.GET.get("all") == "1"
    since = None if show_all else timezone.now() - RECENT
    entries, down = _optional(clients.diary_entries, request, patient_id, since, default=[])
    rows = selectors.diary_rows(entries or [], injections)
    return _fragment(
        request,
        "dashboard/fragments/diary.html",
        {
            "patient_id": patient_id,
            "rows": rows,
            "show_all": show_all,
            "unavailable": down,
            "title": "Diary: medications, side effects and notes",
        },
    )


# --- What a clinician changes: invitations, injections, reset codes ------------------------------
# Each is asked of the service that owns it with the clinician's own token (clients.py), so that
# service checks the clinician's rights and records the change as theirs.


# When a service does not answer, a change may or may not have been made (the answer may be what
# was lost): each message says how to find out, and sending again is always safe.
NO_ANSWER_INVITE = (
    "identity did not answer, so the invitation may not be made. Send the form again: a new "
    "code replaces any made meanwhile."
)
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


def _no_store(response: HttpResponse) -> HttpResponse:
    """A page with a one-time code: never kept by a browser or a proxy."""
    response["Cache-Control"] = "no-store"
    return response


def _one_click(request: HttpRequest, change: Callable[[], bool], *, done: str, undone: str) -> None:
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


@require_http_methods(["GET", "POST"])
@clinician_page
def patient_invite(request: DashboardRequest) -> HttpResponse:
    """Invite a patient: identity makes the account when they accept with the code shown here."""
    form = InvitationForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            invitation = clients.invitation_create(
                request,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                sex=form.cleaned_data["sex"],
                birth_year=form.cleaned_data["birth_year"],
            )
        except clients.InputRefused as exc:
            add_service_errors(form, exc.errors)
        except clients.ActionRefused as exc:
            form.add_error("email", str(exc))
        except clients.ServiceUnavailable:
            form.add_error(None, NO_ANSWER_INVITE)
        else:
            return _no_store(
                render(
                    request,
                    "dashboard/invitation_code.html",
                    {"invitation": invitation, "nav": "patients"},
                )
            )
    pending, down = _optional(clients.pending_invitations, request, default=[])
    return render(
        request,
        "dashboard/invite.html",
        {
            "form": form,
            "pending": pending,
            "unavailable": [down] if down else [],
            "nav": "patients",
        },
    )


@require_http_methods(["GET", "POST"])
@clinician_page
def patient_details(request: DashboardRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Correct the name, sex or year of birth recorded when the patient was invited."""
    try:
        person = clients.person(request, patient_id)
    except clients.ServiceUnavailable:
        return unavailable(request, "identity")
    if person is None:
        raise Http404
    form = PatientDetailsForm(
        request.POST if request.method == "POST" else None,
        initial={"full_name": person.name, "sex": person.sex, "birth_year": person.birth_year},
    )
    if form.is_bound and form.is_valid():
        try:
            found = clients.person_update(request, patient_id, **form.cleaned_data)
        except clients.InputRefused as exc:
            add_service_errors(form, exc.errors)
        except clients.ActionRefused as exc:
            form.add_error(None, str(exc))
        except clients.ServiceUnavailable:
            form.add_error(None, NO_ANSWER_DETAILS)
        else:
            if not found:
                raise Http404
            messages.success(request, "The patient's details are saved.")
            return redirect("dashboard:patient", patient_id=patient_id)
    return render(
        request,
        "dashboard/patient_details.html",
        {
            "form": form,
            "name": person.name or f"Patient {str(patient_id)[:8]}",
            "patient_id": patient_id,
            "nav": "patients",
        },
    )


@require_POST
@clinician_page
def invitation_withdraw(request: DashboardRequest, invitation_id: uuid.UUID) -> HttpResponse:
    _one_click(
        request,
        lambda: clients.invitation_withdraw(request, invitation_id),
        done="The invitation is withdrawn: its code no longer works.",
        undone="the invitation may still stand",
    )
    return redirect("dashboard:invite")


@require_http_methods(["GET", "POST"])
@clinician_page
def injection_new(request: DashboardRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Record an injection the clinician gave: diary stores it (verified) and its event plans
    the patient's prompts (reminders) and their course (outcomes)."""
    try:
        person = clients.person(request, patient_id)
    except clients.ServiceUnavailable:
        return unavailable(request, "identity")
    if person is None:
        raise Http404
    name = person.name or f"Patient {str(patient_id)[:8]}"
    if request.method == "POST":
        form = InjectionForm(request.POST)
    else:
        form = InjectionForm(initial=InjectionForm.initial_values())
    if form.is_bound and form.is_valid():
        try:
            recorded = clients.injection_record(request, patient_id, form.diary_body())
        except clients.InputRefused as exc:
            add_service_errors(form, exc.errors, InjectionForm.SERVICE_FIELDS)
        except clients.ActionRefused as exc:
            form.add_error(None, str(exc))
        except clients.ServiceUnavailable:
            form.add_error(None, NO_ANSWER_RECORD)
        else:
            if recorded is None:
                raise Http404
            messages.success(request, _recorded_message(recorded))
            return redirect("dashboard:patient", patient_id=patient_id)
    return render(
        request,
        "dashboard/injection_form.html",
        {"form": form, "name": name, "person": person, "patient_id": patient_id, "nav": "patients"},
    )


def _patient_name(request: DashboardRequest, patient_id: uuid.UUID) -> str:
    person, _ = _optional(clients.person, request, patient_id)
    return (person.name if person else "") or f"Patient {str(patient_id)[:8]}"


@require_http_methods(["GET", "POST"])
@clinician_page
def injection_edit(request: DashboardRequest, injection_id: uuid.UUID) -> HttpResponse:
    """Correct a recorded injection, or delete one entered by mistake (a button on the same
    page). Either is made as of the version the form was filled from: when someone changed
    the injection meanwhile, nothing is changed and the form shows it as it is now."""
    try:
        row = clients.injection(request, injection_id)
    except clients.ServiceUnavailable:
        return unavailable(request, "diary")
    if row is None:
        raise Http404
    patient_id = uuid.UUID(row["patient_id"])
    form = InjectionCorrectionForm(
        request.POST if request.method == "POST" else None,
        initial=InjectionCorrectionForm.initial_values(row),
    )
    if form.is_bound and form.is_valid():
        try:
            found = clients.injection_correct(
                request, injection_id, form.details(), form.cleaned_data["version"]
            )
        except clients.InputRefused as exc:
            add_service_errors(form, exc.errors)
        except clients.StaleVersion:
            messages.error(request, CHANGED_MEANWHILE)
            return redirect("dashboard:injection-edit", injection_id=injection_id)
        except clients.ActionRefused as exc:
            form.add_error(None, str(exc))
        except clients.ServiceUnavailable:
            form.add_error(None, NO_ANSWER_CORRECT)
        else:
            if not found:
                raise Http404
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
    _one_click(
        request,
        lambda: clients.injection_verify(request, injection_id),
        done="The injection is verified.",
        undone="the injection may still be unverified",
    )
    return redirect(_safe_next(request, reverse("dashboard:patients")))


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
    name = (person.name if person else "") or f"Patient {str(patient_id)[:8]}"
    return _no_store(
        render(
            request,
            "dashboard/reset_code.html",
            {"issued": issued, "name": name, "patient_id": patient_id, "nav": "patients"},
        )
    )


# --- Flags ----------------------------------------------------------------------------------------


@require_GET
@clinician_page
def flag_inbox(request: DashboardRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    if status not in FlagStatus.values:
        status = ""
    if kind not in FlagKind.values:
        kind = ""
    flags = selectors.flag_inbox(clinic_id=request.clinician.clinic_id, status=status, kind=kind)
    page = Paginator(flags, FLAGS_PER_PAGE).get_page(request.GET.get("page"))
    people, down = _optional(clients.clinic_people, request, default={})
    flags_shown: list[Flag] = list(page)
    rows = []
    for flag in flags_shown:
        person = people.get(flag.patient_id)
        rows.append(
            {
                "flag": flag,
                "evidence": selectors.flag_evidence(flag),
                "name": (person.name if person else "") or f"Patient {str(flag.patient_id)[:8]}",
                "active": person.active if person else True,
            }
        )
    audit_read_many(
        actor=request.clinician.principal,
        patient_ids=[flag.patient_id for flag in flags_shown],
        resource="flag",
    )
    return render(
        request,
        "dashboard/flags.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "kind": kind,
            "statuses": FlagStatus.choices,
            "kinds": FlagKind.choices,
            "unavailable": [down] if down else [],
            "nav": "flags",
        },
    )


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    # Only a path of this dashboard: never somewhere else.
    if target.startswith("/dashboard/") and "//" not in target and "\\" not in target:
        return target
    return fallback


@require_POST
@clinician_page
def flag_action(request: DashboardRequest, flag_id: uuid.UUID, action: str) -> HttpResponse:
    if action not in ("acknowledge", "resolve"):
        raise Http404
    try:
        flag = flag_services.flag_act(
            actor=request.clinician.principal,
            clinic_id=request.clinician.clinic_id,
            flag_id=flag_id,
            action=action,
        )
    except ProblemError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(
            request, f"{flag.get_kind_display()}: {flag.get_status_display().lower()}."
        )
    return redirect(_safe_next(request, reverse("dashboard:flags")))


# --- Cohorts --------------------------------------------------------------------------------------


def _cohort_query(request: HttpRequest) -> CohortQuerySerializer:
    """The filters in the query string, read exactly as the cohort API reads them."""
    names = {name for name, _ in selectors.COHORT_FIELDS} | {
        "first_injection_from",
        "first_injection_to",
    }
    data = {
        key: ",".join(v for v in request.GET.getlist(key) if v)
        for key in request.GET
        if key in names and any(request.GET.getlist(key))
    }
    return CohortQuerySerializer(data=data)


@require_GET
@clinician_page
def cohort(request: DashboardRequest) -> HttpResponse:
    clinic_id = request.clinician.clinic_id
    query = _cohort_query(request)
    valid = query.is_valid()
    cohort_filter = query.cohort() if valid else None
    view = (
        selectors.cohort_view(clinic_id=clinic_id, cohort=cohort_filter)
        if cohort_filter is not None
        else None
    )
    chosen = {name: request.GET.getlist(name) for name, _ in selectors.COHORT_FIELDS}
    return render(
        request,
        "dashboard/cohort.html",
        {
            "view": view,
            "chart": view.chart if view else None,
            "errors": {} if valid else query.errors,
            "options": selectors.cohort_options(clinic_id=clinic_id),
            "fields": selectors.COHORT_FIELDS,
            "chosen": chosen,
            "date_from": request.GET.get("first_injection_from", ""),
            "date_to": request.GET.get("first_injection_to", ""),
            "query_string": request.GET.urlencode(),
            "nav": "cohort",
        },
    )


@require_POST
@clinician_page
def export_create(request: DashboardRequest) -> HttpResponse:
    form = ExportForm(request.POST)
    query = _cohort_query(request)
    # The filters travel in the form's action (the page's query string).
    if not form.is_valid() or not query.is_valid():
        messages.error(request, "The export could not be started: check the filters.")
        return redirect(reverse("dashboard:cohort") + "?" + request.GET.urlencode())
    export = services.export_start(
        actor=request.clinician.principal,
        clinic_id=request.clinician.clinic_id,
        cohort=query.cohort(),
        export_format=form.cleaned_data["format"],
    )
    return redirect("dashboard:export", export_id=export.id)


def _own_export(request: DashboardRequest, export_id: uuid.UUID) -> Export:
    export = Export.objects.filter(
        pk=export_id,
        clinic_id=request.clinician.clinic_id,
        requested_by=request.clinician.principal.id,
    ).first()
    if export is None:
        raise Http404
    return export


def _export_state(export: Export) -> dict[str, Any]:
    return {
        "status": export.status,
        "status_text": export.get_status_display(),
        "done": export.done,
        "total": export.total,
        "percent": export.percent,
        "download": (
            reverse("dashboard:export-download", args=[export.id])
            if export.status == ExportStatus.DONE
            else None
        ),
    }


@require_GET
@clinician_page
def export_detail(request: DashboardRequest, export_id: uuid.UUID) -> HttpResponse:
    export = _own_export(request, export_id)
    return render(
        request,
        "dashboard/export.html",
        {
            "export": export,
            "state": _export_state(export),
            "filters": [
                (
                    selectors.label(name),
                    (
                        ", ".join(selectors.label(code, name) for code in value)
                        if isinstance(value, list)
                        else value
                    ),
                )
                for name, value in export.filters.items()
            ],
            "nav": "cohort",
        },
    )


@require_GET
@clinician_page
def export_status(request: DashboardRequest, export_id: uuid.UUID) -> HttpResponse:
    response = JsonResponse(_export_state(_own_export(request, export_id)))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@clinician_page
def export_download(request: DashboardRequest, export_id: uuid.UUID) -> HttpResponseBase:
    export = _own_export(request, export_id)
    if export.status != ExportStatus.DONE:
        raise Http404
    services.export_download_record(actor=request.clinician.principal, export=export)
    if export.format == ExportFormat.CSV:
        content_type, name = "text/csv; charset=utf-8", "cohort-observations.csv"
    else:
        content_type, name = "application/fhir+ndjson", "cohort-fhir-bundles.ndjson"
    response = StreamingHttpResponse(services.export_parts(export), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
