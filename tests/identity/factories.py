from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from identity.accounts.codes import code_hash, code_new, code_normalise
from identity.accounts.models import Clinic, Invitation, Membership, MembershipRole, Sex, User

PASSWORD = "a-long-test-passphrase-42"


class ClinicFactory(DjangoModelFactory[Clinic]):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Spine Clinic {n}")
    timezone = "Europe/London"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    full_name = factory.Faker("name")
    timezone = "Europe/London"
    locale = "en-GB"
    sex = Sex.FEMALE
    birth_year = 1970
    password = factory.django.Password(PASSWORD)


class MembershipFactory(DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = MembershipRole.PATIENT


def member(role: str, clinic: Clinic | None = None, **user_fields: object) -> User:
    """A user with one role in ``clinic`` (a new clinic when none is given)."""
    membership = MembershipFactory(
        role=role, clinic=clinic or ClinicFactory(), user=UserFactory(**user_fields)
    )
    return membership.user


def system_admin(**user_fields: object) -> User:
    return UserFactory(is_superuser=True, is_staff=True, **user_fields)


def _random_code_hash() -> str:
    return code_hash(code_normalise(code_new()) or "")


class InvitationFactory(DjangoModelFactory[Invitation]):
    class Meta:
        model = Invitation

    clinic = factory.SubFactory(ClinicFactory)
    role = MembershipRole.PATIENT
    email = factory.Sequence(lambda n: f"invitee{n}@example.org")
    full_name = factory.Faker("name")
    sex = Sex.MALE
    birth_year = 1965
    code_hash = factory.LazyFunction(_random_code_hash)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


def invitation_with_code(**fields: object) -> tuple[Invitation, str]:
    """A pending invitation and its plain code (the API shows the code only once)."""
    code = code_new()
    invitation = InvitationFactory(code_hash=code_hash(code_normalise(code) or ""), **fields)
    return invitation, code
