from __future__ import annotations

from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.api.serializers import StrictInputSerializer
from shared.auth.permissions import IsPatient
from shared.auth.scoping import scope_to_patient
from sharedtest.models import PainScore, TrackedNote


class EchoApi(APIView):
    class InputSerializer(StrictInputSerializer):
        score = serializers.IntegerField(min_value=0, max_value=10)
        note = serializers.CharField(required=False)

    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        return Response({"score": data["score"], "user": str(request.user.id)})


class PatientOnlyApi(APIView):
    permission_classes = [IsPatient]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class ScoreListApi(ListAPIView):  # type: ignore[type-arg]
    class OutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        id = serializers.UUIDField()
        score = serializers.IntegerField()

    serializer_class = OutputSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return scope_to_patient(PainScore.objects.order_by("id"), self.request.user)


class NoteCreateApi(APIView):
    """A write that the row history must attribute to the caller and the request, with no
    audit code in the view."""

    permission_classes = [IsPatient]

    class InputSerializer(StrictInputSerializer):
        score = serializers.IntegerField(min_value=0, max_value=10)
        note = serializers.CharField(required=False, allow_blank=True)

    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        note = TrackedNote.objects.create(patient_id=request.user.id, **serializer.validated_data)
        return Response({"id": str(note.id)}, status=201)


class PingApi(APIView):
    """An endpoint for callers without a token, like identity's sign-in."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})

    def post(self, request: Request) -> Response:
        return Response({"ok": True})
