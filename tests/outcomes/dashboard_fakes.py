"""identity, diary and reminders as the dashboard sees them, on one real local port: sign-in and
token endpoints, the clinic's patients and (for its administrators) all its people, invitations
and their acceptance, reset codes, deactivation and erasure, next prompts, prompt timelines, diary
entries and injections recorded. Every call is checked against the bearer token (scoped to its
clinic, 404 outside it) and recorded, so a test can say whose token read what."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from shared.auth.tokens import InvalidToken, decode_access_token
from shared.testing.tokens import access_token

PASSWORD = "right-password-42"


@dataclass
class Account:
    email: str
    user_id: uuid.UUID
    roles: tuple[str, ...]
    clinic_id: uuid.UUID | None
    full_name: str = ""
    active: bool = True


@dataclass
class ClinicInfo:
    name: str
    timezone: str


@dataclass
class FakeServices:
    accounts: dict[str, Account] = field(default_factory=dict)
    clinics: dict[uuid.UUID, ClinicInfo] = field(default_factory=dict)
    # clinic id -> patient id -> {"full_name", "email", "is_active"}
    people: dict[uuid.UUID, dict[uuid.UUID, dict[str, Any]]] = field(default_factory=dict)
    next_prompts: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    timelines: dict[uuid.UUID, list[dict[str, Any]]] = field(default_factory=dict)
    diaries: dict[uuid.UUID, list[dict[str, Any]]] = field(default_factory=dict)
    # (path, the caller's user id) of every call with a bearer token
    reads: list[tuple[str, uuid.UUID]] = field(default_factory=list)
    logged_out: list[str] = field(default_factory=list)
    # (person id, the caller's user id, code) of every password reset code issued
    reset_codes: list[tuple[uuid.UUID, uuid.UUID, str]] = field(default_factory=list)
    # codes used already (invitations' and resets')
    spent_codes: set[str] = field(default_factory=set)
    # X-Forwarded-For of every call made without a token (a visitor redeeming a code)
    visitors: list[str] = field(default_factory=list)
    # (user id, the caller's user id) of every deactivation, and of every erasure
    deactivated: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    reactivated: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    erased: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    # invitation id -> the invitation as identity answers it, with "clinic" and "code"
    invitations: dict[str, dict[str, Any]] = field(default_factory=dict)
    # injection id -> (patient id, the caller's user id, the body diary was sent)
    injections: dict[str, tuple[uuid.UUID, uuid.UUID, dict[str, Any]]] = field(default_factory=dict)
    # patient id -> diary's injections of the patient ({"id", "verified", ...}), as it lists them
    diary_injections: dict[uuid.UUID, list[dict[str, Any]]] = field(default_factory=dict)
    # (method, injection id, the caller's user id, body) of every correction and deletion made
    changes: list[tuple[str, uuid.UUID, uuid.UUID, dict[str, Any] | None]] = field(
        default_factory=list
    )
    # (the caller's user id, body) of every correction of a patient's details at identity
    person_updates: list[tuple[uuid.UUID, dict[str, Any]]] = field(default_factory=list)
    # (injection id, the caller's user id) of every verification diary was asked for
    verified: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    # When set, diary refuses an injection with these errors (400).
    injection_errors: list[dict[str, str]] = field(default_factory=list)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh -> e-mail
    passwords: dict[str, str] = field(default_factory=dict)  # e-mail -> a changed password
    access_lifetime: timedelta = timedelta(minutes=5)
    down: set[str] = field(default_factory=set)  # services that answer 503

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: Any = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                if body is not None:
                    self.wfile.write(json.dumps(body).encode())

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                outer.handle_post(self, self.path, body)

            def do_GET(self) -> None:
                outer.handle_get(self)

            def do_PATCH(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                outer.handle_change(self, body)

            def do_DELETE(self) -> None:
                outer.handle_change(self, None)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- set-up ---------------------------------------------------------------------------------

    def add_account(
        self,
        email: str,
        roles: tuple[str, ...],
        clinic_id: uuid.UUID | None,
        *,
        full_name: str = "",
    ) -> Account:
        account = Account(email, uuid.uuid4(), roles, clinic_id, full_name=full_name)
        self.accounts[email] = account
        return account

    def add_person(
        self, clinic_id: uuid.UUID, patient_id: uuid.UUID, name: str, *, active: bool = True
    ) -> None:
        email = name.lower().replace(" ", ".") + "@example.org"
        self.people.setdefault(clinic_id, {})[patient_id] = {
            "full_name": name,
            "email": email,
            "is_active": active,
        }

    # --- endpoints ------------------------------------------------------------------------------

    def _pair(self, account: Account) -> dict[str, Any]:
        refresh = uuid.uuid4().hex
        self.refresh_tokens[refresh] = account.email
        token = access_token(
            account.user_id,
            roles=account.roles,
            clinic_id=account.clinic_id,
            email=account.email,
            lifetime=self.access_lifetime,
        )
        return {"access": token, "refresh": refresh, "token_type": "Bearer"}

    def handle_post(self, handler: Any, path: str, body: dict[str, Any]) -> None:
        if path.endswith("/auth/token/"):
            account = self.accounts.get(body.get("email", ""))
            if (
                account is None
                or not account.active
                or body.get("password") != self._password(account)
            ):
                handler._reply(401, {"status": 401})
            else:
                handler._reply(200, self._pair(account))
        elif path.endswith("/auth/refresh/"):
            email = self.refresh_tokens.pop(body.get("refresh", ""), None)
            if email is None:
                handler._reply(401, {"status": 401})
            else:
                handler._reply(200, self._pair(self.accounts[email]))
        elif path.endswith("/auth/logout/"):
            self.logged_out.append(body.get("refresh", ""))
            self.refresh_tokens.pop(body.get("refresh", ""), None)
            handler._reply(204)
        elif path == "/api/identity/v1/me/password/":
            self._password_change(handler, body)
        elif path.startswith("/api/identity/v1/users/") and path.endswith("/password-reset/"):
            self._reset_code(handler, uuid.UUID(path.rstrip("/").split("/")[-2]))
        elif path == "/api/identity/v1/invitations/accept/":
            self._accept(handler, body)
        elif path == "/api/identity/v1/password-reset/":
            self._redeem(handler, body)
        elif path.startswith("/api/identity/v1/users/") and path.endswith("/deactivate/"):
            self._deactivate(handler, uuid.UUID(path.rstrip("/").split("/")[-2]))
        elif path.startswith("/api/identity/v1/users/") and path.endswith("/reactivate/"):
            self._deactivate(handler, uuid.UUID(path.rstrip("/").split("/")[-2]), active=True)
        elif path.startswith("/api/identity/v1/patients/") and path.endswith("/erase/"):
            self._erase(handler, uuid.UUID(path.rstrip("/").split("/")[-2]))
        elif path == "/api/identity/v1/invitations/":
            self._invite(handler, body)
        elif path.startswith("/api/identity/v1/invitations/") and path.endswith("/revoke/"):
            self._withdraw(handler, path.rstrip("/").split("/")[-2])
        elif path.startswith("/api/diary/v1/patients/") and path.endswith("/injections/"):
            self._injection(handler, uuid.UUID(path.rstrip("/").split("/")[-2]), body)
        elif path.startswith("/api/diary/v1/injections/") and path.endswith("/verify/"):
            self._verify(handler, uuid.UUID(path.rstrip("/").split("/")[-2]))
        else:
            handler._reply(404, {"status": 404})

    def _caller(self, handler: Any, service: str, read: str | None = None) -> Any:
        """The bearer token's user (a ``read`` of that path is recorded), or None once the
        request is answered 401 (no valid token) or 503 (the service is down)."""
        try:
            caller = decode_access_token(
                handler.headers.get("Authorization", "").removeprefix("Bearer ")
            )
        except InvalidToken:
            handler._reply(401, {"status": 401})
            return None
        if read is not None:
            self.reads.append((read, caller.id))
        if service in self.down:
            handler._reply(503, {"status": 503})
            return None
        return caller

    def _password(self, account: Account) -> str:
        return self.passwords.get(account.email, PASSWORD)

    def _password_change(self, handler: Any, body: dict[str, Any]) -> None:
        """identity's answer to a person changing their own password: a wrong current one or
        one shorter than 10 characters is refused; otherwise every sign-in ends and a new
        pair is handed out."""
        caller = self._caller(handler, "identity")
        if caller is None:
            return
        account = next(a for a in self.accounts.values() if a.user_id == caller.id)
        field, message = "", ""
        if body.get("current_password") != self._password(account):
            field, message = "current_password", "This is not your current password."
        elif len(str(body.get("new_password", ""))) < 10:
            field, message = "new_password", "This password is too short."
        if field:
            handler._reply(400, {"status": 400, "errors": [{"field": field, "message": message}]})
            return
        self.passwords[account.email] = str(body["new_password"])
        for refresh, email in list(self.refresh_tokens.items()):
            if email == account.email:
                del self.refresh_tokens[refresh]
        handler._reply(200, self._pair(account))

    def _reset_code(self, handler: Any, person_id: uuid.UUID) -> None:
        """identity's answer to a clinician asking for a patient's password reset code, or a
        clinic admin for anyone's of the clinic."""
        caller = self._caller(handler, "identity")
        if caller is None:
            return
        person = self.people.get(caller.clinic_id, {}).get(person_id) if caller.clinic_id else None
        if person is None and "clinic_admin" in caller.roles:
            staff = self._staff(caller.clinic_id).get(person_id)
            person = {"is_active": staff.active} if staff else None
        if person is None:
            handler._reply(404, {"status": 404})
        elif not person.get("is_active", True):
            handler._reply(409, {"status": 409, "detail": "This account is deactivated."})
        else:
            code = f"RST{len(self.reset_codes):01d}-AAAA-BBBB-CCCC"
            self.reset_codes.append((person_id, caller.id, code))
            handler._reply(
                201,
                {
                    "id": str(uuid.uuid4()),
                    "user": str(person_id),
                    "created_at": "2025-02-03T09:00:00Z",
                    "expires_at": "2025-02-04T09:00:00Z",
                    "code": code,
                },
            )

    # --- a clinic's administration --------------------------------------------------------------

    def _staff(self, clinic_id: uuid.UUID | None) -> dict[uuid.UUID, Account]:
        staff = self.accounts.values()
        return {a.user_id: a for a in staff if clinic_id and a.clinic_id == clinic_id}

    def _users(self, clinic_id: uuid.UUID) -> list[dict[str, Any]]:
        """Everyone with a role in the clinic, as identity's users list has them."""
        rows = [
            {
                "id": str(a.user_id),
                "email": a.email,
                "full_name": a.full_name,
                "is_active": a.active,
                "roles": sorted(a.roles),
                "date_joined": "2024-06-01T08:00:00Z",
            }
            for a in self._staff(clinic_id).values()
        ]
        rows += [
            {
                "id": str(pid),
                "email": person["email"],
                "full_name": person["full_name"],
                "is_active": person.get("is_active", True),
                "roles": ["patient"],
                "date_joined": "2024-09-01T08:00:00Z",
            }
            for pid, person in self.people.get(clinic_id, {}).items()
        ]
        return sorted(rows, key=lambda row: row["email"])

    def _admin(self, handler: Any) -> Any:
        """The caller when they are a clinic admin of a clinic, else None (answered 403)."""
        caller = self._caller(handler, "identity")
        if caller is None:
            return None
        if "clinic_admin" not in caller.roles or caller.clinic_id is None:
            handler._reply(403, {"status": 403, "detail": "You may not do this."})
            return None
        return caller

    def _deactivate(self, handler: Any, user_id: uuid.UUID, *, active: bool = False) -> None:
        """identity's answer to a clinic admin deactivating someone of the clinic (or, when
        ``active``, reactivating them)."""
        caller = self._admin(handler)
        if caller is None:
            return
        if user_id == caller.id and not active:
            detail = "You cannot deactivate your own account."
            handler._reply(409, {"status": 409, "detail": detail})
            return
        staff = self._staff(caller.clinic_id).get(user_id)
        patient = self.people.get(caller.clinic_id, {}).get(user_id)
        if staff is None and patient is None:
            handler._reply(404, {"status": 404})
            return
        if staff is not None:
            staff.active = active
            for refresh, email in list(self.refresh_tokens.items()):
                if email == staff.email and not active:
                    del self.refresh_tokens[refresh]
        if patient is not None:
            patient["is_active"] = active
        (self.reactivated if active else self.deactivated).append((user_id, caller.id))
        rows = self._users(caller.clinic_id)
        handler._reply(200, next(row for row in rows if row["id"] == str(user_id)))

    def _erase(self, handler: Any, patient_id: uuid.UUID) -> None:
        caller = self._admin(handler)
        if caller is None:
            return
        people = self.people.get(caller.clinic_id, {})
        if patient_id not in people:
            handler._reply(404, {"status": 404})
            return
        del people[patient_id]  # identity's lists leave erased patients out
        self.erased.append((patient_id, caller.id))
        handler._reply(204)

    def _visitor(self, handler: Any) -> bool:
        """A call without a token: its forwarded address is recorded; False once answered 503."""
        self.visitors.append(handler.headers.get("X-Forwarded-For", ""))
        if "identity" in self.down:
            handler._reply(503, {"status": 503})
            return False
        return True

    def _new_password_refused(self, handler: Any, body: dict[str, Any]) -> bool:
        if len(str(body.get("password", ""))) < 10:
            errors = [{"field": "password", "message": "This password is too short."}]
            handler._reply(400, {"status": 400, "errors": errors})
            return True
        return False

    def _accept(self, handler: Any, body: dict[str, Any]) -> None:
        """identity's answer to an invitation accepted with its code: the account is made with
        the invitation's address, role and clinic, and signed in."""
        if not self._visitor(handler):
            return
        code = str(body.get("code", "")).strip().upper()
        invitation = next((i for i in self.invitations.values() if i["code"] == code), None)
        if invitation is None:
            detail = "This invitation code is not valid. Check it and try again."
            handler._reply(400, {"status": 400, "detail": detail})
            return
        if invitation["state"] != "pending" or code in self.spent_codes:
            detail = f"This invitation has been {invitation['state']}; ask for a new one."
            handler._reply(410, {"status": 410, "detail": detail})
            return
        if self._new_password_refused(handler, body):
            return
        self.spent_codes.add(code)
        invitation["state"] = "accepted"
        account = self.add_account(
            invitation["email"],
            (invitation["role"],),
            uuid.UUID(invitation["clinic"]),
            full_name=invitation["full_name"],
        )
        self.passwords[account.email] = str(body["password"])
        handler._reply(201, self._pair(account))

    def _redeem(self, handler: Any, body: dict[str, Any]) -> None:
        """identity's answer to a new password set with a reset code: every sign-in of the
        person ends, and a new pair is handed out."""
        if not self._visitor(handler):
            return
        code = str(body.get("code", "")).strip().upper()
        issued = next((r for r in self.reset_codes if r[2] == code), None)
        account = next(
            (a for a in self.accounts.values() if issued and a.user_id == issued[0]), None
        )
        if issued is None or account is None:
            detail = "This reset code is not valid. Check it and try again."
            handler._reply(400, {"status": 400, "detail": detail})
            return
        if code in self.spent_codes:
            detail = "This reset code has been used; ask the clinic for a new one."
            handler._reply(410, {"status": 410, "detail": detail})
            return
        if self._new_password_refused(handler, body):
            return
        self.spent_codes.add(code)
        self.passwords[account.email] = str(body["password"])
        for refresh, email in list(self.refresh_tokens.items()):
            if email == account.email:
                del self.refresh_tokens[refresh]
        handler._reply(200, self._pair(account))

    def _invite(self, handler: Any, body: dict[str, Any]) -> None:
        """identity's answer to a clinician inviting a patient to their clinic."""
        caller = self._caller(handler, "identity")
        if caller is None:
            return
        needed = "clinician" if body.get("role") == "patient" else "clinic_admin"
        if needed not in caller.roles:
            detail = f"Your role may not invite a {str(body.get('role')).replace('_', ' ')}."
            handler._reply(403, {"status": 403, "detail": detail})
            return
        taken = {person["email"] for people in self.people.values() for person in people.values()}
        taken |= set(self.accounts)
        if body.get("email") in taken:
            detail = "An account with this e-mail address exists already."
            handler._reply(409, {"status": 409, "detail": detail})
            return
        for invitation in self.invitations.values():  # a new one replaces an open one
            if invitation["email"] == body.get("email"):
                invitation["state"] = "revoked"
        invitation_id = str(uuid.uuid4())
        self.invitations[invitation_id] = {
            "id": invitation_id,
            "clinic": str(caller.clinic_id),
            "role": body.get("role"),
            "email": body.get("email"),
            "full_name": body.get("full_name", ""),
            "sex": body.get("sex"),
            "birth_year": body.get("birth_year"),
            "created_at": "2025-02-03T09:00:00Z",
            "expires_at": "2025-02-17T09:00:00Z",
            "state": "pending",
            "code": f"INV{len(self.invitations)}-AAAA-BBBB-CCCC",
        }
        handler._reply(201, self.invitations[invitation_id])

    def _withdraw(self, handler: Any, invitation_id: str) -> None:
        caller = self._caller(handler, "identity")
        if caller is None:
            return
        invitation = self.invitations.get(invitation_id)
        if (
            invitation is None
            or invitation["clinic"] != str(caller.clinic_id)
            or invitation["role"] not in self._visible_roles(caller.roles)
        ):
            handler._reply(404, {"status": 404})
            return
        invitation["state"] = "revoked"
        handler._reply(200, {k: v for k, v in invitation.items() if k != "code"})

    @staticmethod
    def _visible_roles(roles: frozenset[str]) -> set[str]:
        """Clinicians see patients' invitations; clinic admins their colleagues'."""
        visible = {"patient"} if "clinician" in roles else set()
        return visible | ({"clinician", "clinic_admin"} if "clinic_admin" in roles else set())

    def _injection(self, handler: Any, patient_id: uuid.UUID, body: dict[str, Any]) -> None:
        """diary's answer to a clinician recording an injection: a repeat of the same id and
        body is answered 200 with the stored one, the same id with another body 409."""
        caller = self._caller(handler, "diary")
        if caller is None:
            return
        if caller.clinic_id is None or patient_id not in self.people.get(caller.clinic_id, {}):
            handler._reply(404, {"status": 404})
            return
        if self.injection_errors:
            handler._reply(400, {"status": 400, "errors": self.injection_errors})
            return
        stored = self.injections.get(body["id"])
        if stored is not None and stored[2] != body:
            detail = "An injection with this id exists with other content."
            handler._reply(409, {"status": 409, "detail": detail})
            return
        if stored is None:
            self.injections[body["id"]] = (patient_id, caller.id, body)
        number = sum(1 for p, _, _ in self.injections.values() if p == patient_id)
        answer = {**body, "patient_id": str(patient_id), "number_in_course": number}
        handler._reply(201 if stored is None else 200, answer)

    def _verify(self, handler: Any, injection_id: uuid.UUID) -> None:
        """diary's answer to a clinician verifying an injection of a patient of their clinic."""
        caller = self._caller(handler, "diary")
        if caller is None:
            return
        found = self._own_injection(caller.clinic_id, str(injection_id))
        if found is None:
            handler._reply(404, {"status": 404})
            return
        found[1]["verified"] = True
        self.verified.append((injection_id, caller.id))
        handler._reply(200, found[1])

    def _person_update(self, handler: Any, body: dict[str, Any]) -> None:
        caller = self._caller(handler, "identity")
        if caller is None:
            return
        people = self.people.get(caller.clinic_id, {}) if caller.clinic_id else {}
        person = people.get(uuid.UUID(handler.path.rstrip("/").split("/")[-1]))
        if person is None:
            handler._reply(404, {"status": 404})
            return
        if body.get("sex") not in ("female", "male", "other", "unknown"):
            handler._reply(400, {"status": 400, "errors": [{"field": "sex", "message": "No."}]})
            return
        person.update(body)
        self.person_updates.append((caller.id, body))
        handler._reply(200, person)

    def _own_injection(
        self, clinic_id: uuid.UUID | None, injection_id: str
    ) -> tuple[uuid.UUID, dict[str, Any]] | None:
        """The patient and diary's row of an injection of the clinic, if any."""
        people = self.people.get(clinic_id, {}) if clinic_id else {}
        for patient, rows in self.diary_injections.items():
            for row in rows:
                if row["id"] == injection_id and patient in people:
                    return patient, row
        return None

    def handle_change(self, handler: Any, body: dict[str, Any] | None) -> None:
        """diary's answer to a correction (PATCH) or deletion (DELETE) of an injection, as of the
        version in If-Match: 412 when it is not the current one; identity's to a correction of a
        patient's details (PATCH)."""
        if handler.path.startswith("/api/identity/v1/patients/"):
            self._person_update(handler, body or {})
            return
        caller = self._caller(handler, "diary")
        if caller is None:
            return
        injection_id = handler.path.rstrip("/").split("/")[-1]
        found = self._own_injection(caller.clinic_id, injection_id)
        if found is None:
            handler._reply(404, {"status": 404})
            return
        patient, row = found
        if handler.headers.get("If-Match") != f'"{row["version"]}"':
            handler._reply(412, {"status": 412, "detail": "Changed meanwhile."})
            return
        self.changes.append((handler.command, uuid.UUID(injection_id), caller.id, body))
        if body is None:
            self.diary_injections[patient].remove(row)
            handler._reply(204)
            return
        row.update(body)
        row["version"] += 1
        handler._reply(200, row)

    @staticmethod
    def _page(rows: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
        size = int(query.get("page_size", ["50"])[0])
        page = int(query.get("page", ["1"])[0])
        chunk = rows[(page - 1) * size : page * size]
        more = page * size < len(rows)
        return {"count": len(rows), "next": "more" if more else None, "results": chunk}

    def handle_get(self, handler: Any) -> None:
        url = urlparse(handler.path)
        query = parse_qs(url.query)
        service = url.path.split("/")[2] if url.path.startswith("/api/") else ""
        caller = self._caller(handler, service, read=url.path)
        if caller is None:
            return
        clinic = caller.clinic_id
        people = self.people.get(clinic, {}) if clinic else {}
        parts = url.path.rstrip("/").split("/")
        if url.path == "/api/identity/v1/me/":
            info = self.clinics.get(clinic) if clinic else None
            handler._reply(
                200,
                {
                    "id": str(caller.id),
                    "clinic_id": str(clinic) if clinic else None,
                    "clinic_name": info.name if info else None,
                    "clinic_timezone": info.timezone if info else None,
                },
            )
        elif url.path == "/api/identity/v1/invitations/":
            rows = [
                {k: v for k, v in row.items() if k != "code"}
                for row in reversed(self.invitations.values())
                if row["clinic"] == str(clinic)
                and row["role"] in self._visible_roles(caller.roles)
                and (query.get("state") != ["pending"] or row["state"] == "pending")
            ]
            handler._reply(200, self._page(rows, query))
        elif url.path.startswith("/api/identity/v1/users/"):
            if "clinic_admin" not in caller.roles or clinic is None:
                handler._reply(403, {"status": 403})
                return
            rows = self._users(clinic)
            if url.path == "/api/identity/v1/users/":
                role = query.get("role", [None])[0]
                rows = [row for row in rows if role is None or role in row["roles"]]
                handler._reply(200, self._page(rows, query))
                return
            row = next((row for row in rows if row["id"] == parts[-1]), None)
            handler._reply(404, {"status": 404}) if row is None else handler._reply(200, row)
        elif url.path == "/api/identity/v1/patients/":
            rows = [{"id": str(pid), **person} for pid, person in sorted(people.items(), key=str)]
            handler._reply(200, self._page(rows, query))
        elif url.path.startswith("/api/identity/v1/patients/"):
            patient = uuid.UUID(parts[-1])
            if patient not in people:
                handler._reply(404, {"status": 404})
            else:
                handler._reply(200, {"id": str(patient), **people[patient]})
        elif url.path == "/api/reminders/v1/patients/next-prompts/":
            only = query.get("patient", [None])[0]
            rows = [
                {"patient_id": str(pid), **row}
                for pid, row in self.next_prompts.items()
                if pid in people and (only is None or str(pid) == only)
            ]
            handler._reply(200, self._page(rows, query))
        elif url.path.startswith("/api/diary/v1/injections/"):
            found = self._own_injection(clinic, parts[-1])
            if found is None:
                handler._reply(404, {"status": 404})
            else:
                handler._reply(200, {**found[1], "patient_id": str(found[0])})
        elif url.path.endswith(("/prompts/", "/entries/", "/injections/")):
            patient = uuid.UUID(parts[-2])
            if patient not in people:
                handler._reply(404, {"status": 404})
                return
            source = {"prompts": self.timelines, "entries": self.diaries}.get(
                parts[-1], self.diary_injections
            )
            handler._reply(200, self._page(source.get(patient, []), query))
        else:
            handler._reply(404, {"status": 404})
