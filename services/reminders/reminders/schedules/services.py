"""Writes of schedule templates. Every edit bumps the version and marks the courses the template
may plan for re-planning, in the same transaction; the re-plan itself runs after commit (and in
every sweep), touching only prompts not yet sent."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import time
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from reminders.prompts.services.planning import courses_mark_for_replan, replan_kick
from reminders.schedules.errors import TemplateConflict, TemplateInvalid
from reminders.schedules.models import ScheduleTemplate, TemplateOffset
from reminders.schedules.validation import template_errors

TEMPLATE_FIELDS = ("name", "protocol", "active", "quiet_start", "quiet_end", "source")
OFFSET_FIELDS = (
    "anchor",
    "months",
    "days",
    "local_time",
    "window_hours",
    "nudge_after_hours",
    "nudge_max",
    "channels",
    "instrument",
)


def _offset_dicts(template: ScheduleTemplate) -> list[dict[str, Any]]:
    return [{f: getattr(o, f) for f in OFFSET_FIELDS} for o in template.offsets.all()]


def _validate(
    *, name: str, quiet_start: time | None, quiet_end: time | None, offsets: Sequence[Mapping]
) -> None:
    errors = template_errors(
        name=name,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        offsets=[dict(o) for o in offsets],
    )
    if errors:
        raise TemplateInvalid(errors)


def _check_single_active(template: ScheduleTemplate) -> None:
    if not template.active:
        return
    clash = ScheduleTemplate.objects.filter(
        active=True, clinic_id=template.clinic_id, protocol=template.protocol
    ).exclude(id=template.id)
    if clash.exists():
        scope = "this clinic" if template.clinic_id else "the defaults"
        protocol = f"protocol {template.protocol!r}" if template.protocol else "any protocol"
        raise TemplateConflict(
            f"An active template for {protocol} exists already in {scope}; "
            "deactivate it first or edit it instead."
        )


def _save(template: ScheduleTemplate, offsets: Sequence[Mapping[str, Any]] | None) -> None:
    _check_single_active(template)
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        # Two admins activating templates for the same scope at once: one of them wins.
        raise TemplateConflict(
            "Another active template for this scope was saved meanwhile."
        ) from None
    if offsets is not None:
        template.offsets.all().delete()
        TemplateOffset.objects.bulk_create(
            TemplateOffset(
                template=template,
                position=position,
                nudge_after_hours=offset.get("nudge_after_hours") or None,
                **{f: offset[f] for f in OFFSET_FIELDS if f != "nudge_after_hours"},
            )
            for position, offset in enumerate(offsets)
        )


def _replan_scopes(*scopes: tuple[uuid.UUID | None, str]) -> None:
    now = timezone.now()
    for clinic_id, protocol in set(scopes):
        courses_mark_for_replan(clinic_id=clinic_id, protocol=protocol, now=now)
    transaction.on_commit(replan_kick)


@transaction.atomic
def template_create(
    *, actor_id: uuid.UUID | None, clinic_id: uuid.UUID | None, data: Mapping[str, Any]
) -> ScheduleTemplate:
    offsets = list(data.get("offsets") or [])
    _validate(
        name=data.get("name", ""),
        quiet_start=data.get("quiet_start"),
        quiet_end=data.get("quiet_end"),
        offsets=offsets,
    )
    template = ScheduleTemplate(
        clinic_id=clinic_id,
        updated_by=actor_id,
        name=data["name"].strip(),
        protocol=(data.get("protocol") or "").strip(),
        active=data.get("active", True),
        quiet_start=data.get("quiet_start"),
        quiet_end=data.get("quiet_end"),
        source=data.get("source", ""),
    )
    _save(template, offsets)
    _replan_scopes((template.clinic_id, template.protocol))
    return template


def template_copy(
    *, actor_id: uuid.UUID | None, template: ScheduleTemplate, clinic_id: uuid.UUID
) -> ScheduleTemplate:
    """A clinic's own copy of a template (a default, usually) to adapt: inactive, so it plans
    nothing and clashes with no active template until the clinic makes it active."""
    data = {f: getattr(template, f) for f in TEMPLATE_FIELDS}
    data.update(name=f"{template.name} (copy)", active=False, offsets=_offset_dicts(template))
    return template_create(actor_id=actor_id, clinic_id=clinic_id, data=data)


@transaction.atomic
def template_update(
    *, actor_id: uuid.UUID | None, template: ScheduleTemplate, changes: Mapping[str, Any]
) -> ScheduleTemplate:
    """Apply the changes (any of the template's fields, and ``offsets`` to replace the whole
    list); the version goes up by one."""
    template = ScheduleTemplate.objects.select_for_update().get(id=template.id)
    before = (template.clinic_id, template.protocol)
    merged = {f: getattr(template, f) for f in TEMPLATE_FIELDS}
    merged.update({k: v for k, v in changes.items() if k in TEMPLATE_FIELDS})
    offsets = changes.get("offsets")
    _validate(
        name=merged["name"],
        quiet_start=merged["quiet_start"],
        quiet_end=merged["quiet_end"],
        offsets=offsets if offsets is not None else _offset_dicts(template),
    )
    for field in TEMPLATE_FIELDS:
        setattr(template, field, merged[field])
    template.name = template.name.strip()
    template.protocol = (template.protocol or "").strip()
    template.version += 1
    template.updated_by = actor_id
    _save(template, offsets)
    _replan_scopes(before, (template.clinic_id, template.protocol))
    return template


@transaction.atomic
def template_deactivate(*, actor_id: uuid.UUID | None, template: ScheduleTemplate) -> None:
    """Templates are never deleted: the prompts they planned keep naming them. A deactivated
    template plans nothing more, and its future unsent prompts are re-planned by whichever
    template applies now (or cancelled if none does)."""
    template = ScheduleTemplate.objects.select_for_update().get(id=template.id)
    if not template.active:
        return
    template.active = False
    template.version += 1
    template.updated_by = actor_id
    template.save(update_fields=["active", "version", "updated_by", "updated_at"])
    _replan_scopes((template.clinic_id, template.protocol))


@transaction.atomic
def template_admin_save(
    *,
    actor_id: uuid.UUID | None,
    template: ScheduleTemplate,
    offsets: Sequence[Mapping[str, Any]],
    created: bool,
    previous_scope: tuple[uuid.UUID | None, str] | None,
) -> None:
    """What the Django admin's form (already validated and saved) leaves to do: replace the
    offsets in the order shown, bump the version of an edited template, and re-plan."""
    template.protocol = (template.protocol or "").strip()
    if not created:
        template.version += 1
    template.updated_by = actor_id
    _save(template, offsets)
    scopes = [(template.clinic_id, template.protocol)]
    if previous_scope is not None:
        scopes.append(previous_scope)
    _replan_scopes(*scopes)
