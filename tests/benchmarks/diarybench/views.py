"""The floor the diary's entry API is measured against: the same row, one INSERT, no DRF.

No token check, no validation, no event: a Django view that parses the JSON body and inserts it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

PATIENT_ENV = "BENCH_PATIENT_ID"

_INSERT = """
INSERT INTO entries_painentry (
    id, patient_id, server_seq, received_at, updated_at, version, create_digest,
    occurred_at, timezone, nrs_now, nrs_worst_24h, nrs_average_7d, body_regions, medications,
    nsaid, side_effects, red_flag, co_treatments, prompt_id, note
) VALUES (
    %s, %s, nextval('diary_server_seq'), now(), now(), 1, '',
    %s, %s, %s, %s, %s, %s, %s, false, %s, false, %s, NULL, %s
)
"""


@csrf_exempt
@require_POST
def bare_entry(request: HttpRequest) -> JsonResponse:
    body: dict[str, Any] = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT,
            [
                body["id"],
                os.environ[PATIENT_ENV],
                body["occurred_at"],
                body["timezone"],
                body["nrs_now"],
                body.get("nrs_worst_24h"),
                body.get("nrs_average_7d"),
                json.dumps(body.get("body_regions", [])),
                json.dumps(body.get("medications", [])),
                json.dumps(body.get("side_effects", [])),
                json.dumps(body.get("co_treatments", [])),
                body.get("note", ""),
            ],
        )
    return JsonResponse({"id": body["id"]}, status=201)
