"""Schedule templates in the Django admin: edited with the same validation as the admin API, and
saved through the same service (version bump, re-plan of unsent prompts)."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from reminders.schedules import services
from reminders.schedules.models import ScheduleTemplate, TemplateOffset
from reminders.schedules.services import OFFSET_FIELDS
from reminders.schedules.validation import offset_errors, quiet_hours_errors


def _offset_rows(formset: BaseInlineFormSet) -> list[dict[str, Any]]:
    rows = []
    for form in formset.forms:
        data = getattr(form, "cleaned_data", None)
        if not data or data.get("DELETE"):
            continue
        rows.append({field: data.get(field) for field in OFFSET_FIELDS})
    return rows


class OffsetInlineFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        problems = offset_errors(_offset_rows(self), prefix="offset")
        if problems:
            raise ValidationError([f"{p['field']}: {p['message']}" for p in problems])


class TemplateOffsetInline(admin.TabularInline):
    model = TemplateOffset
    formset = OffsetInlineFormSet
    fields = OFFSET_FIELDS
    ordering = ("position",)
    extra = 0


class TemplateForm(forms.ModelForm):
    class Meta:
        model = ScheduleTemplate
        fields = ("name", "clinic_id", "protocol", "active", "quiet_start", "quiet_end", "source")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for problem in quiet_hours_errors(cleaned.get("quiet_start"), cleaned.get("quiet_end")):
            self.add_error("quiet_start", problem["message"])
        if cleaned.get("active", False):
            clash = ScheduleTemplate.objects.filter(
                active=True,
                clinic_id=cleaned.get("clinic_id"),
                protocol=(cleaned.get("protocol") or "").strip(),
            )
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                raise ValidationError(
                    "An active template for this clinic and protocol exists already; "
                    "deactivate it first."
                )
        return cleaned


def _actor(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(request.user.get_username()))
    except ValueError:
        return None


@admin.register(ScheduleTemplate)
class ScheduleTemplateAdmin(admin.ModelAdmin):
    form = TemplateForm
    inlines = [TemplateOffsetInline]
    list_display = ("name", "clinic_id", "protocol", "active", "version", "updated_at")
    list_filter = ("active", ("clinic_id", admin.EmptyFieldListFilter))
    search_fields = ("name", "protocol", "=clinic_id")
    readonly_fields = ("version", "created_at", "updated_at", "updated_by")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Prompts name the template that planned them: deactivate instead.
        return False

    def save_model(
        self, request: HttpRequest, obj: ScheduleTemplate, form: Any, change: bool
    ) -> None:
        initial = form.initial
        self._previous_scope = (
            (initial.get("clinic_id"), initial.get("protocol") or "") if change else None
        )
        obj.save()

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        # Offsets are replaced as a whole by the service, in the order the form shows them.
        self._offsets = _offset_rows(formset)
        # The admin's change message reads these; the history says "offsets changed" instead.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        self._offsets = []
        super().save_related(request, form, formsets, change)
        services.template_admin_save(
            actor_id=_actor(request),
            template=form.instance,
            offsets=self._offsets,
            created=not change,
            previous_scope=self._previous_scope,
        )
