from __future__ import annotations

from typing import Any, NoReturn

from django.db import models


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("audit entries are append-only")

    def delete(self) -> NoReturn:
        raise TypeError("audit entries are append-only")


class AuditEntry(models.Model):
    """Who changed or read what in identity. Rows are only ever added.

    Only ids and field names are kept, never values: the trail survives a patient's erasure
    without holding their personal data.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Null for the system itself or an anonymous caller (e.g. a failed login).
    actor_id = models.UUIDField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64, blank=True)
    subject_patient_id = models.UUIDField(null=True, blank=True, db_index=True)
    request_id = models.CharField(max_length=64, blank=True)
    changed_fields = models.JSONField(default=list, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("audit entries are append-only")
