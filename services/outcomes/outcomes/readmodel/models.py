"""The read model: what outcomes knows about patients, built only from other services' events.

Rows that mirror another service's records (patients, injections, diary entries, observations,
prompts) keep the ``version`` of the change they show (the event's ``occurred_at``), so a late or
repeated delivery of an older change never overwrites a newer one, and a deleted record stays as a
tombstone so a late "recorded" cannot bring it back. Courses and their co-treatments are derived
from those rows by ``patients_refresh`` and are never written from an event directly.

No foreign keys between mirrored rows: events arrive in any order (an entry before its patient's
enrolment), and the resync rebuilds the tables wholesale.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

# The course attributes cohorts are split by (those of the course's first injection, and the
# patient's sex and age band).
COHORT_ATTRIBUTES = (
    "site",
    "laterality",
    "solution",
    "guidance",
    "protocol",
    "diagnosis",
    "sex",
    "age_band",
)


class ObservationKind(models.IntegerChoices):
    NRS = 1, "NRS pain (0-10)"
    ODI = 2, "Oswestry Disability Index (0-100 %)"
    PGIC = 3, "Patient Global Impression of Change (1-7)"
    RMDQ = 4, "Roland-Morris Disability Questionnaire (0-24)"


INSTRUMENT_KINDS = {
    "nrs": ObservationKind.NRS,
    "odi": ObservationKind.ODI,
    "pgic": ObservationKind.PGIC,
    "rmdq": ObservationKind.RMDQ,
}


class Patient(models.Model):
    patient_id = models.UUIDField(primary_key=True)
    clinic_id = models.UUIDField(db_index=True)
    sex = models.CharField(max_length=8, default="unknown")
    birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    enrolled_at = models.DateTimeField(null=True, blank=True)
    version = models.DateTimeField()

    def __str__(self) -> str:
        return f"patient {self.patient_id}"


class ErasedPatient(models.Model):
    """A patient whose data was erased: events about them that arrive later are dropped.

    Only the random id is kept, which identifies nobody once identity has erased the person.
    """

    patient_id = models.UUIDField(primary_key=True)
    erased_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"erased patient {self.patient_id}"


class InjectionRecord(models.Model):
    injection_id = models.UUIDField(primary_key=True)
    patient_id = models.UUIDField()
    clinic_id = models.UUIDField()
    course_id = models.UUIDField()
    injected_at = models.DateTimeField()
    site = models.CharField(max_length=40, blank=True)
    laterality = models.CharField(max_length=16, blank=True)
    solution = models.CharField(max_length=40, blank=True)
    dextrose_percent = models.FloatField(null=True, blank=True)
    guidance = models.CharField(max_length=16, blank=True)
    protocol = models.CharField(max_length=40, blank=True)
    diagnosis = models.CharField(max_length=40, blank=True)
    co_treatments = models.JSONField(default=list, blank=True)
    # The NRS taken at the clinic just before the procedure, when the diary records one.
    pre_procedure_nrs = models.PositiveSmallIntegerField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    version = models.DateTimeField()

    class Meta:
        abstract = True
        indexes = [models.Index(fields=["patient_id"], name="%(class)s_patient")]

    def __str__(self) -> str:
        return f"injection {self.injection_id}"


class EntryRecord(models.Model):
    """A diary entry's facts that flags and co-treatment cohorts need (its NRS is an
    Observation). No free text: events carry none."""

    entry_id = models.UUIDField(primary_key=True)
    patient_id = models.UUIDField()
    clinic_id = models.UUIDField()
    recorded_at = models.DateTimeField()
    nrs = models.PositiveSmallIntegerField(null=True, blank=True)
    nsaid = models.BooleanField(default=False)
    red_flag = models.BooleanField(default=False)
    side_effects = models.JSONField(default=list, blank=True)
    co_treatments = models.JSONField(default=list, blank=True)
    deleted = models.BooleanField(default=False)
    version = models.DateTimeField()

    class Meta:
        abstract = True
        verbose_name_plural = "entries"
        indexes = [models.Index(fields=["patient_id", "recorded_at"], name="%(class)s_ptime")]

    def __str__(self) -> str:
        return f"entry {self.entry_id}"


class CourseRecord(models.Model):
    """A course of injections, derived from its injections and the patient's observations.

    Attributes that split cohorts (site, solution, protocol, ...) are those of the course's first
    injection. ``id`` is stable across refreshes; observations refer to it as ``course_ref``.
    """

    course_id = models.UUIDField()
    patient_id = models.UUIDField()
    clinic_id = models.UUIDField()
    first_injected_at = models.DateTimeField()
    # The first injection's calendar date in the patient's time zone.
    first_injection_date = models.DateField()
    # Days (patient's calendar) from the first to the last injection of the course.
    last_injection_day = models.IntegerField(default=0)
    injection_count = models.PositiveSmallIntegerField(default=1)
    site = models.CharField(max_length=40, blank=True)
    laterality = models.CharField(max_length=16, blank=True)
    solution = models.CharField(max_length=40, blank=True)
    dextrose_percent = models.FloatField(null=True, blank=True)
    guidance = models.CharField(max_length=16, blank=True)
    protocol = models.CharField(max_length=40, blank=True)
    diagnosis = models.CharField(max_length=40, blank=True)
    sex = models.CharField(max_length=8, default="unknown")
    age_band = models.CharField(max_length=8, default="unknown")
    baseline_nrs = models.FloatField(null=True, blank=True)
    baseline_nrs_at = models.DateTimeField(null=True, blank=True)
    baseline_odi = models.FloatField(null=True, blank=True)
    # A 64-bit key of the course's COHORT_ATTRIBUTES values (derive.cohort_key): the analysis
    # reads one number per course instead of eight texts, and learns once which values are
    # behind each key.
    cohort_key = models.BigIntegerField(default=0, editable=False)
    # The course's live scores in time order, packed for the analysis (derive.SERIES_DTYPE: day,
    # kind, value per score). A copy of what Observation holds, kept by patients_refresh, so a
    # clinic's scores load as one short row per course instead of one row per score.
    series = models.BinaryField(default=b"", editable=False)

    class Meta:
        abstract = True
        constraints = [models.UniqueConstraint(fields=["course_id"], name="%(class)s_unique")]
        indexes = [
            models.Index(fields=["patient_id"], name="%(class)s_patient"),
            models.Index(fields=["clinic_id", "first_injection_date"], name="%(class)s_cfirst"),
        ]

    def __str__(self) -> str:
        return f"course {self.course_id}"


class CoTreatmentRecord(models.Model):
    code = models.CharField(max_length=40)

    class Meta:
        abstract = True
        constraints = [models.UniqueConstraint(fields=["course", "code"], name="%(class)s_unique")]
        indexes = [models.Index(fields=["code", "course"], name="%(class)s_code")]

    def __str__(self) -> str:
        return self.code


class ObservationRecord(models.Model):
    """One scored measurement: an NRS from a diary entry, or a questionnaire's total.

    ``course_ref`` and ``day`` place it in the patient's treatment: the latest course whose first
    injection came before it, and the calendar days since that injection in the patient's zone.
    An observation before any course has neither (it may still be a course's baseline).
    """

    source_id = models.UUIDField(help_text="The diary entry or questionnaire response.")
    kind = models.PositiveSmallIntegerField(choices=ObservationKind.choices)
    patient_id = models.UUIDField()
    clinic_id = models.UUIDField()
    occurred_at = models.DateTimeField()
    value = models.FloatField()
    # ODI section scores (0-5, null where skipped), for the FHIR export.
    sections = models.JSONField(null=True, blank=True)
    course_ref = models.BigIntegerField(null=True, blank=True)
    day = models.IntegerField(null=True, blank=True)
    deleted = models.BooleanField(default=False)
    version = models.DateTimeField()

    class Meta:
        abstract = True
        constraints = [
            models.UniqueConstraint(fields=["source_id", "kind"], name="%(class)s_source")
        ]
        indexes = [
            models.Index(fields=["patient_id", "occurred_at"], name="%(class)s_ptime"),
            # The analysis reads a clinic's live, placed observations in course and time order.
            # A course's live scores in time order: exports, a patient's curve.
            models.Index(
                fields=["course_ref", "occurred_at"],
                name="%(class)s_course",
                condition=Q(deleted=False, course_ref__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.source_id}"


# --- The live tables and their staging twins ---------------------------------------------------
# The resync builds a complete copy of the diary-derived tables in the staging twins, then
# replaces the live tables' contents with it in one transaction (see resync.py).


class Injection(InjectionRecord):
    class Meta(InjectionRecord.Meta):
        pass


class Entry(EntryRecord):
    class Meta(EntryRecord.Meta):
        pass


class Course(CourseRecord):
    class Meta(CourseRecord.Meta):
        pass


class CourseCoTreatment(CoTreatmentRecord):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="co_treatments")

    class Meta(CoTreatmentRecord.Meta):
        pass


class Observation(ObservationRecord):
    class Meta(ObservationRecord.Meta):
        pass


class ResyncInjection(InjectionRecord):
    class Meta(InjectionRecord.Meta):
        verbose_name = "staged injection"


class ResyncEntry(EntryRecord):
    class Meta(EntryRecord.Meta):
        verbose_name = "staged entry"
        verbose_name_plural = "staged entries"


class ResyncCourse(CourseRecord):
    class Meta(CourseRecord.Meta):
        verbose_name = "staged course"


class ResyncCourseCoTreatment(CoTreatmentRecord):
    course = models.ForeignKey(ResyncCourse, on_delete=models.CASCADE, related_name="co_treatments")

    class Meta(CoTreatmentRecord.Meta):
        verbose_name = "staged course co-treatment"


class ResyncObservation(ObservationRecord):
    class Meta(ObservationRecord.Meta):
        verbose_name = "staged observation"


class Prompt(models.Model):
    """A reminder prompt's life as reminders reported it, for adherence."""

    prompt_id = models.UUIDField(primary_key=True)
    patient_id = models.UUIDField(db_index=True)
    clinic_id = models.UUIDField()
    injection_id = models.UUIDField(null=True, blank=True)
    kind = models.CharField(max_length=16, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    # When this service last learnt something about the prompt, by its own clock.
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"prompt {self.prompt_id}"


class ResyncRun(models.Model):
    """One rebuild of the diary part of the read model from diary's export."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    records = models.PositiveIntegerField(default=0)
    last_seq = models.BigIntegerField(default=0)
    succeeded = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"resync {self.started_at:%Y-%m-%d %H:%M}"
