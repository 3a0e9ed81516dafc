"""The demo clinic and its people, made through the same services as the API (so the patients'
enrolment events are in the outbox too). Running it again changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from identity.accounts import services
from identity.accounts.models import Clinic, MembershipRole, Sex, User

CLINIC_NAME = "Demo Spine Clinic"
CLINIC_TIMEZONE = "Europe/London"
DEMO_PASSWORD = "recovery-demo-2026"  # noqa: S105 - the published demo password
SEED_ADDRESS = "seed-demo"  # the lockout key of the seeding process, not a network address

STAFF = [
    ("admin@demo.example", "Alex Admin", None),
    ("clinicadmin@demo.example", "Casey Clinic-Admin", MembershipRole.CLINIC_ADMIN),
    ("clinician@demo.example", "Dr Morgan Reid", MembershipRole.CLINICIAN),
]
PATIENTS = [
    ("patient1@demo.example", "Harriet Patel", Sex.FEMALE, 1968),
    ("patient2@demo.example", "George Okafor", Sex.MALE, 1975),
    ("patient3@demo.example", "Maria Santos", Sex.FEMALE, 1982),
    ("patient4@demo.example", "Tom Whitfield", Sex.MALE, 1959),
    ("patient5@demo.example", "Sam Rivers", Sex.OTHER, 1990),
]


class Command(BaseCommand):
    help = "Create the demo clinic, its staff and five patients (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        clinic = Clinic.objects.filter(name=CLINIC_NAME).first() or services.clinic_create(
            actor_id=None, name=CLINIC_NAME, timezone_name=CLINIC_TIMEZONE
        )
        created = 0
        clinician: User | None = None
        for email, name, role in STAFF:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = services.user_create(
                    actor_id=None,
                    email=email,
                    password=DEMO_PASSWORD,
                    full_name=name,
                    timezone_name=CLINIC_TIMEZONE,
                    locale="en-GB",
                    is_system_admin=role is None,
                )
                created += 1
            if role is not None:
                services.membership_grant(actor_id=None, user=user, clinic=clinic, role=role)
            if role == MembershipRole.CLINICIAN:
                clinician = user
        assert clinician is not None  # noqa: S101 - STAFF lists a clinician
        for email, name, sex, birth_year in PATIENTS:
            if User.objects.filter(email=email).exists():
                continue
            # Patients join the way real ones do: a clinician's invitation, accepted.
            issued = services.invitation_create(
                actor_id=clinician.id,
                actor_roles=frozenset({MembershipRole.CLINICIAN}),
                clinic=clinic,
                email=email,
                full_name=name,
                sex=sex,
                birth_year=birth_year,
            )
            services.invitation_accept(
                code=issued.code,
                password=DEMO_PASSWORD,
                timezone_name=CLINIC_TIMEZONE,
                locale="en-GB",
                client_address=SEED_ADDRESS,
            )
            created += 1
        self.stdout.write(
            f"{CLINIC_NAME}: {created} account(s) created; sign in as "
            + ", ".join([email for email, _, _ in STAFF] + [p[0] for p in PATIENTS])
        )
