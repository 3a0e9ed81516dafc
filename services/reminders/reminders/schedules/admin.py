"""Schedule templates in the Django admin: edited with the same validation as the admin API, and
saved through the same service (version bump, re-plan of unsent prompts).

System administrators manage every template. A clinic administrator signed in here sees their
clinic's templates and the defaults, changes only their clinic's (a new one is always their
clinic's), and copies a default to adapt it; nothing else of this admin is theirs (ADR 0020).

The change form has a preview panel (``admin/schedules/scheduletemplate/change_form.html``): the
prompt timeline the template plans for a sample injection date and time zone, computed by the
planning code itself. It follows unsaved edits: the page posts the form's current values to the
``preview/`` view, which validates them as a save would and answers the panel's new content.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, QueryDict
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from reminders.schedules import admin_preview, services
from reminders.schedules.models import ScheduleTemplate, TemplateOffset
from reminders.schedules.plan import TemplateSpec
from reminders.schedules.services import OFFSET_FIELDS
from reminders.schedules.validation import offset_errors, quiet_hours_errors
from shared.auth.backends import IdentityUnavailable, session_access_token, session_principal
from shared.auth.principal import Role

PREVIEW_RESULT_TEMPLATE = "admin/schedules/scheduletemplate/preview_result.html"


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


_SCOPE_ATTRIBUTE = "_schedule_clinic_scope"


def clinic_scope(request: HttpRequest) -> uuid.UUID | None:
    """The clinic of a clinic administrator (not a system administrator) signed in here, whose
    sign-in identity still honours; None for anyone else. Asked once per request."""
    if hasattr(request, _SCOPE_ATTRIBUTE):
        return getattr(request, _SCOPE_ATTRIBUTE)
    scope = None
    principal = session_principal(request)
    if (
        not request.user.is_superuser
        and principal is not None
        and principal.clinic_id is not None
        and principal.has_role(Role.CLINIC_ADMIN)
    ):
        try:
            # Refreshed at identity when due: a deactivated administrator is shut out soon.
            if session_access_token(request) is not None:
                scope = principal.clinic_id
        except IdentityUnavailable:
            scope = None
    setattr(request, _SCOPE_ATTRIBUTE, scope)
    return scope


def _may_change(request: HttpRequest, template: ScheduleTemplate | None) -> bool:
    """For a clinic administrator: a template of their own clinic (or a new one)."""
    scope = clinic_scope(request)
    return scope is not None and (template is None or template.clinic_id == scope)


class TemplateOffsetInline(admin.TabularInline):
    model = TemplateOffset
    formset = OffsetInlineFormSet
    fields = OFFSET_FIELDS
    ordering = ("position",)
    extra = 0

    # A clinic administrator edits the offsets of the templates they may change.
    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or clinic_scope(request) is not None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) or _may_change(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) or _may_change(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) or _may_change(request, obj)


class TemplateForm(forms.ModelForm):
    class Meta:
        model = ScheduleTemplate
        fields = ("name", "clinic_id", "protocol", "active", "quiet_start", "quiet_end", "source")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for problem in quiet_hours_errors(cleaned.get("quiet_start"), cleaned.get("quiet_end")):
            self.add_error("quiet_start", problem["message"])
        if cleaned.get("active", False):
            # A clinic administrator's form has no clinic field: the template is their clinic's.
            clinic_id = cleaned.get("clinic_id", self.instance.clinic_id)
            clash = ScheduleTemplate.objects.filter(
                active=True,
                clinic_id=clinic_id,
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

    actions = ["copy_to_clinic"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Prompts name the template that planned them: deactivate instead.
        return False

    # --- A clinic administrator's share ---------------------------------------------------------

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or clinic_scope(request) is not None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if super().has_view_permission(request, obj):
            return True
        scope = clinic_scope(request)
        return scope is not None and (obj is None or obj.clinic_id in (scope, None))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) or clinic_scope(request) is not None

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) or _may_change(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScheduleTemplate]:
        templates = super().get_queryset(request)
        scope = clinic_scope(request)
        if request.user.is_superuser or scope is None:
            return templates
        return templates.filter(Q(clinic_id=scope) | Q(clinic_id__isnull=True))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = super().get_fields(request, obj)
        if clinic_scope(request) is not None:
            return [field for field in fields if field != "clinic_id"]
        return fields

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        scope = clinic_scope(request)
        if scope is None:
            return form

        class ClinicTemplateForm(form):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                if self.instance._state.adding:
                    self.instance.clinic_id = scope  # whatever was posted

        return ClinicTemplateForm

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        if clinic_scope(request) is None:
            actions.pop("copy_to_clinic", None)
        return actions

    @admin.action(description="Copy to your clinic (inactive, to adapt)")
    def copy_to_clinic(self, request: HttpRequest, queryset: QuerySet[ScheduleTemplate]) -> None:
        scope = clinic_scope(request)
        if scope is None:
            raise PermissionDenied
        for template in queryset:
            copy = services.template_copy(
                actor_id=_actor(request), template=template, clinic_id=scope
            )
            self.message_user(
                request,
                f"{copy.name} is your clinic's, inactive: adapt it, then make it active.",
                messages.SUCCESS,
            )

    def save_model(
        self, request: HttpRequest, obj: ScheduleTemplate, form: Any, change: bool
    ) -> None:
        initial = form.initial
        # A clinic administrator's form has no clinic field: the clinic did not change.
        self._previous_scope = (
            (initial.get("clinic_id", obj.clinic_id), initial.get("protocol") or "")
            if change
            else None
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

    # --- Preview --------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        names = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view(self.preview_view)
        return [
            path("preview/", view, name=f"{names}_preview"),
            path("<path:object_id>/preview/", view, name=f"{names}_preview_saved"),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, object_id: str | None = None) -> HttpResponse:
        """The panel's result for the values posted (the whole change form, saved or not, and
        the sample): the timeline, or what stops it (400)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = None
        if object_id is not None:
            obj = self.get_object(request, unquote(object_id))
            if obj is None:
                raise Http404
            allowed = self.has_view_permission(request, obj)
        else:
            allowed = self.has_add_permission(request)
        if not allowed:
            raise PermissionDenied
        spec: TemplateSpec | None
        problems: list[str] = []
        if obj is not None and not self.has_change_permission(request, obj):
            # Shown read-only (a default, to a clinic administrator): the saved template.
            spec = TemplateSpec.from_model(obj)
        else:
            spec, problems = self._posted_spec(request, obj, request.POST)
        sample = admin_preview.sample_from(request.POST, timezone.localdate())
        result = admin_preview.result_context(spec, problems, sample)
        failed = bool(result.get("problems") or result.get("sample_error"))
        return TemplateResponse(
            request, PREVIEW_RESULT_TEMPLATE, {"result": result}, status=400 if failed else 200
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        context["schedule_preview"] = self._panel(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _panel(self, request: HttpRequest, obj: ScheduleTemplate | None) -> dict[str, Any]:
        names = f"admin:{self.opts.app_label}_{self.opts.model_name}"
        if obj is not None and obj.pk:
            url = reverse(f"{names}_preview_saved", args=[obj.pk], current_app=self.admin_site.name)
        else:
            url = reverse(f"{names}_preview", current_app=self.admin_site.name)
        if request.method == "POST":
            # A save that failed validation: preview what was submitted.
            spec, problems = self._posted_spec(request, obj, request.POST)
        elif obj is not None and obj.pk:
            spec, problems = TemplateSpec.from_model(obj), []
        else:
            spec, problems = None, []
        sample = admin_preview.sample_from(request.GET, timezone.localdate())
        return {
            "preview_url": url,
            "sample": sample,
            "sample_names": {
                "injected_at": admin_preview.INJECTED_AT,
                "timezone": admin_preview.TIMEZONE,
            },
            "timezones": admin_preview.timezone_names(),
            "result": admin_preview.result_context(spec, problems, sample),
        }

    def _posted_spec(
        self, request: HttpRequest, obj: ScheduleTemplate | None, data: QueryDict
    ) -> tuple[TemplateSpec | None, list[str]]:
        """The template the change form's values describe, validated by the form and offset
        formset a save uses, or the problems that stop it (only those that matter to the
        timeline: offsets and quiet hours)."""
        form = self.get_form(request, obj, change=obj is not None)(data, instance=obj)
        inline = TemplateOffsetInline(self.model, self.admin_site)
        formset_class = inline.get_formset(request, obj)
        formset = formset_class(
            data,
            instance=obj or ScheduleTemplate(),
            prefix=formset_class.get_default_prefix(),
            queryset=inline.get_queryset(request),
        )
        problems: list[str] = []
        form.is_valid()
        for field in ("quiet_start", "quiet_end"):
            label = form.fields[field].label or field
            problems += [f"{label}: {message}" for message in form.errors.get(field, [])]
        if not formset.is_valid():
            for index, offset_form in enumerate(formset.forms):
                for field, messages in offset_form.errors.items():
                    where = f"Offset {index + 1}" + (f", {field}" if field != "__all__" else "")
                    problems += [f"{where}: {message}" for message in messages]
            problems += [str(message) for message in formset.non_form_errors()]
        if problems:
            return None, problems
        return (
            TemplateSpec.from_values(
                quiet_start=form.cleaned_data.get("quiet_start"),
                quiet_end=form.cleaned_data.get("quiet_end"),
                offsets=_offset_rows(formset),
            ),
            [],
        )
