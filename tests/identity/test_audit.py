"""The audit trail: every change leaves an entry, and entries cannot be altered."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from factories import ClinicFactory, invitation_with_code, member
from helpers import ACCEPT, INVITATIONS, as_user
from rest_framework.test import APIClient

from shared.audit.models import AuditEntry
from shared.audit.services import audit_record

pytestmark = pytest.mark.django_db


def test_invitation_and_acceptance_are_audited_with_the_request_id(api_client: APIClient) -> None:
    clinic = ClinicFactory()
    clinician = member("clinician", clinic)
    issued = as_user(clinician.email).post(INVITATIONS, {"email": "p@example.org"}, format="json")
    accepted = api_client.post(
        ACCEPT,
        {"code": issued.json()["code"], "password": "a-fine-passphrase-9", "timezone": "UTC"},
        format="json",
    )

    created = AuditEntry.objects.get(action="invitation.create")
    accept = AuditEntry.objects.get(action="invitation.accept")
    assert created.actor_id == clinician.id
    assert created.request_id == issued["X-Request-ID"]
    assert accept.request_id == accepted["X-Request-ID"]
    assert accept.target_id == issued.json()["id"]
    assert accept.subject_patient_id == accept.actor_id
    assert AuditEntry.objects.filter(
        action="membership.grant", subject_patient_id=accept.actor_id
    ).exists()


def test_entries_hold_field_names_not_values() -> None:
    user = member("patient", timezone="Europe/London")
    as_user(user.email).patch("/api/identity/v1/me/", {"timezone": "Asia/Tokyo"}, format="json")
    entry = AuditEntry.objects.get(action="user.update")
    assert entry.changed_fields == ["timezone"]
    assert "Asia/Tokyo" not in str(vars(entry))


def test_entries_cannot_be_changed_or_deleted_through_the_orm() -> None:
    entry = audit_record(actor_id=None, action="test.action", target_type="thing")
    entry.action = "rewritten"
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="rewritten")
    with pytest.raises(TypeError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.action"


def test_the_database_refuses_to_change_or_delete_entries() -> None:
    entry = audit_record(actor_id=None, action="test.action", target_type="thing")
    for statement in (
        "UPDATE audit_auditentry SET action = 'rewritten' WHERE id = %s",
        "DELETE FROM audit_auditentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).action == "test.action"


def test_invitation_accept_failure_leaves_no_audit_entry(api_client: APIClient) -> None:
    _, code = invitation_with_code()
    api_client.post(ACCEPT, {"code": code, "password": "short", "timezone": "UTC"}, format="json")
    assert not AuditEntry.objects.filter(action__startswith="invitation.accept").exists()
