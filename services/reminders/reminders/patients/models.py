"""What reminders knows of patients and their injections (copies built from identity's and
diary's events), and what only reminders holds: devices and notification preferences."""

from __future__ import annotations

import uuid

from django.db import models


class Patient(models.Model):
    """identity's patient, as far as prompting needs: the clinic and the IANA time zone.

    A row can exist before identity's enrolment event arrives (diary's injection event came
    first); its time zone is then empty and nothing is planned until the enrolment arrives.
    """

    id = models.UUIDField(primary_key=True, editable=False)
    clinic_id = models.UUIDField(null=True, blank=True, db_index=True)
    timezone = models.CharField(max_length=64, blank=True)
    locale = models.CharField(max_length=35, blank=True)
    # False once identity deactivated or erased the patient: nothing is planned or sent.
    active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # The latest reactivation: a deactivation event older than it is stale (events may arrive
    # out of order), as is a reactivation older than the deactivation it would undo.
    reactivated_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"patient {self.id}"


class Injection(models.Model):
    """diary's injection: what anchors the prompts that follow it."""

    id = models.UUIDField(primary_key=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="injections")
    course_id = models.UUIDField(db_index=True)
    injected_at = models.DateTimeField()
    # The calendar day of the injection where the patient was when it was first planned: day N
    # counts from it, so a later journey does not shift the count by a day.
    local_date = models.DateField(null=True, blank=True)
    protocol = models.CharField(max_length=100, blank=True)
    deleted = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["injected_at", "id"]

    def __str__(self) -> str:
        return f"injection {self.id}"


class Platform(models.TextChoices):
    IOS = "ios", "iOS"
    ANDROID = "android", "Android"
    WEB = "web", "Web browser"


class Device(models.Model):
    """A phone or browser that receives push notifications for one patient."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="devices")
    platform = models.CharField(max_length=10, choices=Platform.choices)
    # Web Push subscriptions are long JSON documents, so uniqueness is kept on a digest.
    token = models.TextField()
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    registered_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.platform} device {self.id}"


class Channel(models.TextChoices):
    PUSH = "push", "Push notification"
    SMS = "sms", "Text message"
    EMAIL = "email", "E-mail"


class Preference(models.Model):
    """The patient's own choices about prompts. The contact addresses are personal data that
    reminders holds only because the patient gave them here."""

    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, primary_key=True, related_name="preference"
    )
    pause_until = models.DateTimeField(null=True, blank=True)
    preferred_channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    preferred_time = models.TimeField(null=True, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=16, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of {self.patient_id}"
