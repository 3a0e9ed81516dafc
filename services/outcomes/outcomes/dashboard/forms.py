from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm


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


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("fhir", "FHIR")])
