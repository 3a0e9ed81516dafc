"""The clinician dashboard's pages. Thin: each reads through selectors (the same as the API's),
joins in what other services hold (clients.py) and renders a template. Every page that shows a
patient's data records the read in the audit trail. The changes a clinician makes in other
services are in changes.py, the clinic administrator's pages in clinic.py, and signing in and the
person's own account in account.py."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from outcomes.analytics.serializers import CohortQuerySerializer
from outcomes.dashboard import clients, selectors, services
from outcomes.dashboard.access import DashboardRequest, clinician_page
from outcomes.dashboard.forms import ExportForm
from outcomes.dashboard.models import Export, ExportFormat, ExportStatus
from outcomes.dashboard.parts import optional, safe_next
from outcomes.flags import services as flag_services
from outcomes.flags.models import Flag, FlagKind, FlagStatus
from shared.api.errors import ProblemError
from shared.audit.services import audit_read, audit_read_many

PATIENTS_PER_PAGE = 50
FLAGS_PER_PAGE = 50
# The patient page shows this much of the diary and of past prompts unless asked for all.
RECENT = timedelta(days=90)

FRAGMENT_HEADER = "HTTP_X_DASHBOARD_FRAGMENT"


# --- My patients ----------------------------------------------------------------------------------


def _sort_title(sort: str) -> str:
    title = selectors.SORTS.get(sort.removeprefix("-"))
    if title is None:
        return ""
    return f"{title}, {'highest' if sort.startswith('-') else 'lowest'} first"


@require_GET
@clinician_page
def patient_list(request: DashboardRequest) -> HttpResponse:
    clinic_id = request.staff.clinic_id
    people, people_down = optional(clients.clinic_people, request, default={})
    prompts, prompts_down = optional(clients.next_prompts, request, default={})
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
        actor=request.staff.principal,
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
    clinic_id = request.staff.clinic_id
    detail = selectors.patient_detail(clinic_id=clinic_id, patient_id=patient_id)
    person, person_down = optional(clients.person, request, patient_id)
    prompts, prompts_down = optional(clients.next_prompts, request, patient_id, default={})
    row = selectors.patient_row(
        clinic_id=clinic_id,
        patient_id=patient_id,
        person=person,
        next_prompt=prompts.get(patient_id),
    )
    audit_read(actor=request.staff.principal, patient_id=patient_id, resource="outcomes_patient")
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
        clinic_id=request.staff.clinic_id, patient_id=patient_id
    )
    prompts, prompts_down = optional(clients.prompt_timeline, request, patient_id, default=[])
    unverified, diary_down = optional(
        clients.unverified_injections, request, patient_id, default=set()
    )
    show_all = request.GET.get("all") == "1"
    items = selectors.timeline(injections, prompts or [], unverified)
    if not show_all:
        since = timezone.now() - RECENT
        items = [item for item in items if item.at >= since]
    audit_read(actor=request.staff.principal, patient_id=patient_id, resource="outcomes_timeline")
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
        clinic_id=request.staff.clinic_id, patient_id=patient_id
    )
    show_all = request.GET.get("all") == "1"
    since = None if show_all else timezone.now() - RECENT
    entries, down = optional(clients.diary_entries, request, patient_id, since, default=[])
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
    flags = selectors.flag_inbox(clinic_id=request.staff.clinic_id, status=status, kind=kind)
    page = Paginator(flags, FLAGS_PER_PAGE).get_page(request.GET.get("page"))
    people, down = optional(clients.clinic_people, request, default={})
    flags_shown: list[Flag] = list(page)
    rows = []
    for flag in flags_shown:
        person = people.get(flag.patient_id)
        rows.append(
            {
                "flag": flag,
                "evidence": selectors.flag_evidence(flag),
                "name": clients.display_name(person.name if person else "", flag.patient_id),
                "active": person.active if person else True,
            }
        )
    audit_read_many(
        actor=request.staff.principal,
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


@require_POST
@clinician_page
def flag_action(request: DashboardRequest, flag_id: uuid.UUID, action: str) -> HttpResponse:
    if action not in ("acknowledge", "resolve"):
        raise Http404
    try:
        flag = flag_services.flag_act(
            actor=request.staff.principal,
            clinic_id=request.staff.clinic_id,
            flag_id=flag_id,
            action=action,
        )
    except ProblemError as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(
            request, f"{flag.get_kind_display()}: {flag.get_status_display().lower()}."
        )
    return redirect(safe_next(request, reverse("dashboard:flags")))


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
    clinic_id = request.staff.clinic_id
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
        actor=request.staff.principal,
        clinic_id=request.staff.clinic_id,
        cohort=query.cohort(),
        export_format=form.cleaned_data["format"],
    )
    return redirect("dashboard:export", export_id=export.id)


def _own_export(request: DashboardRequest, export_id: uuid.UUID) -> Export:
    export = Export.objects.filter(
        pk=export_id,
        clinic_id=request.staff.clinic_id,
        requested_by=request.staff.principal.id,
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
    services.export_download_record(actor=request.staff.principal, export=export)
    if export.format == ExportFormat.CSV:
        content_type, name = "text/csv; charset=utf-8", "cohort-observations.csv"
    else:
        content_type, name = "application/fhir+ndjson", "cohort-fhir-bundles.ndjson"
    response = StreamingHttpResponse(services.export_parts(export), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
