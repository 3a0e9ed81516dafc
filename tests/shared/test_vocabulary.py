"""The words a clinician reads for the codes the services exchange."""

from __future__ import annotations

import pytest

from shared.vocabulary import code_label


@pytest.mark.parametrize(
    ("field", "code", "words"),
    [
        ("site", "sij_intra_articular", "Sacroiliac joint, intra-articular"),
        ("laterality", "bilateral", "Both sides"),
        ("protocol", "kim2010_intra_articular_sij", "Kim 2010: intra-articular sacroiliac joint"),
        ("co_treatment", "sij_belt", "Sacroiliac belt"),
        ("diagnosis", "none", "No diagnosis recorded"),
        ("anaesthetic", "none", "None"),
        ("sex", "unknown", "Unknown"),
        # A dextrose solution as events spell it, with its strength.
        ("solution", "dextrose_25", "Hypertonic dextrose 25 %"),
        ("solution", "dextrose_12.5", "Hypertonic dextrose 12.5 %"),
        ("solution", "dextrose", "Hypertonic dextrose"),
        # A code this list does not know yet, or a field without a list, still reads.
        ("site", "sacrococcygeal_ligament", "sacrococcygeal ligament"),
        ("", "day_1_flare", "day 1 flare"),
        ("", "", ""),
    ],
)
def test_a_code_reads_as_words(field: str, code: str, words: str) -> None:
    assert code_label(field, code) == words
