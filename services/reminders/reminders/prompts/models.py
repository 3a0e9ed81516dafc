"""Planned prompts (one row each), their delivery attempts, and each course's planning state."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from reminders.patients.models import Patient


class PromptStatus(models.TextChoices):
    PENDING = "pending", "Planned, not yet sent"
    SENDING = "sending", "Claimed by a worker, being sent"
    SENT = "sent", "Sent, waiting for an answer"
    ANSWERED = "answered", "Answered"
    EXPIRED = "expired", "Window closed unanswered"
    CANCELLED = "cancelled", "Cancelled before it was sent"


# Statuses in which a prompt has been, or is being, sent: planning never touches these again.
SENT_OR_LATER = (
    PromptStatus.SENDING,
    PromptStatus.SENT,
    PromptStatus.ANSWERED,
    PromptStatus.EXPIRED,
)


class CancelReason(models.TextChoices):
    SUPERSEDED = "superseded", "A later injection's flare series took over"
    PAUSED = "paused", "The patient paused prompts"
    NOT_IN_SCHEDULE = "not_in_schedule", "No longer in the schedule"
    INJECTION_DELETED = "injection_deleted", "The injection was deleted"
    NO_TEMPLATE = "no_template", "No active template applies"
    PATIENT_DEACTIVATED = "patient_deactivated", "The patient's account was deactivated"
    PATIENT_ERASED = "patient_erased", "The patient was erased"


class Prompt(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="prompts")
    clinic_id = models.UUIDField()
    course_id = models.UUIDField()
    # What the offset counts from: the injection (flare) or the course (baseline, horizons).
    anchor_id = models.UUIDField()
    # The injection the prompt follows; none for a baseline.
    injection_id = models.UUIDField(null=True, blank=True)
    template_id = models.UUIDField(null=True, blank=True)
    template_version = models.PositiveIntegerField()
    offset_key = models.CharField(max_length=40)
    kind = models.CharField(max_length=10)
    instrument = models.CharField(max_length=10)
    # The plan in the patient's terms: local date and time, in this zone.
    timezone = models.CharField(max_length=64)
    local_date = models.DateField()
    local_time = models.TimeField()
    intended_at = models.DateTimeField()
    # When a worker should next try to send; the intended time unless a failed send was retried.
    due_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=PromptStatus.choices, default=PromptStatus.PENDING
    )
    channels = models.JSONField(default=list)
    nudge_after_hours = models.PositiveIntegerField(null=True, blank=True)
    nudge_max = models.PositiveIntegerField(default=0)
    nudges_sent = models.PositiveIntegerField(default=0)
    next_nudge_at = models.DateTimeField(null=True, blank=True)
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    # The attempt being (or last) made: 1 is the prompt itself, 2 and on are nudges.
    attempt = models.PositiveIntegerField(default=0)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)
    channel = models.CharField(max_length=10, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answer_id = models.UUIDField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=20, choices=CancelReason.choices, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["intended_at", "id"]
        constraints = [
            # Re-planning is an upsert on this key: it can never plan one prompt twice.
            models.UniqueConstraint(
                fields=["patient", "anchor_id", "offset_key", "instrument"],
                name="prompt_unique_per_anchor_offset_instrument",
            )
        ]
        indexes = [
            # The sweeper's claim: due pending prompts, oldest first. Partial, so the millions of
            # sent and answered rows never enter it and future ones sit past the range scanned.
            models.Index(
                fields=["due_at"],
                name="prompt_pending_due_idx",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["next_nudge_at"],
                name="prompt_nudge_due_idx",
                condition=Q(status="sent", next_nudge_at__isnull=False),
            ),
            models.Index(
                fields=["claimed_at"],
                name="prompt_claimed_idx",
                condition=Q(status="sending"),
            ),
            models.Index(
                fields=["expires_at"],
                name="prompt_open_expiry_idx",
                condition=Q(status__in=["pending", "sent"]),
            ),
            models.Index(fields=["patient", "course_id"], name="prompt_patient_course_idx"),
            models.Index(fields=["patient", "intended_at"], name="prompt_patient_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.instrument} prompt {self.id}"


class DeliveryStatus(models.TextChoices):
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "No channel could send it"
    SKIPPED = "skipped", "Not sent: answered, cancelled or expired meanwhile"
    UNKNOWN = "unknown", "The worker stopped mid-send; not sent again"


class Delivery(models.Model):
    """One attempt to send a prompt (attempt 1) or a nudge (2 and on). The row is written before
    anything is sent; a second task for the same attempt finds it and does not send again."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    claim_token = models.UUIDField()
    # The task execution that wrote the row: a re-run of the same task is told apart by it.
    run_id = models.UUIDField()
    channel = models.CharField(max_length=10, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["prompt", "attempt"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "attempt"], name="delivery_once_per_attempt")
        ]
        indexes = [
            models.Index(
                fields=["channel", "provider_message_id"],
                name="delivery_provider_id_idx",
                condition=~Q(provider_message_id=""),
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.attempt} of {self.prompt_id}"


class CoursePlan(models.Model):
    """Planning state of one course: the template that planned it, and whether it must be planned
    again (a template or the patient's settings changed). The flag is set in the transaction of
    the change, so a re-plan is never lost; the sweeper and a task after commit clear it."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="courses")
    course_id = models.UUIDField(unique=True)
    protocol = models.CharField(max_length=100, blank=True)
    template_id = models.UUIDField(null=True, blank=True)
    template_version = models.PositiveIntegerField(null=True, blank=True)
    last_intended_at = models.DateTimeField(null=True, blank=True)
    needs_replan = models.BooleanField(default=False)
    planned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["id"], name="courseplan_replan_idx", condition=Q(needs_replan=True)
            )
        ]

    def __str__(self) -> str:
        return f"course {self.course_id}"
