"""Reads from identity, diary and reminders on the signed-in person's behalf, with their own
access token: each service applies its own scoping and read log to them, exactly as it does for
any other client of its API (diary's read log records the clinician reading notes). The changes
made on the dashboard go the same way, so each service checks and records them as its own:
inviting a patient and giving a password reset code (identity), recording an injection (diary),
and a clinic administrator's inviting, deactivating and erasing (identity). Accepting an
invitation and setting a new password with a reset code are identity's calls for a visitor who is
not signed in yet.

Tokens come from the web session (shared.auth.backends); they are never logged.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from django.conf import settings
from django.http import HttpRequest
from django.utils.dateparse import parse_datetime

from shared.auth.backends import (
    IdentityUnavailable,
    session_access_token,
    session_tokens_replace,
)
from shared.observability.client_ip import client_ip
from shared.observability.context import current_request_id

logger = logging.getLogger(__name__)

# A list is read page by page, at most this many rows a page (the services' maximum) and at most
# this many pages: a clinic far bigger than that shows the first rows rather than hanging.
PAGE_SIZE = 200
MAX_PAGES = 50


class SignInEnded(Exception):
    """The clinician's sign-in has ended at identity: the web session must end too."""


class ServiceUnavailable(Exception):
    """The service could not answer now; the page shows what it has without that part."""

    def __init__(self, service: str) -> None:
        super().__init__(service)
        self.service = service


_local = threading.local()


def _session() -> requests.Session:
    # One connection pool per thread: keeps connections open between the pages of a worker.
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        _local.session = session
    return session


def _base_url(service: str) -> str:
    # IDENTITY_URL, DIARY_URL, REMINDERS_URL
    return str(getattr(settings, f"{service.upper()}_URL")).rstrip("/")


def _token(request: HttpRequest) -> str:
    try:
        token = session_access_token(request)
    except IdentityUnavailable as exc:
        raise ServiceUnavailable("identity") from exc
    if token is None:
        raise SignInEnded
    return token


class ActionRefused(Exception):
    """The service refused a change the clinician asked for; the message says why."""


class StaleVersion(Exception):
    """The object changed since the clinician opened it (412): their change was not made."""


class InputRefused(Exception):
    """The service refused what was typed: its messages by field ("" for the whole form)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("input refused")
        self.errors = errors


def _detail(response: requests.Response) -> str | None:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return None
    return str(detail) if detail else None


def _field_errors(response: requests.Response) -> dict[str, list[str]]:
    """A 400 problem's ``errors`` (docs/api.md) by field; its detail when it lists none."""
    try:
        listed = response.json().get("errors") or []
    except (ValueError, AttributeError):
        listed = []
    errors: dict[str, list[str]] = {}
    for item in listed:
        if isinstance(item, dict):
            field = str(item.get("field") or "").split(".")[0]
            errors.setdefault(field, []).append(str(item.get("message")))
    return errors or {"": [_detail(response) or "The service refused this."]}


def _call(
    request: HttpRequest,
    service: str,
    method: str,
    path: str,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    extra_headers: dict[str, str] | None = None,
    *,
    anonymous: bool = False,
) -> requests.Response:
    """A call with the signed-in person's access token, or ``anonymous`` (for a visitor who is
    not signed in) with the visitor's address, so identity counts wrong codes per visitor."""
    headers = {"Accept": "application/json", **(extra_headers or {})}
    if anonymous:
        headers["X-Forwarded-For"] = client_ip(request)
    else:
        headers["Authorization"] = f"Bearer {_token(request)}"
    request_id = current_request_id()
    if request_id:
        headers["X-Request-ID"] = request_id
    try:
        response = _session().request(
            method,
            _base_url(service) + path,
            params=params,
            json=body,
            headers=headers,
            timeout=settings.DASHBOARD_SERVICE_TIMEOUT,
        )
    except requests.RequestException as exc:
        logger.warning(
            "dashboard could not reach a service",
            extra={"service": service, "error": type(exc).__name__},
        )
        raise ServiceUnavailable(service) from exc
    if response.status_code == 401:
        raise SignInEnded
    return response


def _expect(response: requests.Response, service: str, *expected: int) -> None:
    if response.status_code not in expected:
        logger.warning(
            "a service refused a dashboard request",
            extra={"service": service, "status": response.status_code},
        )
        raise ServiceUnavailable(service)


def _json(response: requests.Response, service: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise ServiceUnavailable(service) from exc


def _body(response: requests.Response, service: str, *expected: int) -> Any:
    _expect(response, service, *expected)
    return _json(response, service)


def _get(
    request: HttpRequest, service: str, path: str, params: dict[str, Any] | None = None
) -> Any:
    response = _call(request, service, "GET", path, params)
    if response.status_code == 404:
        return None
    return _body(response, service, 200)


def _change(
    request: HttpRequest,
    service: str,
    path: str,
    body: dict[str, Any] | None = None,
    expected: tuple[int, ...] = (201,),
    method: str = "POST",
    version: int | None = None,
) -> requests.Response | None:
    """A change (POST unless told otherwise, with ``If-Match`` when a ``version`` is given);
    None when the object is not the clinician's (404). Input the service refuses raises
    InputRefused, a change it refuses (not allowed, in conflict, too many) ActionRefused, a
    version no longer current StaleVersion, any other answer than ``expected``
    ServiceUnavailable."""
    headers = {"If-Match": f'"{version}"'} if version is not None else None
    response = _call(request, service, method, path, body=body, extra_headers=headers)
    status = response.status_code
    if status == 404:
        return None
    if status == 400 and body is not None:
        raise InputRefused(_field_errors(response))
    if status == 412:
        raise StaleVersion
    if status == 429:
        raise ActionRefused("Too many changes in a short time. Wait a minute and try again.")
    if status in (403, 409, 410):
        raise ActionRefused(_detail(response) or f"{service} refused this.")
    _expect(response, service, *expected)
    return response


def _post(
    request: HttpRequest,
    service: str,
    path: str,
    body: dict[str, Any] | None = None,
    expected: tuple[int, ...] = (201,),
) -> Any:
    """The answer's body to a change (see ``_change``); None for 404."""
    response = _change(request, service, path, body, expected)
    return None if response is None else _json(response, service)


def _get_all(
    request: HttpRequest, service: str, path: str, params: dict[str, Any] | None = None
) -> list[dict[str, Any]] | None:
    """Every row of a paged list; None when the list itself is not found (404)."""
    rows: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        body = _get(
            request, service, path, {**(params or {}), "page": page, "page_size": PAGE_SIZE}
        )
        if body is None:
            return None if page == 1 else rows
        rows.extend(body.get("results", []))
        if not body.get("next"):
            break
    return rows


def _when(value: Any) -> datetime | None:
    return parse_datetime(value) if isinstance(value, str) else None


# --- identity -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    patient_id: uuid.UUID
    name: str
    email: str
    # False once identity has deactivated the account: no sign-in, no prompts, history kept.
    active: bool = True
    sex: str = "unknown"
    birth_year: int | None = None


def display_name(name: str, patient_id: uuid.UUID) -> str:
    """A patient as a page names them: their name, or the start of their id when identity gave
    none (a service that did not answer, or an erased patient)."""
    return name or f"Patient {str(patient_id)[:8]}"


@dataclass(frozen=True)
class Clinic:
    name: str
    timezone: str


def own_clinic(request: HttpRequest) -> Clinic | None:
    """The signed-in clinician's clinic, as identity names it."""
    body = _get(request, "identity", "/api/identity/v1/me/")
    if not body or not body.get("clinic_id"):
        return None
    return Clinic(name=body.get("clinic_name") or "", timezone=body.get("clinic_timezone") or "UTC")


def _person(row: dict[str, Any]) -> Person:
    return Person(
        patient_id=uuid.UUID(row["id"]),
        name=row.get("full_name") or "",
        email=row.get("email") or "",
        active=row.get("is_active") is not False,
        sex=row.get("sex") or "unknown",
        birth_year=row.get("birth_year"),
    )


def clinic_people(request: HttpRequest) -> dict[uuid.UUID, Person]:
    """The names and account standing of the clinic's patients, by patient id."""
    rows = _get_all(request, "identity", "/api/identity/v1/patients/") or []
    return {uuid.UUID(row["id"]): _person(row) for row in rows}


def person(request: HttpRequest, patient_id: uuid.UUID) -> Person | None:
    row = _get(request, "identity", f"/api/identity/v1/patients/{patient_id}/")
    if not row:
        return None
    return _person({**row, "id": str(patient_id)})


def person_update(
    request: HttpRequest,
    patient_id: uuid.UUID,
    *,
    full_name: str,
    sex: str,
    birth_year: int | None,
) -> bool:
    """Correct the patient's details recorded at the invitation. identity tells the other
    services of a changed sex or year of birth (cohorts group by them). False when identity does
    not know the patient in the clinician's clinic."""
    body = {"full_name": full_name, "sex": sex, "birth_year": birth_year}
    path = f"/api/identity/v1/patients/{patient_id}/"
    return _change(request, "identity", path, body, (200,), method="PATCH") is not None


@dataclass(frozen=True)
class ResetCode:
    code: str
    expires_at: datetime | None


def password_reset_code(request: HttpRequest, user_id: uuid.UUID) -> ResetCode | None:
    """A one-time code for a person of the clinic to set a new password with: identity issues it
    (a new one replaces an open one) and records who asked. None when identity does not know the
    person in the caller's clinic, or not as one the caller may give a code to (a clinician: a
    patient; a clinic admin: anyone of the clinic)."""
    body = _post(request, "identity", f"/api/identity/v1/users/{user_id}/password-reset/")
    if body is None:
        return None
    return ResetCode(code=str(body.get("code", "")), expires_at=_when(body.get("expires_at")))


def password_change(request: HttpRequest, *, current_password: str, new_password: str) -> None:
    """Change the signed-in person's own password at identity. Every other sign-in of theirs
    ends; this web session goes on with the new tokens identity answers."""
    response = _call(
        request,
        "identity",
        "POST",
        "/api/identity/v1/me/password/",
        body={"current_password": current_password, "new_password": new_password},
    )
    if response.status_code == 429:
        minutes = max(1, -(-int(response.headers.get("Retry-After", "60")) // 60))
        raise InputRefused(
            {"current_password": [f"Too many wrong attempts. Try again in {minutes} minutes."]}
        )
    if response.status_code == 400:
        raise InputRefused(_field_errors(response))
    if not session_tokens_replace(request, _body(response, "identity", 200)):
        raise ServiceUnavailable("identity")


@dataclass(frozen=True)
class Invitation:
    invitation_id: uuid.UUID
    email: str
    name: str
    created_at: datetime | None
    expires_at: datetime | None
    role: str = "patient"
    sex: str = "unknown"
    birth_year: int | None = None
    # Only in the answer to the invitation's creation: identity shows it once.
    code: str = ""


def _invitation(row: dict[str, Any]) -> Invitation:
    return Invitation(
        invitation_id=uuid.UUID(row["id"]),
        email=row.get("email") or "",
        name=row.get("full_name") or "",
        created_at=_when(row.get("created_at")),
        expires_at=_when(row.get("expires_at")),
        role=row.get("role") or "patient",
        sex=row.get("sex") or "unknown",
        birth_year=row.get("birth_year"),
        code=str(row.get("code") or ""),
    )


def invitation_create(
    request: HttpRequest,
    *,
    email: str,
    full_name: str,
    sex: str = "unknown",
    birth_year: int | None = None,
    role: str = "patient",
) -> Invitation:
    """Invite a person to the caller's clinic (the clinic is the token's) in ``role``: a
    patient (clinicians invite them), a clinician or a clinic admin (clinic admins do). identity
    answers the one-time code once; a new invitation to the same address replaces an open one."""
    body: dict[str, Any] = {"email": email, "role": role, "full_name": full_name, "sex": sex}
    if birth_year is not None:
        body["birth_year"] = birth_year
    row = _post(request, "identity", "/api/identity/v1/invitations/", body)
    if row is None:
        raise ServiceUnavailable("identity")
    return _invitation(row)


def pending_invitations(
    request: HttpRequest, roles: frozenset[str] = frozenset({"patient"})
) -> list[Invitation]:
    """The clinic's invitations to ``roles`` not yet accepted, withdrawn or expired, newest
    first."""
    rows = _get_all(request, "identity", "/api/identity/v1/invitations/", {"state": "pending"})
    return [_invitation(row) for row in rows or [] if row.get("role") in roles]


def invitation_withdraw(request: HttpRequest, invitation_id: uuid.UUID) -> bool:
    """Withdraw an open invitation: its code stops working. False when identity does not know
    it in the caller's clinic (or not as one the caller may withdraw)."""
    path = f"/api/identity/v1/invitations/{invitation_id}/revoke/"
    return _post(request, "identity", path, expected=(200,)) is not None


def _code_redeemed(request: HttpRequest, path: str, body: dict[str, Any]) -> Any:
    """identity's token pair for a visitor who redeemed a one-time code (an invitation's or a
    password reset's). What identity refuses raises InputRefused: a wrong, used or withdrawn
    code on ``code``, a password it does not take on ``password``."""
    response = _call(request, "identity", "POST", path, body=body, anonymous=True)
    status = response.status_code
    if status == 400:
        errors = _field_errors(response)
        if "" in errors:  # a code identity does not know: said of the code
            errors.setdefault("code", []).extend(errors.pop(""))
        raise InputRefused(errors)
    if status == 410:
        raise InputRefused({"code": [_detail(response) or "This code no longer works."]})
    if status == 409:
        raise InputRefused({"": [_detail(response) or "identity refused this."]})
    if status == 429:
        minutes = max(1, -(-int(response.headers.get("Retry-After", "60")) // 60))
        message = f"Too many wrong codes from here. Try again in {minutes} minutes."
        raise InputRefused({"code": [message]})
    return _body(response, "identity", 200, 201)


def invitation_accept(request: HttpRequest, *, code: str, password: str, timezone_name: str) -> Any:
    """Accept an invitation with its one-time code and a password of the person's choice:
    identity makes the account and answers its first token pair."""
    body = {"code": code, "password": password, "timezone": timezone_name}
    return _code_redeemed(request, "/api/identity/v1/invitations/accept/", body)


def password_reset_redeem(request: HttpRequest, *, code: str, password: str) -> Any:
    """Set a new password with a reset code the clinic gave: every other sign-in of the person
    ends, and identity answers a new token pair."""
    body = {"code": code, "password": password}
    return _code_redeemed(request, "/api/identity/v1/password-reset/", body)


# --- identity: the clinic's administration ------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """A person with a role in the clinic, as identity shows them to the clinic's admin."""

    user_id: uuid.UUID
    name: str
    email: str
    roles: tuple[str, ...]
    active: bool
    joined: datetime | None

    @property
    def is_patient_only(self) -> bool:
        return self.roles == ("patient",)


def _account(row: dict[str, Any]) -> Account:
    return Account(
        user_id=uuid.UUID(row["id"]),
        name=row.get("full_name") or "",
        email=row.get("email") or "",
        roles=tuple(sorted(row.get("roles") or ())),
        active=row.get("is_active") is not False,
        joined=_when(row.get("date_joined")),
    )


def clinic_accounts(request: HttpRequest, role: str = "") -> list[Account]:
    """Everyone with a role in the clinic (or only ``role``), by e-mail address; erased
    patients are left out."""
    params = {"role": role} if role else None
    rows = _get_all(request, "identity", "/api/identity/v1/users/", params) or []
    return [_account(row) for row in rows]


def clinic_account(request: HttpRequest, user_id: uuid.UUID) -> Account | None:
    row = _get(request, "identity", f"/api/identity/v1/users/{user_id}/")
    return _account({**row, "id": str(user_id)}) if row else None


def account_deactivate(request: HttpRequest, user_id: uuid.UUID) -> bool:
    """The person can no longer sign in, and their sign-ins end; a patient is sent no more
    prompts. Their data stays. False when identity does not know them in the clinic."""
    path = f"/api/identity/v1/users/{user_id}/deactivate/"
    return _post(request, "identity", path, expected=(200,)) is not None


def account_reactivate(request: HttpRequest, user_id: uuid.UUID) -> bool:
    """The person may sign in again with their password; a patient is prompted again from the
    prompts still to come. False when identity does not know them in the clinic."""
    path = f"/api/identity/v1/users/{user_id}/reactivate/"
    return _post(request, "identity", path, expected=(200,)) is not None


def patient_erase(request: HttpRequest, patient_id: uuid.UUID) -> bool:
    """Erase a patient's personal data at identity; the other services act on its event.
    Irreversible. False when identity does not know the patient in the clinic."""
    path = f"/api/identity/v1/patients/{patient_id}/erase/"
    return _change(request, "identity", path, expected=(204,)) is not None


# --- reminders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NextPrompt:
    at: datetime
    kind: str
    instrument: str


def next_prompts(
    request: HttpRequest, patient_id: uuid.UUID | None = None
) -> dict[uuid.UUID, NextPrompt]:
    """Each patient's next planned prompt (or only ``patient_id``'s), by patient id."""
    params = {"patient": str(patient_id)} if patient_id else None
    path = "/api/reminders/v1/patients/next-prompts/"
    rows = _get_all(request, "reminders", path, params) or []
    out = {}
    for row in rows:
        at = _when(row.get("next_prompt_at"))
        if at is not None:
            out[uuid.UUID(row["patient_id"])] = NextPrompt(
                at=at, kind=row.get("kind") or "", instrument=row.get("instrument") or ""
            )
    return out


def prompt_timeline(request: HttpRequest, patient_id: uuid.UUID) -> list[dict[str, Any]] | None:
    """Every prompt of the patient as reminders has it (planned, sent, answered, expired,
    cancelled), times parsed; None when reminders does not know the patient."""
    rows = _get_all(request, "reminders", f"/api/reminders/v1/patients/{patient_id}/prompts/")
    if rows is None:
        return None
    for row in rows:
        for name in (
            "intended_at",
            "sent_at",
            "delivered_at",
            "opened_at",
            "answered_at",
            "expired_at",
            "cancelled_at",
            "expires_at",
        ):
            row[name] = _when(row.get(name))
    return rows


# --- diary --------------------------------------------------------------------------------------


def diary_entries(
    request: HttpRequest, patient_id: uuid.UUID, since: datetime | None = None
) -> list[dict[str, Any]] | None:
    """The patient's diary entries (scores, medications, side effects, notes), oldest first,
    those since ``since`` only when given. diary records the clinician's read in its read log."""
    params = {"occurred_after": since.isoformat()} if since else None
    rows = _get_all(request, "diary", f"/api/diary/v1/patients/{patient_id}/entries/", params)
    if rows is None:
        return None
    for row in rows:
        row["occurred_at"] = _when(row.get("occurred_at"))
    return rows


@dataclass(frozen=True)
class RecordedInjection:
    performed_at: datetime | None
    number_in_course: int | None
    # False when diary had it already: the same form sent twice records one injection.
    created: bool


def injection_record(
    request: HttpRequest, patient_id: uuid.UUID, values: dict[str, Any]
) -> RecordedInjection | None:
    """Record an injection the clinician gave the patient (verified, as theirs). ``values``
    carries the injection's id chosen by the form, so sending it again is harmless. None when
    diary does not know the patient in the clinician's clinic."""
    path = f"/api/diary/v1/patients/{patient_id}/injections/"
    response = _change(request, "diary", path, values, expected=(201, 200))
    if response is None:
        return None
    row = _json(response, "diary")
    return RecordedInjection(
        performed_at=_when(row.get("performed_at")),
        number_in_course=row.get("number_in_course"),
        created=response.status_code == 201,
    )


def unverified_injections(request: HttpRequest, patient_id: uuid.UUID) -> set[uuid.UUID]:
    """The patient's injections they reported themselves that no clinician has verified yet, as
    diary has them (outcomes' read model does not carry verification)."""
    path = f"/api/diary/v1/patients/{patient_id}/injections/"
    rows = _get_all(request, "diary", path) or []
    return {uuid.UUID(row["id"]) for row in rows if row.get("verified") is False}


def injection_verify(request: HttpRequest, injection_id: uuid.UUID) -> bool:
    """Confirm an injection the patient reported (verifying a verified one changes nothing).
    False when diary does not know it in the clinician's clinic."""
    path = f"/api/diary/v1/injections/{injection_id}/verify/"
    return _change(request, "diary", path, expected=(200,)) is not None


def injection(request: HttpRequest, injection_id: uuid.UUID) -> dict[str, Any] | None:
    """One injection as diary has it, with its ``version``; None when it is not of a patient of
    the clinician's clinic (or is deleted)."""
    row = _get(request, "diary", f"/api/diary/v1/injections/{injection_id}/")
    if row is not None:
        row["performed_at"] = _when(row.get("performed_at"))
    return row


def injection_correct(
    request: HttpRequest, injection_id: uuid.UUID, changes: dict[str, Any], version: int
) -> bool:
    """Correct an injection as of the ``version`` the clinician saw (StaleVersion when it has
    changed since). False when diary does not know it in the clinician's clinic."""
    path = f"/api/diary/v1/injections/{injection_id}/"
    response = _change(request, "diary", path, changes, (200,), method="PATCH", version=version)
    return response is not None


def injection_delete(request: HttpRequest, injection_id: uuid.UUID, version: int) -> bool:
    """Delete an injection entered by mistake (diary keeps it in its history), as of the
    ``version`` the clinician saw. False when diary does not know it in the clinician's clinic."""
    path = f"/api/diary/v1/injections/{injection_id}/"
    response = _change(request, "diary", path, None, (204,), method="DELETE", version=version)
    return response is not None
