"""Administration pages. Changes go through the services, so they are audited and announced
like changes made through the API. Password and code hashes are never shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.password_validation import validate_password
from django.db.models import QuerySet
from django.http import HttpRequest

from identity.accounts import services
from identity.accounts.errors import AccountConflict, EmailTaken
from identity.accounts.models import Clinic, Invitation, Membership, User, normalise_email
from shared.api.errors import ProblemError
from shared.readonly_admin import ReadOnlyModelAdmin


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ("clinic", "role", "created_at")
    readonly_fields = ("clinic", "role", "created_at")
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class UserCreationForm(forms.ModelForm):
    password = forms.CharField(widget=forms.PasswordInput, strip=False)

    class Meta:
        model = User
        fields = ("email", "full_name", "timezone", "locale", "is_superuser")

    def clean_email(self) -> str:
        email = normalise_email(self.cleaned_data["email"])
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError("An account with this e-mail address exists already.")
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            probe = User(email=cleaned.get("email", ""), full_name=cleaned.get("full_name", ""))
            try:
                validate_password(password, probe)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("email", "full_name", "is_active", "is_staff", "is_superuser", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser", "memberships__role")
    search_fields = ("email", "full_name", "=id")
    ordering = ("email",)
    inlines = [MembershipInline]
    fields = (
        "id",
        "email",
        "full_name",
        "timezone",
        "locale",
        "sex",
        "birth_year",
        "is_active",
        "is_staff",
        "is_superuser",
        "date_joined",
        "last_login",
        "erased_at",
    )
    readonly_fields = (
        "id",
        "email",
        "is_active",
        "is_superuser",
        "date_joined",
        "last_login",
        "erased_at",
    )
    actions = ["deactivate_users", "reactivate_users", "erase_patients"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = UserCreationForm
            kwargs["fields"] = (*UserCreationForm.Meta.fields, "password")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return (*UserCreationForm.Meta.fields, "password")
        return self.fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return () if obj is None else self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Removing a row would break every other service's references; erase a patient instead.
        return False

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        actor_id = request.user.pk
        if not change:
            created = services.user_create(
                actor_id=actor_id,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                full_name=form.cleaned_data.get("full_name", ""),
                timezone_name=form.cleaned_data["timezone"],
                locale=form.cleaned_data["locale"],
                is_system_admin=form.cleaned_data.get("is_superuser", False),
            )
            obj.pk = created.pk
            obj._state.adding = False
            return
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        services.user_update(actor_id=actor_id, user=obj, changes=changes)

    def _each(
        self, request: HttpRequest, queryset: QuerySet[User], change: Callable[..., object]
    ) -> None:
        """``change`` for each selected user, as the signed-in administrator; a refusal is
        said beside the user's name and the others go on."""
        for user in queryset:
            try:
                change(actor_id=request.user.pk, user=user)
            except AccountConflict as exc:
                self.message_user(request, f"{user}: {exc.detail}", messages.ERROR)

    @admin.action(description="Deactivate the selected users")
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._each(request, queryset, services.user_deactivate)

    @admin.action(description="Reactivate the selected users")
    def reactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._each(request, queryset, services.user_reactivate)

    @admin.action(description="Erase the selected patients (irreversible)")
    def erase_patients(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._each(
            request,
            queryset,
            lambda actor_id, user: services.patient_erase(actor_id=actor_id, patient=user),
        )


class ClinicForm(forms.ModelForm):
    class Meta:
        model = Clinic
        fields = ("name", "timezone")


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    form = ClinicForm
    list_display = ("name", "timezone", "created_at")
    search_fields = ("name", "=id")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Clinic, form: Any, change: bool) -> None:
        if change:
            changes = {field: form.cleaned_data[field] for field in form.changed_data}
            services.clinic_update(actor_id=request.user.pk, clinic=obj, changes=changes)
            return
        try:
            created = services.clinic_create(
                actor_id=request.user.pk,
                name=form.cleaned_data["name"],
                timezone_name=form.cleaned_data["timezone"],
            )
        except ProblemError as exc:
            self.message_user(request, str(exc.detail), messages.ERROR)
            return
        obj.pk = created.pk
        obj._state.adding = False


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ("user", "clinic", "role")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipForm
    list_display = ("user", "clinic", "role", "created_at")
    list_filter = ("role", "clinic")
    search_fields = ("user__email", "=user__id")
    raw_id_fields = ("user",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        try:
            created = services.membership_grant(
                actor_id=request.user.pk,
                user=form.cleaned_data["user"],
                clinic=form.cleaned_data["clinic"],
                role=form.cleaned_data["role"],
            )
        except (AccountConflict, EmailTaken) as exc:
            self.message_user(request, str(exc.detail), messages.ERROR)
            return
        obj.pk = created.pk
        obj._state.adding = False


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyModelAdmin):
    # Codes are handed out by the API, which shows the code once to the person inviting.
    list_display = (
        "email",
        "clinic",
        "role",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    )
    list_filter = ("role", "clinic")
    search_fields = ("email", "=id")
    fields = (
        "id",
        "clinic",
        "role",
        "email",
        "full_name",
        "sex",
        "birth_year",
        "created_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_user",
        "revoked_at",
    )
    readonly_fields = fields
    actions = ["revoke_invitations"]

    @admin.action(description="Revoke the selected invitations")
    def revoke_invitations(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        for invitation in queryset:
            try:
                services.invitation_revoke(actor_id=request.user.pk, invitation=invitation)
            except AccountConflict as exc:
                self.message_user(request, f"{invitation}: {exc.detail}", messages.ERROR)
