"""Schedule templates: which prompts follow an injection, when, and how they are delivered."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class Anchor(models.TextChoices):
    EACH_INJECTION = "each_injection", "Each injection"
    FIRST_INJECTION_OF_COURSE = "first_injection_of_course", "First injection of the course"
    BASELINE_BEFORE_FIRST_INJECTION = (
        "baseline_before_first_injection",
        "Baseline, before the first injection",
    )


# What each anchor is called in the reminders.prompt.sent event.
KIND_OF_ANCHOR = {
    Anchor.EACH_INJECTION: "flare",
    Anchor.FIRST_INJECTION_OF_COURSE: "horizon",
    Anchor.BASELINE_BEFORE_FIRST_INJECTION: "baseline",
}


class Instrument(models.TextChoices):
    NRS = "nrs", "Pain score (NRS 0-10)"
    ODI = "odi", "Oswestry Disability Index"
    PGIC = "pgic", "Patient Global Impression of Change"


CHANNEL_NAMES = ("push", "sms", "email", "console")


class ScheduleTemplate(models.Model):
    """A clinic's (or, with no clinic, every clinic's) schedule for one protocol (or any).

    ``version`` goes up with every edit; prompts remember the version that planned them.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    clinic_id = models.UUIDField(
        null=True, blank=True, db_index=True, help_text="Empty: the default for every clinic."
    )
    protocol = models.CharField(
        max_length=100, blank=True, help_text="Empty: any protocol (or none)."
    )
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    quiet_start = models.TimeField(
        null=True, blank=True, help_text="Local time when quiet hours begin."
    )
    quiet_end = models.TimeField(null=True, blank=True, help_text="Local time when they end.")
    source = models.CharField(
        max_length=300, blank=True, help_text="Where the schedule comes from (citation)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            # One active template per (clinic, protocol): which one applies is never a guess.
            models.UniqueConstraint(
                fields=["clinic_id", "protocol"],
                condition=Q(active=True, clinic_id__isnull=False),
                name="template_one_active_per_clinic_protocol",
            ),
            models.UniqueConstraint(
                fields=["protocol"],
                condition=Q(active=True, clinic_id__isnull=True),
                name="template_one_active_default_per_protocol",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class TemplateOffset(models.Model):
    """One planned prompt of a template, counted from its anchor in the patient's calendar."""

    template = models.ForeignKey(ScheduleTemplate, on_delete=models.CASCADE, related_name="offsets")
    position = models.PositiveIntegerField()
    anchor = models.CharField(max_length=40, choices=Anchor.choices)
    months = models.IntegerField(default=0)
    days = models.IntegerField(default=0)
    local_time = models.TimeField()
    window_hours = models.IntegerField(help_text="How long the prompt can be answered.")
    nudge_after_hours = models.IntegerField(null=True, blank=True)
    nudge_max = models.IntegerField(default=0)
    channels = models.JSONField(default=list)
    instrument = models.CharField(max_length=10, choices=Instrument.choices)

    class Meta:
        ordering = ["template", "position"]
        constraints = [
            models.UniqueConstraint(fields=["template", "position"], name="offset_position_unique")
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.instrument}"

    @property
    def key(self) -> str:
        return offset_key(self.anchor, self.months, self.days)

    @property
    def kind(self) -> str:
        return KIND_OF_ANCHOR[Anchor(self.anchor)]


def offset_key(anchor: str, months: int, days: int) -> str:
    """The offset's name in prompt rows: the same offset keeps it across template edits, so a
    re-plan updates its prompt instead of cancelling it and planning another."""
    return f"{KIND_OF_ANCHOR[Anchor(anchor)]}:{months}m{days}d"
