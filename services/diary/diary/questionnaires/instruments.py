"""Questionnaire definitions, as versioned data.

The diary stores a response's answers as numbers, one per item (section), never the items'
wording: the ODI's text is licensed, and the phone app carries whatever wording its licence
allows. A definition fixes how many items there are, their range, how many must be answered, and
how the score is computed. A new version of an instrument is a new row; stored responses keep the
version they were given under.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Answers = Sequence[int | None]


def _odi_score(answers: Answers) -> float:
    """ODI: sum of the answered sections / (5 x answered sections) x 100, in percent (0-100),
    to one decimal. Skipped sections drop out of both the sum and the maximum."""
    answered = [a for a in answers if a is not None]
    return round(sum(answered) / (5 * len(answered)) * 100, 1)


def _single(answers: Answers) -> float:
    value = answers[0]
    if value is None:  # the definitions require the one item to be answered
        raise ValueError("an unanswered single-item instrument has no score")
    return float(value)


@dataclass(frozen=True)
class Instrument:
    code: str
    version: str
    name: str
    items: int
    item_min: int
    item_max: int
    # Fewest answered items for a valid score; fewer is refused.
    min_answered: int
    score: Callable[[Answers], float]
    score_range: tuple[float, float]
    source: str
    # Meanings of the answer values, where they are not licensed text.
    anchors: dict[int, str] = field(default_factory=dict)
    # Whether the event carries the item answers as ``section_scores``.
    report_sections: bool = False


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument(
        code="odi",
        version="2.1a",
        name="Oswestry Disability Index",
        items=10,
        item_min=0,
        item_max=5,
        # The ODI's scoring adjusts the maximum for skipped sections; common practice accepts up
        # to two skipped, beyond which the score says too little about the patient.
        min_answered=8,
        score=_odi_score,
        score_range=(0, 100),
        source="Fairbank & Pynsent 2000, Spine 25(22):2940-52; MCID 10 points (Ostelo 2008)",
        report_sections=True,
    ),
    Instrument(
        code="pgic",
        version="1",
        name="Patient Global Impression of Change",
        items=1,
        item_min=1,
        item_max=7,
        min_answered=1,
        score=_single,
        score_range=(1, 7),
        source="clinical reference: 1 = very much improved ... 7 = very much worse",
        anchors={
            1: "very much improved",
            2: "much improved",
            3: "minimally improved",
            4: "no change",
            5: "minimally worse",
            6: "much worse",
            7: "very much worse",
        },
    ),
    Instrument(
        code="nrs",
        version="1",
        name="Numeric rating scale of pain",
        items=1,
        item_min=0,
        item_max=10,
        min_answered=1,
        score=_single,
        score_range=(0, 10),
        source="LOINC 72514-3; MCID 2 points or 30 % (Farrar 2001, Pain 94:149-58)",
        anchors={0: "no pain", 10: "worst pain imaginable"},
    ),
)

BY_CODE_VERSION: dict[tuple[str, str], Instrument] = {(i.code, i.version): i for i in INSTRUMENTS}
# The version a response is given under when it names none: the newest of each instrument.
CURRENT: dict[str, Instrument] = {i.code: i for i in INSTRUMENTS}
CODES = frozenset(CURRENT)


def instrument_get(code: str, version: str | None = None) -> Instrument | None:
    if version is None:
        return CURRENT.get(code)
    return BY_CODE_VERSION.get((code, version))
