from __future__ import annotations

import uuid
import zoneinfo
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone

from shared.vocabulary import (
    DEXTROSE_MAX_PERCENT,
    DEXTROSE_MIN_PERCENT,
    PROTOCOL_CHOICES,
    Anaesthetic,
    CoTreatment,
    Diagnosis,
    Guidance,
    Laterality,
    Sex,
    Site,
    Solution,
)

# What a browser's date-and-time field sends.
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"
# The injection's details diary takes as codes, null when not recorded.
DETAILS = ("site", "laterality", "solution", "anaesthetic", "guidance", "protocol", "diagnosis")


class SignInForm(AuthenticationForm):
    """Sign-in with the identity account: e-mail address and password."""

    username = forms.EmailField(
        label="E-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "The e-mail address and password do not match an account, or the account is "
            "locked for a while after too many attempts. Check both and try again."
        ),
    }


def add_service_errors(
    form: forms.Form, errors: dict[str, list[str]], renamed: dict[str, str] | None = None
) -> None:
    """A service's messages (``clients.InputRefused``) on the fields they name, ``renamed``
    where the service calls a field otherwise; the rest on the whole form."""
    for field, messages in errors.items():
        name = (renamed or {}).get(field, field)
        for message in messages:
            form.add_error(name if name in form.fields else None, message)


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("fhir", "FHIR")])


class NewPasswordForm(forms.Form):
    """A new password, typed twice: identity checks its rules; the form only makes sure it was
    typed the same twice."""

    new_password = forms.CharField(
        label="New password",
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password_again = forms.CharField(
        label="New password again",
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    # identity's name for the new password, where it refuses one
    SERVICE_FIELDS = {"password": "new_password"}

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        new, again = cleaned.get("new_password"), cleaned.get("new_password_again")
        if new and again and new != again:
            self.add_error("new_password_again", "The two new passwords are not the same.")
        return cleaned


class PasswordChangeForm(NewPasswordForm):
    """The signed-in person's own password: identity checks the current one."""

    current_password = forms.CharField(
        label="Current password",
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    field_order = ["current_password", "new_password", "new_password_again"]


class CodeForm(NewPasswordForm):
    """A one-time code the clinic gave, and the password its holder chooses."""

    code = forms.CharField(
        label="Code",
        max_length=64,
        help_text="As you were given it, e.g. 7KQ3-M9XD-2HPT-WB4R.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "characters"}
        ),
    )

    field_order = ["code", "new_password", "new_password_again"]


def _zone_choices() -> list[tuple[str, str]]:
    """The IANA zones a person lives in (no aliases of the Etc/ and posix/ kinds), and UTC."""
    zones = sorted(
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("Etc/", "posix", "right/", "SystemV/"))
    )
    return [("UTC", "UTC"), *((name, name.replace("_", " ")) for name in zones)]


class JoinForm(CodeForm):
    """An invitation accepted on the web: identity makes the account with this password."""

    timezone = forms.ChoiceField(
        label="Your time zone",
        choices=_zone_choices,
        initial="UTC",
        help_text="The dashboard shows the clinic's times; this is your account's own zone.",
        widget=forms.Select(attrs={"data-browser-zone": ""}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.is_bound:  # what the person chose stays chosen
            self.fields["timezone"].widget.attrs["data-chosen"] = "1"

    field_order = ["code", "new_password", "new_password_again", "timezone"]


class ColleagueInvitationForm(forms.Form):
    """A clinician or clinic administrator invited to the clinic by its administrator."""

    email = forms.EmailField(
        label="E-mail address",
        max_length=254,
        help_text="They sign in with it.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    full_name = forms.CharField(label="Full name", max_length=200)
    role = forms.ChoiceField(
        label="Role",
        choices=[
            ("clinician", "Clinician: sees and treats the clinic's patients"),
            ("clinic_admin", "Clinic administrator: manages the clinic's people"),
        ],
        initial="clinician",
        widget=forms.RadioSelect,
    )


class DeactivateForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, this person may no longer sign in",
        help_text="Their sign-ins end at once. Their records and what they recorded stay.",
        error_messages={"required": "Tick the box to confirm, or leave the account as it is."},
    )


class EraseForm(forms.Form):
    """Erasing a patient is irreversible: confirmed by typing their e-mail address."""

    email = forms.CharField(
        label="Type the patient's e-mail address to confirm",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, expected_email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected_email = expected_email

    def clean_email(self) -> str:
        typed = str(self.cleaned_data.get("email", "")).strip()
        if typed.casefold() != self.expected_email.casefold():
            raise forms.ValidationError(
                "This is not the patient's e-mail address, so nothing was erased."
            )
        return typed


def _optional_choice(label: str, choices: Any) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=[("", "Not recorded"), *choices], required=False)


class InjectionDetailsForm(forms.Form):
    """An injection's time and details as diary records them (diary checks them again)."""

    performed_at = forms.DateTimeField(
        label="Given at",
        input_formats=[DATETIME_LOCAL],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
        help_text="Date and time in the clinic's time zone.",
    )
    site = _optional_choice("Site", Site.choices)
    laterality = _optional_choice("Side", Laterality.choices)
    solution = _optional_choice("Solution", Solution.choices)
    dextrose_percent = forms.DecimalField(
        label="Dextrose concentration (%)",
        min_value=DEXTROSE_MIN_PERCENT,
        max_value=DEXTROSE_MAX_PERCENT,
        decimal_places=1,
        required=False,
        help_text="For a dextrose solution only, e.g. 15 or 25.",
    )
    anaesthetic = _optional_choice("Local anaesthetic", Anaesthetic.choices)
    guidance = _optional_choice("Image guidance", Guidance.choices)
    protocol = _optional_choice("Protocol", PROTOCOL_CHOICES)
    diagnosis = _optional_choice("Diagnosis", Diagnosis.choices)
    co_treatments = forms.MultipleChoiceField(
        label="Co-treatments under way",
        choices=CoTreatment.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    # diary's names for this form's fields, where they differ ("" for the whole form)
    SERVICE_FIELDS: dict[str, str] = {}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        performed_at = cleaned.get("performed_at")
        if performed_at is not None and performed_at > timezone.now() + timedelta(minutes=1):
            self.add_error("performed_at", "An injection cannot be recorded before it is given.")
        if (
            cleaned.get("dextrose_percent") is not None
            and cleaned.get("solution") != Solution.DEXTROSE
        ):
            self.add_error("dextrose_percent", "Only a dextrose solution has a concentration.")
        return cleaned

    def details(self) -> dict[str, Any]:
        """The time and every detail, null where not recorded, as diary takes them."""
        data = self.cleaned_data
        percent = data["dextrose_percent"]
        return {
            "performed_at": data["performed_at"].isoformat(),
            **{name: data[name] or None for name in DETAILS},
            "dextrose_percent": float(percent) if percent is not None else None,
            "co_treatments": list(data["co_treatments"]),
        }


class InjectionForm(InjectionDetailsForm):
    """A new injection. Its ids are chosen when the form is first shown, so sending the same
    form twice records one injection."""

    injection_id = forms.UUIDField(widget=forms.HiddenInput)
    new_course_id = forms.UUIDField(widget=forms.HiddenInput)
    new_course = forms.BooleanField(
        label="This injection starts a new course",
        required=False,
        help_text="Otherwise it joins the course of the patient's nearest injection within 12 "
        "weeks of it, or starts one when there is none.",
    )

    SERVICE_FIELDS = {"id": "", "course_id": "new_course"}

    @classmethod
    def initial_values(cls) -> dict[str, Any]:
        now = timezone.localtime().replace(second=0, microsecond=0)
        return {"injection_id": uuid.uuid4(), "new_course_id": uuid.uuid4(), "performed_at": now}

    def diary_body(self) -> dict[str, Any]:
        """The body of diary's create."""
        body = {"id": str(self.cleaned_data["injection_id"]), **self.details()}
        if self.cleaned_data["new_course"]:
            body["course_id"] = str(self.cleaned_data["new_course_id"])
        return body


class InjectionCorrectionForm(InjectionDetailsForm):
    """A correction of a recorded injection, as of the version the clinician saw."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    @classmethod
    def initial_values(cls, row: dict[str, Any]) -> dict[str, Any]:
        """The form's values from diary's injection (its time in the clinic's zone)."""
        performed_at = row.get("performed_at")
        return {
            "version": row.get("version"),
            "performed_at": timezone.localtime(performed_at) if performed_at else None,
            **{name: row.get(name) or "" for name in DETAILS},
            "dextrose_percent": row.get("dextrose_percent"),
            "co_treatments": row.get("co_treatments") or [],
        }


class PatientDetailsForm(forms.Form):
    """A patient's details as the clinic records them (identity checks them again)."""

    full_name = forms.CharField(label="Full name", max_length=200)
    sex = forms.ChoiceField(label="Sex", choices=Sex.choices, initial=Sex.UNKNOWN)
    birth_year = forms.IntegerField(
        label="Year of birth",
        min_value=1900,
        required=False,
        help_text="For the age bands of cohorts.",
    )

    def clean_birth_year(self) -> int | None:
        year: int | None = self.cleaned_data.get("birth_year")
        if year is not None and year > timezone.localdate().year:
            raise forms.ValidationError("A year of birth cannot be in the future.")
        return year


class InvitationForm(PatientDetailsForm):
    """A patient invited to the clinic: identity sends nothing; the clinician gives the code."""

    email = forms.EmailField(
        label="E-mail address",
        max_length=254,
        help_text="They sign in with it.",
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )

    field_order = ["email", "full_name", "sex", "birth_year"]
