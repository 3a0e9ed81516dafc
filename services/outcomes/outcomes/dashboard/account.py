"""Signing in and out, and the person's own account: joining the clinic with an invitation code,
setting a new password with a reset code the clinic gave (both before signing in), and changing
one's password. identity decides every one of them; these pages only carry the form there and
sign the browser in with the tokens identity answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from outcomes.dashboard import clients
from outcomes.dashboard.access import DashboardRequest, home_url, staff_member_page
from outcomes.dashboard.forms import (
    CodeForm,
    JoinForm,
    PasswordChangeForm,
    SignInForm,
    add_service_errors,
)
from outcomes.dashboard.parts import sent
from shared.auth.backends import session_principal, sign_in_with_tokens

NO_ANSWER_CODE = (
    "identity did not answer, so your code may not be used yet. Send the form again: a code "
    "that was used already says so, and then you can sign in with your new password."
)


class SignInView(LoginView):
    template_name = "dashboard/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return home_url(session_principal(self.request))


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)  # also ends the sign-in at identity (shared.auth.backends)
    messages.info(request, "You have signed out.")
    return redirect("dashboard:login")


def _code_page(
    request: HttpRequest, form: CodeForm, redeem: Callable[[], Any]
) -> HttpResponse | None:
    """Redeem a valid form's code at identity and sign the browser in with the answer; None
    (the form carries why) when identity refused it or did not answer."""
    if not (form.is_bound and form.is_valid()):
        return None
    pair = sent(form, redeem, no_answer=NO_ANSWER_CODE, renamed=CodeForm.SERVICE_FIELDS)
    if pair is None:
        return None
    if not sign_in_with_tokens(request, pair):
        form.add_error(None, NO_ANSWER_CODE)
        return None
    return redirect(home_url(session_principal(request)))


@never_cache
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    """A person invited to the clinic's staff accepts with the code their administrator gave
    and chooses their password; identity makes the account, and they are signed in."""
    form = JoinForm(request.POST if request.method == "POST" else None)
    done = _code_page(
        request,
        form,
        lambda: clients.invitation_accept(
            request,
            code=form.cleaned_data["code"],
            password=form.cleaned_data["new_password"],
            timezone_name=form.cleaned_data["timezone"],
        ),
    )
    if done is not None:
        messages.success(request, "Welcome: your account is ready and you are signed in.")
        return done
    return render(request, "dashboard/join.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """Someone who forgot their password sets a new one with the reset code the clinic gave;
    every other sign-in of theirs ends, and this browser is signed in."""
    form = CodeForm(request.POST if request.method == "POST" else None)
    done = _code_page(
        request,
        form,
        lambda: clients.password_reset_redeem(
            request,
            code=form.cleaned_data["code"],
            password=form.cleaned_data["new_password"],
        ),
    )
    if done is not None:
        messages.success(
            request,
            "Your new password is set and you are signed in. Elsewhere you were signed in, "
            "sign in again with it.",
        )
        return done
    return render(request, "dashboard/password_reset.html", {"form": form})


@require_http_methods(["GET", "POST"])
@staff_member_page
def account_password(request: DashboardRequest) -> HttpResponse:
    """The signed-in person changes their own password (at identity)."""
    form = PasswordChangeForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            clients.password_change(
                request,
                current_password=form.cleaned_data["current_password"],
                new_password=form.cleaned_data["new_password"],
            )
        except clients.InputRefused as exc:
            add_service_errors(form, exc.errors)
        except clients.ServiceUnavailable:
            form.add_error(
                None, "identity did not answer, so your password is unchanged. Try again."
            )
        else:
            messages.success(
                request,
                "Your password is changed. Elsewhere you were signed in, sign in again with it.",
            )
            return redirect(home_url(request.staff.principal))
    return render(request, "dashboard/account_password.html", {"form": form, "nav": ""})
