"""Which prompt ids are taken by other patients.

An entry or a questionnaire response may name the reminder prompt it answers. The prompts live in
the reminders service, whose database the diary cannot read, so the diary checks what it can: the
id is a UUID, and no other patient's entry or response has named it. A prompt is one patient's,
so an id another patient used is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from diary.entries.models import PainEntry
from diary.questionnaires.models import QuestionnaireResponse

PROMPT_TAKEN = "This prompt belongs to another patient."


def prompt_ids_of_others(
    patient_id: uuid.UUID, prompt_ids: Iterable[uuid.UUID | None]
) -> set[uuid.UUID]:
    """The ids among ``prompt_ids`` that another patient's entry or response names."""
    wanted = {prompt_id for prompt_id in prompt_ids if prompt_id is not None}
    if not wanted:
        return set()
    taken: set[uuid.UUID] = set()
    for model in (PainEntry, QuestionnaireResponse):
        used = (
            model._base_manager.filter(prompt_id__in=wanted)
            .exclude(patient_id=patient_id)
            .values_list("prompt_id", flat=True)
        )
        taken.update(prompt_id for prompt_id in used if prompt_id is not None)
    return taken
