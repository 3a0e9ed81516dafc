"""The audit trail and the row history. Both only ever grow: the ORM refuses to change or delete
a row, and so does the database itself (triggers installed by this app's migration)."""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn, TypeVar

from django.db import models

_M = TypeVar("_M", bound=models.Model)


class AppendOnlyError(TypeError):
    """An attempt to change or delete a record that is a fact."""


class AppendOnlyQuerySet(models.QuerySet[_M]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are append-only")

    def delete(self) -> NoReturn:
        raise AppendOnlyError(f"{self.model._meta.verbose_name_plural} are append-only")


class AppendOnlyModel(models.Model):
    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.verbose_name_plural} are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(f"{self._meta.verbose_name_plural} are append-only")


class AuditEntry(AppendOnlyModel):
    """Who changed or read what. Only ids and field names are kept, never values: the trail
    survives a patient's erasure without holding their personal data."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Null for the system itself or an anonymous caller (e.g. a failed login).
    actor_id = models.UUIDField(null=True, blank=True, db_index=True)
    # The roles the actor's token carried at the time: a clinician reading as a clinician.
    actor_roles = models.JSONField(default=list, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=64, blank=True)
    subject_patient_id = models.UUIDField(null=True, blank=True, db_index=True)
    request_id = models.CharField(max_length=64, blank=True)
    changed_fields = models.JSONField(default=list, blank=True)

    objects: ClassVar[AppendOnlyQuerySet[AuditEntry]] = AppendOnlyQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"


class HistoryOperation(models.TextChoices):
    INSERT = "I", "insert"
    UPDATE = "U", "update"
    DELETE = "D", "delete"


class HistoryRecord(AppendOnlyModel):
    """One row per insert, update or delete of a tracked table, written by a database trigger
    (see shared.audit.operations.TrackHistory), so no write path can skip it: not a queryset
    update(), not raw SQL. Never written by the application itself."""

    at = models.DateTimeField(db_index=True)
    table_name = models.CharField(max_length=63)
    row_pk = models.CharField(max_length=64)
    operation = models.CharField(max_length=1, choices=HistoryOperation.choices)
    # The row after an insert or update, before a delete; excluded columns are left out.
    data = models.JSONField()
    # After an update: every column whose value changed, excluded columns included.
    changed_fields = models.JSONField(default=list)
    actor_id = models.UUIDField(null=True, blank=True, db_index=True)
    request_id = models.CharField(max_length=64, blank=True)
    # PostgreSQL's transaction id: the rows one transaction wrote belong together.
    txid = models.BigIntegerField(null=True, blank=True)

    objects: ClassVar[AppendOnlyQuerySet[HistoryRecord]] = AppendOnlyQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["table_name", "row_pk"], name="audit_history_row_idx")]

    def __str__(self) -> str:
        return f"{self.operation} {self.table_name}:{self.row_pk}"
