"""What the dashboard pages show, read through the same selectors (and, for the patient list,
the same output serializer) as the outcomes API, so a page and the API can never disagree.

Everything here is scoped to the clinic passed in, which always comes from the clinician's
sign-in. Names, prompts and diary details from the other services are passed in by the views
(see clients.py); nothing here calls another service.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404

from outcomes.analytics import patients as patient_analysis
from outcomes.analytics import selectors as cohort_analysis
from outcomes.analytics.apis import PatientListApi
from outcomes.analytics.cohorts import NO_CO_TREATMENT, CohortFilter
from outcomes.analytics.horizons import DAYS_PER_MONTH
from outcomes.benchmarks.models import EndpointKind
from outcomes.dashboard.clients import NextPrompt, Person, display_name
from outcomes.flags.models import Flag, FlagStatus
from outcomes.flags.selectors import clinic_flags
from outcomes.readmodel.derive import local_date, patient_zone
from outcomes.readmodel.models import (
    Course,
    CourseCoTreatment,
    Injection,
    Observation,
    ObservationKind,
    Patient,
)
from shared.vocabulary import code_label

# The post-injection flare usually settles within 3-4 weeks (clinical reference, seed 001):
# the patient's chart shades four weeks after each injection as "expected flare".
FLARE_WEEKS = 4
# An NSAID logged this long after an injection is highlighted (the flag rule's window).
NSAID_WINDOW = timedelta(days=7)

PGIC_LABELS = {
    1: "Very much improved",
    2: "Much improved",
    3: "Minimally improved",
    4: "No change",
    5: "Minimally worse",
    6: "Much worse",
    7: "Very much worse",
}


def label(code: str, field: str = "") -> str:
    """A stored code as words: the vocabulary's for a ``field`` of it ("site",
    "sij_intra_articular" -> "Sacroiliac joint, intra-articular"), else with spaces
    ("day_1_flare" -> "day 1 flare")."""
    return code_label(field, code)


# --- My patients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientRow:
    patient_id: uuid.UUID
    name: str
    email: str
    latest_nrs: float | None
    latest_nrs_at: datetime | None
    percent_change: float | None
    injections: int
    adherence_percent: float | None
    prompts_closed: int
    open_flags: int
    next_prompt: NextPrompt | None
    # False when identity says the account is deactivated; True when it is active or unknown.
    active: bool = True

    @property
    def display_name(self) -> str:
        return display_name(self.name, self.patient_id)


def _rows(
    queryset: QuerySet[Patient],
    people: dict[uuid.UUID, Person],
    next_prompts: dict[uuid.UUID, NextPrompt],
) -> list[PatientRow]:
    patients = list(queryset)
    # The API's own output serializer: the same relief and adherence figures, computed once.
    data = PatientListApi.OutputSerializer(patients, many=True).data
    rows = []
    for patient, numbers in zip(patients, data, strict=True):
        person = people.get(patient.patient_id)
        rows.append(
            PatientRow(
                patient_id=patient.patient_id,
                name=person.name if person else "",
                email=person.email if person else "",
                latest_nrs=numbers["latest_nrs"],
                latest_nrs_at=patient.latest_nrs_at,  # type: ignore[attr-defined]
                percent_change=numbers["percent_change"],
                injections=numbers["injections"],
                adherence_percent=numbers["adherence_percent"],
                prompts_closed=numbers["prompts_closed"],
                open_flags=numbers["open_flags"],
                next_prompt=next_prompts.get(patient.patient_id),
                active=person.active if person else True,
            )
        )
    return rows


SORTS: dict[str, str] = {
    "name": "Name",
    "latest_nrs": "Latest NRS",
    "percent_change": "Change from baseline",
    "injections": "Injections",
    "adherence_percent": "Adherence",
    "open_flags": "Open flags",
    "next_prompt": "Next prompt",
}


def _sort_value(row: PatientRow, key: str) -> Any:
    if key == "name":
        return row.display_name.casefold()
    if key == "next_prompt":
        return row.next_prompt.at if row.next_prompt else None
    return getattr(row, key)


def _sorted(rows: list[PatientRow], sort: str) -> list[PatientRow]:
    key = sort.removeprefix("-")
    if key not in SORTS:
        return rows  # the API's order: most unresolved flags first, then the latest score
    descending = sort.startswith("-")
    present = [r for r in rows if _sort_value(r, key) is not None]
    missing = [r for r in rows if _sort_value(r, key) is None]
    present.sort(key=lambda r: (_sort_value(r, key), str(r.patient_id)), reverse=descending)
    # Patients without the figure go last whichever way the column is sorted.
    return present + missing


def _matches(row: PatientRow, search: str) -> bool:
    needle = search.casefold().strip()
    return (
        not needle
        or needle in row.name.casefold()
        or needle in row.email.casefold()
        or str(row.patient_id).startswith(needle)
    )


def patient_rows(
    *,
    clinic_id: uuid.UUID,
    people: dict[uuid.UUID, Person],
    next_prompts: dict[uuid.UUID, NextPrompt],
    search: str = "",
    sort: str = "",
    flagged: bool | None = None,
) -> list[PatientRow]:
    """The clinic's patients as the API lists them, with names and next prompts joined in,
    searched (name, e-mail address, or the start of the id) and sorted."""
    queryset = patient_analysis.clinic_patients(clinic_id=clinic_id, flagged=flagged)
    rows = [r for r in _rows(queryset, people, next_prompts) if _matches(r, search)]
    return _sorted(rows, sort)


def patient_row(
    *,
    clinic_id: uuid.UUID,
    patient_id: uuid.UUID,
    person: Person | None,
    next_prompt: NextPrompt | None,
) -> PatientRow:
    queryset = patient_analysis.clinic_patients(clinic_id=clinic_id).filter(patient_id=patient_id)
    people = {patient_id: person} if person else {}
    prompts = {patient_id: next_prompt} if next_prompt else {}
    rows = _rows(queryset, people, prompts)
    if not rows:
        raise Http404
    return rows[0]


# --- A patient ------------------------------------------------------------------------------------


@dataclass
class CourseView:
    curve: dict[str, Any]  # the API's course curve: weeks with mean NRS and relief
    band: list[dict[str, Any]]
    band_by: dict[str, Any]
    injection_weeks: list[float]
    injections: list[Injection] = field(default_factory=list)

    @property
    def first_date(self) -> date:
        return date.fromisoformat(self.curve["first_injection_date"])

    @property
    def chart(self) -> dict[str, Any]:
        return {
            "course_id": self.curve["course_id"],
            "weeks": self.curve["weeks"],
            "band": self.band,
            "injection_weeks": self.injection_weeks,
            "flare_weeks": FLARE_WEEKS,
        }


@dataclass(frozen=True)
class Score:
    occurred_at: datetime
    value: float
    change: float | None = None  # ODI: points better than the course's baseline
    label: str = ""


@dataclass
class PatientDetail:
    patient: Patient
    courses: list[CourseView]
    injections: list[Injection]
    odi: list[Score]
    pgic: list[Score]
    flags: list[Flag]

    @property
    def chart(self) -> dict[str, Any]:
        return {"courses": [course.chart for course in self.courses]}


def _band(
    clinic_id: uuid.UUID, course: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The typical band of the phone's progress view: Q1-Q3 of relief of the clinic's courses
    with the same protocol and site, at weeks with enough courses behind it."""
    cohort = CohortFilter(
        protocol=(course["protocol"],) if course["protocol"] else (),
        site=(course["site"],) if course["site"] else (),
    )
    curve = cohort_analysis.cohort_curve(
        clinic_id=clinic_id,
        cohort=cohort,
        stale_seconds=settings.OUTCOMES_BAND_STALE_SECONDS,
    )
    minimum = settings.OUTCOMES_MIN_PATIENTS
    band = [
        {"week": p["week"], "n": p["n"], "q1": p["q1"], "median": p["median"], "q3": p["q3"]}
        for p in curve["nrs_percent_change"]
        if p["n"] >= minimum
    ]
    return band, cohort.params()


def patient_detail(*, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> PatientDetail:
    """One patient of the clinic: their courses' weekly curves (as the API gives them) with the
    typical band and the weeks of their injections, ODI and PGIC scores, and flags."""
    patient = patient_analysis.clinic_patient_get(clinic_id=clinic_id, patient_id=patient_id)
    curve = patient_analysis.clinic_patient_curve(clinic_id=clinic_id, patient_id=patient_id)
    zone = patient_zone(patient.timezone)
    injections = list(
        Injection.objects.filter(patient_id=patient_id, deleted=False).order_by(
            "injected_at", "injection_id"
        )
    )
    courses = []
    for course in reversed(curve["courses"]):  # the current course first
        band, band_by = _band(clinic_id, course)
        first = date.fromisoformat(course["first_injection_date"])
        own = [i for i in injections if str(i.course_id) == course["course_id"]]
        weeks = [(local_date(i.injected_at, zone) - first).days / 7 for i in own]
        courses.append(
            CourseView(
                curve=course, band=band, band_by=band_by, injection_weeks=weeks, injections=own
            )
        )
    baseline_odi = dict(
        Course.objects.filter(patient_id=patient_id).values_list("id", "baseline_odi")
    )
    scores = Observation.objects.filter(
        patient_id=patient_id,
        deleted=False,
        kind__in=[ObservationKind.ODI, ObservationKind.PGIC],
    ).order_by("occurred_at", "id")
    odi, pgic = [], []
    for score in scores:
        if score.kind == ObservationKind.ODI:
            baseline = baseline_odi.get(score.course_ref) if score.course_ref else None
            change = baseline - score.value if baseline is not None else None
            odi.append(Score(score.occurred_at, score.value, change=change))
        else:
            pgic.append(
                Score(score.occurred_at, score.value, label=PGIC_LABELS.get(int(score.value), ""))
            )
    flags = list(clinic_flags(clinic_id=clinic_id, patient_id=patient_id))
    return PatientDetail(
        patient=patient,
        courses=courses,
        injections=injections,
        odi=odi,
        pgic=pgic,
        flags=flags,
    )


def patient_injections(*, clinic_id: uuid.UUID, patient_id: uuid.UUID) -> list[Injection]:
    patient_analysis.clinic_patient_get(clinic_id=clinic_id, patient_id=patient_id)
    return list(
        Injection.objects.filter(patient_id=patient_id, deleted=False).order_by(
            "injected_at", "injection_id"
        )
    )


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    what: str  # "injection" or "prompt"
    title: str
    status: str
    detail: str = ""
    injection_id: uuid.UUID | None = None


def timeline(
    injections: Iterable[Injection],
    prompts: Iterable[dict[str, Any]],
    unverified: Collection[uuid.UUID] = (),
) -> list[TimelineItem]:
    """Injections and prompts in time order (a prompt at its planned time). An injection in
    ``unverified`` (the patient reported it, no clinician has confirmed it) says so."""
    items = [
        TimelineItem(
            at=i.injected_at,
            what="injection",
            title=f"Injection: {label(i.site, 'site') or 'site not recorded'}",
            status="unverified" if i.injection_id in unverified else "given",
            detail=", ".join(
                label(code, field)
                for field, code in (
                    ("laterality", i.laterality),
                    ("solution", i.solution),
                    ("guidance", i.guidance),
                    ("protocol", i.protocol),
                )
                if code
            ),
            injection_id=i.injection_id,
        )
        for i in injections
    ]
    for prompt in prompts:
        when = prompt.get("intended_at")
        if when is None:
            continue
        status = str(prompt.get("status") or "")
        detail = ""
        if status == "answered" and prompt.get("answered_at"):
            detail = "answered"
        items.append(
            TimelineItem(
                at=when,
                what="prompt",
                title=f"Prompt: {label(str(prompt.get('kind') or ''))} "
                f"({str(prompt.get('instrument') or '').upper()})",
                status=status,
                detail=detail,
            )
        )
    items.sort(key=lambda item: (item.at, item.what != "injection"))
    return items


@dataclass(frozen=True)
class DiaryRow:
    entry: dict[str, Any]
    nsaid_after_injection: bool


def diary_rows(
    entries: Iterable[dict[str, Any]], injections: Iterable[Injection]
) -> list[DiaryRow]:
    """Diary entries, newest first, each marked when it logs an NSAID within 7 days after an
    injection (the NSAID flag's window)."""
    times = [i.injected_at for i in injections]
    rows = []
    for entry in entries:
        at = entry.get("occurred_at")
        after = (
            bool(entry.get("nsaid"))
            and isinstance(at, datetime)
            and any(t <= at <= t + NSAID_WINDOW for t in times)
        )
        rows.append(DiaryRow(entry=entry, nsaid_after_injection=after))
    oldest = datetime.min.replace(tzinfo=UTC)
    rows.sort(key=lambda row: row.entry.get("occurred_at") or oldest, reverse=True)
    return rows


# --- Flags ----------------------------------------------------------------------------------------


def flag_inbox(*, clinic_id: uuid.UUID, status: str | None, kind: str | None) -> QuerySet[Flag]:
    """The clinic's flags, urgent first, newest first; by default those not yet resolved."""
    flags = clinic_flags(clinic_id=clinic_id, status=status or None, kind=kind or None)
    if not status:
        flags = flags.exclude(status=FlagStatus.RESOLVED)
    return flags


def flag_evidence(flag: Flag) -> str:
    """The flag's evidence in a few plain words (ids are left out: the page links the patient)."""
    evidence = flag.evidence or {}
    if "side_effects" in evidence:
        return "Side effects: " + (", ".join(label(s) for s in evidence["side_effects"]) or "-")
    if "adherence_percent" in evidence:
        return (
            f"Answered {evidence.get('answered')} of the last {evidence.get('closed_prompts')} "
            f"prompts ({evidence['adherence_percent']:.0f} %)"
        )
    parts = []
    if evidence.get("nrs") is not None:
        parts.append(f"NRS {evidence['nrs']:g}")
    if evidence.get("baseline_nrs") is not None:
        parts.append(f"baseline {evidence['baseline_nrs']:g}")
    if evidence.get("days_after_injection") is not None:
        parts.append(f"{evidence['days_after_injection']} days after the injection")
    if evidence.get("recorded_at") and evidence.get("injected_at"):
        parts.append("logged within 7 days after an injection")
    return ", ".join(parts)


# --- Cohorts --------------------------------------------------------------------------------------

COHORT_FIELDS: tuple[tuple[str, str], ...] = (
    ("site", "Site"),
    ("laterality", "Side"),
    ("solution", "Solution"),
    ("protocol", "Protocol"),
    ("guidance", "Guidance"),
    ("diagnosis", "Diagnosis"),
    ("co_treatment", "Co-treatment"),
    ("age_band", "Age band"),
    ("sex", "Sex"),
)


def cohort_options(*, clinic_id: uuid.UUID) -> dict[str, list[str]]:
    """The values the clinic's courses have, per filter, for the filter form."""
    courses = Course.objects.filter(clinic_id=clinic_id)
    options: dict[str, list[str]] = {}
    for name, _ in COHORT_FIELDS:
        if name == "co_treatment":
            codes = (
                CourseCoTreatment.objects.filter(course__clinic_id=clinic_id)
                .order_by("code")
                .values_list("code", flat=True)
                .distinct()
            )
            options[name] = [*codes, NO_CO_TREATMENT]
        else:
            values = (
                courses.exclude(**{name: ""}).order_by(name).values_list(name, flat=True).distinct()
            )
            options[name] = list(values)
    return options


@dataclass
class CohortView:
    curve: dict[str, Any]
    responders: dict[str, Any]
    survival: dict[str, Any]
    benchmarks: dict[str, Any]
    min_patients: int

    @property
    def header(self) -> dict[str, Any]:
        header: dict[str, Any] = self.curve["cohort"]
        return header

    @property
    def too_few(self) -> bool:
        return int(self.header["patients"]) < self.min_patients

    @property
    def durability_benchmarks(self) -> list[dict[str, Any]]:
        return [
            c
            for c in self.benchmarks["comparisons"]
            if c["benchmark"]["endpoint_kind"] == EndpointKind.KM_DURABILITY
        ]

    @property
    def chart(self) -> dict[str, Any]:
        durability = self.survival["durability"]
        return {
            "min_patients": self.min_patients,
            "curve": self.curve["nrs_percent_change"],
            "durability": [
                {**point, "months": point["day"] / DAYS_PER_MONTH}
                for point in durability["timeline"]
            ],
            "published": [
                {
                    "key": c["benchmark"]["key"],
                    "label": f"Published {c['benchmark']['key']}",
                    "months": c["benchmark"]["horizon_months"],
                    "figure": c["benchmark"]["figure"],
                    "ci_low": c["benchmark"]["ci_low"],
                    "ci_high": c["benchmark"]["ci_high"],
                    "n": c["benchmark"]["n"],
                }
                for c in self.durability_benchmarks
            ],
        }


def cohort_view(*, clinic_id: uuid.UUID, cohort: CohortFilter) -> CohortView:
    """Every analysis of the cohort, from the same selectors (and cache) as the API."""
    return CohortView(
        curve=cohort_analysis.cohort_curve(clinic_id=clinic_id, cohort=cohort),
        responders=cohort_analysis.cohort_responders(clinic_id=clinic_id, cohort=cohort),
        survival=cohort_analysis.cohort_survival(clinic_id=clinic_id, cohort=cohort),
        benchmarks=cohort_analysis.cohort_benchmarks(clinic_id=clinic_id, cohort=cohort),
        min_patients=settings.OUTCOMES_MIN_PATIENTS,
    )
