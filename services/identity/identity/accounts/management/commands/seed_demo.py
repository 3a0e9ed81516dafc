"""The demo clinics and their people, made through the same services as the API (so the patients'
enrolment events are in the outbox too). Running it again changes nothing.

Two clinics, so that clinic scoping can be seen: the Demo Spine Clinic (a clinic administrator,
a clinician, five patients) and the Riverside Pain Clinic (a clinician, three patients). The
demo's history (hundreds of patients, 18 months of diaries) is not made here: the simulator
(deploy/embedded/embedded/simulator, docs/demo.md) makes it through the public APIs, these
patients included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from identity.accounts import services
from identity.accounts.models import Clinic, MembershipRole, Sex, User

DEMO_PASSWORD = "recovery-demo-2026"  # noqa: S105 - the published demo password
SEED_ADDRESS = "seed-demo"  # the lockout key of the seeding process, not a network address
LOCALE = "en-GB"


@dataclass(frozen=True)
class Person:
    email: str
    full_name: str
    sex: str = Sex.UNKNOWN
    birth_year: int | None = None


@dataclass(frozen=True)
class DemoClinic:
    name: str
    timezone: str
    staff: tuple[tuple[Person, str], ...]
    patients: tuple[Person, ...]


SYSTEM_ADMIN = Person("admin@demo.example", "Alex Admin")
CLINICS = (
    DemoClinic(
        name="Demo Spine Clinic",
        timezone="Europe/London",
        staff=(
            (Person("clinicadmin@demo.example", "Casey Clinic-Admin"), MembershipRole.CLINIC_ADMIN),
            (Person("clinician@demo.example", "Dr Morgan Reid"), MembershipRole.CLINICIAN),
        ),
        patients=(
            Person("patient1@demo.example", "Harriet Patel", Sex.FEMALE, 1968),
            Person("patient2@demo.example", "George Okafor", Sex.MALE, 1975),
            Person("patient3@demo.example", "Maria Santos", Sex.FEMALE, 1982),
            Person("patient4@demo.example", "Tom Whitfield", Sex.MALE, 1959),
            Person("patient5@demo.example", "Sam Rivers", Sex.OTHER, 1990),
        ),
    ),
    DemoClinic(
        name="Riverside Pain Clinic",
        timezone="Europe/London",
        staff=((Person("clinician2@demo.example", "Dr Priya Nair"), MembershipRole.CLINICIAN),),
        patients=(
            Person("riverside.patient1@demo.example", "Aoife Byrne", Sex.FEMALE, 1971),
            Person("riverside.patient2@demo.example", "Kwame Mensah", Sex.MALE, 1964),
            Person("riverside.patient3@demo.example", "Lucy Tran", Sex.FEMALE, 1987),
        ),
    ),
)


def _user(person: Person, *, timezone_name: str, is_system_admin: bool = False) -> User | None:
    """The account, created if missing; None if it was there already."""
    if User.objects.filter(email=person.email).exists():
        return None
    return services.user_create(
        actor_id=None,
        email=person.email,
        password=DEMO_PASSWORD,
        full_name=person.full_name,
        timezone_name=timezone_name,
        locale=LOCALE,
        is_system_admin=is_system_admin,
    )


class Command(BaseCommand):
    help = "Create the demo clinics, their staff and a few patients (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        created = int(
            _user(SYSTEM_ADMIN, timezone_name="Europe/London", is_system_admin=True) is not None
        )
        for demo in CLINICS:
            created += self._clinic(demo)
        logins = [SYSTEM_ADMIN.email] + [
            person.email
            for demo in CLINICS
            for person in [*(p for p, _ in demo.staff), *demo.patients]
        ]
        self.stdout.write(
            f"{', '.join(demo.name for demo in CLINICS)}: {created} account(s) created; "
            f"sign in as {', '.join(logins)}"
        )

    def _clinic(self, demo: DemoClinic) -> int:
        clinic = Clinic.objects.filter(name=demo.name).first() or services.clinic_create(
            actor_id=None, name=demo.name, timezone_name=demo.timezone
        )
        created = 0
        clinician: User | None = None
        for person, role in demo.staff:
            user = _user(person, timezone_name=demo.timezone)
            created += user is not None
            user = user or User.objects.get(email=person.email)
            services.membership_grant(actor_id=None, user=user, clinic=clinic, role=role)
            if role == MembershipRole.CLINICIAN:
                clinician = user
        assert clinician is not None  # noqa: S101 - every demo clinic has a clinician
        for person in demo.patients:
            if User.objects.filter(email=person.email).exists():
                continue
            # Patients join the way real ones do: a clinician's invitation, accepted.
            issued = services.invitation_create(
                actor_id=clinician.id,
                actor_roles=frozenset({MembershipRole.CLINICIAN}),
                clinic=clinic,
                email=person.email,
                full_name=person.full_name,
                sex=person.sex,
                birth_year=person.birth_year,
            )
            services.invitation_accept(
                code=issued.code,
                password=DEMO_PASSWORD,
                timezone_name=demo.timezone,
                locale=LOCALE,
                client_address=SEED_ADDRESS,
            )
            created += 1
        return created
