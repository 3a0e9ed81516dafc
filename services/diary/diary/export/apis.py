"""GET /internal/export/: the diary's changes for services that rebuild from them (outcomes)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from diary.common.api import problems
from diary.common.errors import InvalidInput
from diary.common.validation import error
from diary.export import selectors
from diary.export.selectors import DEFAULT_LIMIT, MAX_LIMIT, Change
from shared.audit.services import audit_record
from shared.auth.permissions import IsService
from shared.auth.principal import caller

# Larger than any sequence number the diary will reach, small enough for every client's integers.
MAX_AFTER = 2**62


class ExportChangeSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=[source.kind for source in selectors.SOURCES])
    id = serializers.UUIDField()
    server_seq = serializers.IntegerField()
    version = serializers.IntegerField()
    patient_id = serializers.UUIDField()
    clinic_id = serializers.UUIDField()
    changed_at = serializers.DateTimeField(help_text="When the diary stored this change.")
    deleted = serializers.BooleanField(help_text="A tombstone: remove the row.")
    deleted_at = serializers.DateTimeField(allow_null=True)
    data = serializers.DictField(  # type: ignore[assignment]
        allow_null=True,
        help_text="The row as its event's data carries it (docs/events.md): "
        "diary.injection.recorded, diary.entry.logged or diary.questionnaire.completed; "
        "null for a tombstone. Never a free-text note or medication name.",
    )


class ExportApi(APIView):
    """The diary's changes after a server sequence number, in order: every create, correction and
    deletion of injections, pain entries and questionnaire responses, each row at its newest
    state. Service tokens only."""

    permission_classes = [IsService]

    class OutputSerializer(serializers.Serializer[Any]):
        changes = ExportChangeSerializer(many=True)
        next_after = serializers.IntegerField(help_text="Pass as `after` in the next call.")
        has_more = serializers.BooleanField(
            help_text="The page was full: call again at once. False: caught up for now."
        )

    @extend_schema(
        operation_id="internal_export",
        parameters=[
            OpenApiParameter(
                "after",
                int,
                required=False,
                description="Changes with a server_seq above this (default 0: from the start).",
            ),
            OpenApiParameter(
                "limit",
                int,
                required=False,
                description=f"At most this many changes ({DEFAULT_LIMIT} by default, "
                f"{MAX_LIMIT} at most).",
            ),
        ],
        responses={200: OutputSerializer, **problems(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        after = _query_int(request, "after", default=0, low=0, high=MAX_AFTER)
        limit = _query_int(request, "limit", default=DEFAULT_LIMIT, low=1, high=MAX_LIMIT)
        page = selectors.changes_after(after=after, limit=limit)
        service = caller(request)
        audit_record(
            actor_id=service.id,
            actor_roles=service.roles,
            action="diary_changes.export",
            target_type="diary_changes",
            target_id=f"{after}..{page.next_after}",
        )
        return Response(
            {
                "changes": [_change(change) for change in page.changes],
                "next_after": page.next_after,
                "has_more": page.has_more,
            }
        )


def _query_int(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not low <= int(raw) <= high:
        raise InvalidInput([error(name, f"Must be a whole number from {low} to {high}.")])
    return int(raw)


def _change(change: Change) -> dict[str, Any]:
    return {
        "kind": change.kind,
        "id": str(change.id),
        "server_seq": change.server_seq,
        "version": change.version,
        "patient_id": str(change.patient_id),
        "clinic_id": str(change.clinic_id),
        "changed_at": change.changed_at.isoformat().replace("+00:00", "Z"),
        "deleted": change.deleted_at is not None,
        "deleted_at": change.deleted_at.isoformat().replace("+00:00", "Z")
        if change.deleted_at
        else None,
        "data": change.data,
    }
