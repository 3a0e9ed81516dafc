"""Schedule templates for administrators: clinic administrators manage their clinic's, system
administrators the defaults (and any clinic's). Preview shows what a template would plan."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reminders.api import LocalTimeField, problems, validated
from reminders.schedules import selectors, services
from reminders.schedules.errors import TemplateInvalid, TemplateNotEditable
from reminders.schedules.models import Anchor, Instrument, ScheduleTemplate, TemplateOffset
from reminders.schedules.plan import TemplateSpec
from reminders.schedules.preview import SampleInvalid, parse_sample, template_timeline
from reminders.schedules.validation import template_errors
from shared.api.serializers import StrictInputSerializer
from shared.auth.permissions import role_required
from shared.auth.principal import Role, TokenUser, caller

IsTemplateAdmin = role_required(Role.CLINIC_ADMIN, Role.SYSTEM_ADMIN)


class OffsetInputSerializer(StrictInputSerializer):
    anchor = serializers.ChoiceField(choices=Anchor.choices)
    months = serializers.IntegerField(default=0)
    days = serializers.IntegerField(default=0)
    local_time = LocalTimeField(help_text="Local time of day, HH:MM.")
    window_hours = serializers.IntegerField(help_text="How long it can be answered.")
    nudge_after_hours = serializers.IntegerField(required=False, allow_null=True, default=None)
    nudge_max = serializers.IntegerField(default=0)
    channels = serializers.ListField(
        child=serializers.CharField(max_length=20), help_text="In order of preference."
    )
    instrument = serializers.ChoiceField(choices=Instrument.choices)


class QuietHoursSerializer(StrictInputSerializer):
    start = LocalTimeField()
    end = LocalTimeField()


class TemplateInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    clinic_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="System administrators only: the clinic, or null for a default template.",
    )
    protocol = serializers.CharField(
        max_length=100, required=False, allow_blank=True, allow_null=True, default=""
    )
    active = serializers.BooleanField(default=True)
    quiet_hours = QuietHoursSerializer(required=False, allow_null=True, default=None)
    source = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    offsets = OffsetInputSerializer(many=True)


class OffsetOutputSerializer(serializers.ModelSerializer[TemplateOffset]):
    local_time = LocalTimeField()

    class Meta:
        model = TemplateOffset
        fields = [
            "key",
            "kind",
            "anchor",
            "months",
            "days",
            "local_time",
            "window_hours",
            "nudge_after_hours",
            "nudge_max",
            "channels",
            "instrument",
        ]


class TemplateOutputSerializer(serializers.ModelSerializer[ScheduleTemplate]):
    is_default = serializers.SerializerMethodField()
    editable = serializers.SerializerMethodField(help_text="Whether the caller may change it.")
    quiet_hours = serializers.SerializerMethodField()
    offsets = OffsetOutputSerializer(many=True)

    class Meta:
        model = ScheduleTemplate
        fields = [
            "id",
            "name",
            "clinic_id",
            "is_default",
            "protocol",
            "active",
            "version",
            "quiet_hours",
            "source",
            "offsets",
            "editable",
            "created_at",
            "updated_at",
        ]

    def get_is_default(self, template: ScheduleTemplate) -> bool:
        return template.clinic_id is None

    def get_editable(self, template: ScheduleTemplate) -> bool:
        user = self.context.get("user")
        return isinstance(user, TokenUser) and selectors.may_edit(user, template)

    def get_quiet_hours(self, template: ScheduleTemplate) -> dict[str, str] | None:
        if template.quiet_start is None or template.quiet_end is None:
            return None
        return {
            "start": template.quiet_start.strftime("%H:%M"),
            "end": template.quiet_end.strftime("%H:%M"),
        }


def _service_data(validated: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in validated.items() if k not in ("quiet_hours", "clinic_id")}
    if "quiet_hours" in validated:
        quiet = validated["quiet_hours"] or {}
        data["quiet_start"] = quiet.get("start")
        data["quiet_end"] = quiet.get("end")
    if "protocol" in data:
        data["protocol"] = data["protocol"] or ""
    if "offsets" in data:
        data["offsets"] = [dict(o) for o in data["offsets"]]
    return data


def _clinic_for_new(user: TokenUser, validated: dict[str, Any]) -> uuid.UUID | None:
    if user.has_role(Role.SYSTEM_ADMIN):
        clinic_id: uuid.UUID | None = validated.get("clinic_id")
        return clinic_id
    if "clinic_id" in validated:
        raise serializers.ValidationError(
            {"clinic_id": ["Your token decides the clinic; leave this out."]}
        )
    return user.clinic_id


def _output(template: ScheduleTemplate, user: TokenUser) -> dict[str, Any]:
    fresh = ScheduleTemplate.objects.prefetch_related("offsets").get(id=template.id)
    return dict(TemplateOutputSerializer(fresh, context={"user": user}).data)


class TemplateListApi(APIView):
    permission_classes = [IsTemplateAdmin]

    @extend_schema(
        operation_id="templates_list",
        responses={200: TemplateOutputSerializer(many=True), **problems(401, 403)},
    )
    def get(self, request: Request) -> Response:
        user = caller(request)
        templates = selectors.templates_visible(user)
        return Response(TemplateOutputSerializer(templates, many=True, context={"user": user}).data)

    @extend_schema(
        operation_id="templates_create",
        request=TemplateInputSerializer,
        responses={201: TemplateOutputSerializer, **problems(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        user = caller(request)
        data = validated(TemplateInputSerializer(data=request.data))
        clinic_id = _clinic_for_new(user, data)
        if clinic_id is None and not user.has_role(Role.SYSTEM_ADMIN):
            raise TemplateNotEditable("Only system administrators manage the default templates.")
        template = services.template_create(
            actor_id=user.id, clinic_id=clinic_id, data=_service_data(data)
        )
        return Response(_output(template, user), status=status.HTTP_201_CREATED)


class TemplateDetailApi(APIView):
    permission_classes = [IsTemplateAdmin]

    def _editable(self, user: TokenUser, template_id: uuid.UUID) -> ScheduleTemplate:
        template = selectors.template_get(user, template_id)
        if not selectors.may_edit(user, template):
            raise TemplateNotEditable("Only system administrators change the default templates.")
        return template

    @extend_schema(
        operation_id="templates_read",
        responses={200: TemplateOutputSerializer, **problems(401, 403, 404)},
    )
    def get(self, request: Request, template_id: uuid.UUID) -> Response:
        user = caller(request)
        return Response(_output(selectors.template_get(user, template_id), user))

    def _update(self, request: Request, template_id: uuid.UUID, partial: bool) -> Response:
        user = caller(request)
        template = self._editable(user, template_id)
        data = validated(TemplateInputSerializer(data=request.data, partial=partial))
        if "clinic_id" in data:
            raise serializers.ValidationError(
                {"clinic_id": ["A template stays with its clinic; create a new one instead."]}
            )
        template = services.template_update(
            actor_id=user.id, template=template, changes=_service_data(data)
        )
        return Response(_output(template, user))

    @extend_schema(
        operation_id="templates_replace",
        request=TemplateInputSerializer,
        responses={200: TemplateOutputSerializer, **problems(400, 401, 403, 404, 409)},
    )
    def put(self, request: Request, template_id: uuid.UUID) -> Response:
        return self._update(request, template_id, partial=False)

    @extend_schema(
        operation_id="templates_update",
        request=TemplateInputSerializer,
        responses={200: TemplateOutputSerializer, **problems(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, template_id: uuid.UUID) -> Response:
        return self._update(request, template_id, partial=True)

    @extend_schema(
        operation_id="templates_deactivate",
        responses={204: None, **problems(401, 403, 404)},
        description="Deactivates the template: it plans nothing more and stays on record.",
    )
    def delete(self, request: Request, template_id: uuid.UUID) -> Response:
        user = caller(request)
        services.template_deactivate(actor_id=user.id, template=self._editable(user, template_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Preview ----------------------------------------------------------------------------------


class PreviewNudgeSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    local = serializers.CharField()


class PreviewPromptSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    kind = serializers.CharField()
    anchor = serializers.CharField()
    instrument = serializers.CharField()
    template_local_time = serializers.CharField(help_text="The offset's time of day, HH:MM.")
    due_at = serializers.DateTimeField(help_text="UTC.")
    due_local = serializers.CharField(help_text="In the sample time zone, with its UTC offset.")
    expires_at = serializers.DateTimeField()
    expires_local = serializers.CharField()
    adjustments = serializers.ListField(
        child=serializers.CharField(),
        help_text="dst_gap_moved_forward, dst_ambiguous_first_occurrence, quiet_hours_moved_to_end",
    )
    nudges = PreviewNudgeSerializer(many=True)


class PreviewOutputSerializer(serializers.Serializer[Any]):
    timezone = serializers.CharField()
    injected_at = serializers.DateTimeField()
    injected_local = serializers.CharField()
    prompts = PreviewPromptSerializer(many=True)


class PreviewSampleSerializer(StrictInputSerializer):
    injected_at = serializers.CharField(
        help_text="ISO 8601; without a UTC offset it is a local time in `timezone`."
    )
    timezone = serializers.CharField(max_length=64, help_text="IANA zone, e.g. Europe/London.")


def _sample(validated: dict[str, Any]) -> tuple[datetime, ZoneInfo]:
    try:
        return parse_sample(validated["injected_at"], validated["timezone"])
    except SampleInvalid as exc:
        raise serializers.ValidationError({exc.field: [exc.message]}) from None


def _preview(spec: TemplateSpec, injected_at: datetime, tz: ZoneInfo) -> dict[str, Any]:
    timeline = template_timeline(spec, injected_at=injected_at, tz=tz)
    return {
        "timezone": tz.key,
        "injected_at": injected_at,
        "injected_local": timeline.injected_local.isoformat(),
        "prompts": [
            {
                "key": p.offset.key,
                "kind": p.offset.kind,
                "anchor": p.offset.anchor,
                "instrument": p.offset.instrument,
                "template_local_time": p.offset.local_time.strftime("%H:%M"),
                "due_at": p.intended.utc,
                "due_local": p.intended.local.isoformat(),
                "expires_at": p.expires_at,
                "expires_local": p.expires_at.astimezone(tz).isoformat(),
                "adjustments": list(p.intended.adjustments),
                "nudges": [{"at": n.utc, "local": n.local.isoformat()} for n in p.nudges],
            }
            for p in (entry.prompt for entry in timeline.entries)
        ],
    }


class TemplatePreviewApi(APIView):
    """What an unsaved template would plan for one sample injection, in local time and UTC.
    A baseline counts back from the sample injection as if it were recorded in advance."""

    permission_classes = [IsTemplateAdmin]

    class InputSerializer(PreviewSampleSerializer):
        template = TemplateInputSerializer()

    @extend_schema(
        operation_id="templates_preview",
        request=InputSerializer,
        responses={200: PreviewOutputSerializer, **problems(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        sample = validated(self.InputSerializer(data=request.data))
        injected_at, tz = _sample(sample)
        data = _service_data(dict(sample["template"]))
        errors = template_errors(
            name=data["name"],
            quiet_start=data.get("quiet_start"),
            quiet_end=data.get("quiet_end"),
            offsets=data["offsets"],
        )
        if errors:
            raise TemplateInvalid([{**e, "field": f"template.{e['field']}"} for e in errors])
        spec = TemplateSpec.from_values(
            quiet_start=data.get("quiet_start"),
            quiet_end=data.get("quiet_end"),
            offsets=data["offsets"],
        )
        return Response(PreviewOutputSerializer(_preview(spec, injected_at, tz)).data)


class TemplateSavedPreviewApi(APIView):
    """What a saved template plans for one sample injection."""

    permission_classes = [IsTemplateAdmin]

    @extend_schema(
        operation_id="templates_preview_saved",
        request=PreviewSampleSerializer,
        responses={200: PreviewOutputSerializer, **problems(400, 401, 403, 404)},
    )
    def post(self, request: Request, template_id: uuid.UUID) -> Response:
        template = selectors.template_get(caller(request), template_id)
        injected_at, tz = _sample(validated(PreviewSampleSerializer(data=request.data)))
        spec = TemplateSpec.from_model(template)
        return Response(PreviewOutputSerializer(_preview(spec, injected_at, tz)).data)
