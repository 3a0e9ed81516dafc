"""POST /sync/: the phone's offline backlog in one request (see diary.sync.services)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from diary.common.api import body_object, problems
from diary.common.errors import InvalidInput
from diary.common.validation import error
from diary.entries.apis import EntryInputSerializer
from diary.questionnaires.apis import ResponseInputSerializer
from diary.sync import services
from diary.sync.services import MAX_ITEMS, ItemResult
from shared.auth.principal import caller


class SyncEntryItemSerializer(EntryInputSerializer):
    kind = serializers.ChoiceField(choices=["entry"])


class SyncQuestionnaireItemSerializer(ResponseInputSerializer):
    kind = serializers.ChoiceField(choices=["questionnaire"])


SYNC_ITEM = PolymorphicProxySerializer(
    component_name="SyncItem",
    serializers={
        "entry": SyncEntryItemSerializer,
        "questionnaire": SyncQuestionnaireItemSerializer,
    },
    resource_type_field_name="kind",
)


class SyncResultSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(
        allow_null=True, help_text="The item's id; null if it sent none that is a UUID."
    )
    kind = serializers.ChoiceField(
        choices=list(services.KIND_NAMES), allow_null=True, help_text="Null if not one of these."
    )
    status = serializers.ChoiceField(
        choices=["created", "duplicate", "conflict", "invalid"],
        help_text="created: stored now. duplicate: this same item was stored before (nothing was "
        "written). conflict: the id is taken by something else: use a new id, or send a "
        "correction. invalid: refused, see errors: fix it and send it again.",
    )
    errors = serializers.ListField(  # type: ignore[assignment]
        child=serializers.DictField(child=serializers.CharField()),
        help_text="For an invalid item: [{field, message}]; empty otherwise.",
    )
    server_seq = serializers.IntegerField(
        allow_null=True, help_text="Created or duplicate: the stored row's place in the sequence."
    )
    version = serializers.IntegerField(
        allow_null=True, help_text="Created or duplicate: the stored row's version."
    )
    deleted = serializers.BooleanField(
        help_text="A duplicate of an item deleted since it was stored: drop it on the phone."
    )


class SyncApi(APIView):
    """A patient's offline backlog: diary entries and questionnaire responses, up to 500 per
    request, each with the id the phone gave it. One result per item, in order; an invalid item
    never stops the others, and sending the same batch again changes nothing."""

    class InputSerializer(serializers.Serializer[Any]):
        items = serializers.ListField(
            child=SYNC_ITEM,
            max_length=MAX_ITEMS,
            help_text=f"At most {MAX_ITEMS}; each is checked as the single-item API checks it.",
        )

    class OutputSerializer(serializers.Serializer[Any]):
        results = SyncResultSerializer(many=True, help_text="One per item, in the order sent.")

    @extend_schema(
        operation_id="sync",
        request=InputSerializer,
        responses={200: OutputSerializer, **problems(400, 401, 403, 413, 429)},
    )
    def post(self, request: Request) -> Response:
        user = caller(request)
        if not user.is_patient:
            raise PermissionDenied("Only a patient syncs their diary.")
        body = body_object(request)
        unknown = sorted(set(body) - {"items"})
        items = body.get("items")
        if unknown or not isinstance(items, list):
            errors = [error(name, "This field is not accepted here.") for name in unknown]
            if not isinstance(items, list):
                errors.append(error("items", "Must be a list of items."))
            raise InvalidInput(errors)
        results = services.sync_batch(user=user, items=items)
        return Response({"results": [_result(result) for result in results]})


def _result(result: ItemResult) -> dict[str, Any]:
    return {
        "id": str(result.id) if result.id else None,
        "kind": result.kind,
        "status": result.status,
        "errors": result.errors,
        "server_seq": result.server_seq,
        "version": result.version,
        "deleted": result.deleted,
    }
