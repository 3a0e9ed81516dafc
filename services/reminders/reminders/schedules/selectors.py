"""Reads of schedule templates: which one applies to a course, and who may see which."""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.http import Http404

from reminders.schedules.models import ScheduleTemplate
from shared.auth.principal import Role, TokenUser


def template_for(*, clinic_id: uuid.UUID | None, protocol: str) -> ScheduleTemplate | None:
    """The most specific active template: (clinic, protocol), then (clinic, any protocol), then
    (default, protocol), then (default, any protocol)."""
    candidates = (
        ScheduleTemplate.objects.filter(active=True, protocol__in={protocol, ""})
        .filter(Q(clinic_id=clinic_id) | Q(clinic_id__isnull=True))
        .prefetch_related("offsets")
    )

    def rank(template: ScheduleTemplate) -> tuple[bool, bool]:
        return (template.clinic_id is not None, template.protocol != "")

    ordered = sorted(candidates, key=rank, reverse=True)
    return ordered[0] if ordered else None


def templates_visible(user: TokenUser) -> QuerySet[ScheduleTemplate]:
    """System administrators see every template; a clinic's administrators see their clinic's
    and the defaults (which they may copy but not change)."""
    templates = ScheduleTemplate.objects.prefetch_related("offsets").order_by("name", "id")
    if user.has_role(Role.SYSTEM_ADMIN):
        return templates
    if user.has_role(Role.CLINIC_ADMIN) and user.clinic_id is not None:
        return templates.filter(Q(clinic_id=user.clinic_id) | Q(clinic_id__isnull=True))
    return templates.none()


def template_get(user: TokenUser, template_id: uuid.UUID) -> ScheduleTemplate:
    template = templates_visible(user).filter(id=template_id).first()
    if template is None:
        raise Http404
    return template


def may_edit(user: TokenUser, template: ScheduleTemplate) -> bool:
    if user.has_role(Role.SYSTEM_ADMIN):
        return True
    return (
        user.has_role(Role.CLINIC_ADMIN)
        and template.clinic_id is not None
        and template.clinic_id == user.clinic_id
    )
