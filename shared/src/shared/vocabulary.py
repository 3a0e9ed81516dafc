"""Codes more than one service speaks: a patient's recorded sex (identity records it, outcomes
groups by it), an injection's details and co-treatments (diary records and checks them, outcomes
groups cohorts by them). The event contract carries them and the dashboard offers them in its
forms. One list, so the services cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Site(models.TextChoices):
    SIJ_INTRA_ARTICULAR = "sij_intra_articular", "Sacroiliac joint, intra-articular"
    SIJ_DORSAL_LIGAMENT = "sij_dorsal_ligament", "Sacroiliac joint, dorsal (interosseous) ligament"
    ILIOLUMBAR = "iliolumbar", "Iliolumbar ligament"
    LUMBOSACRAL = "lumbosacral", "Lumbosacral ligament"
    INTERSPINOUS = "interspinous", "Interspinous ligament"
    FACET = "facet", "Facet joint"
    OTHER = "other", "Other"


class Laterality(models.TextChoices):
    LEFT = "left", "Left"
    RIGHT = "right", "Right"
    BILATERAL = "bilateral", "Both sides"
    MIDLINE = "midline", "Midline"


class Solution(models.TextChoices):
    DEXTROSE = "dextrose", "Hypertonic dextrose"
    PRP = "prp", "Platelet-rich plasma"
    CORTICOSTEROID = "corticosteroid", "Corticosteroid"
    SALINE = "saline", "Saline"
    OTHER = "other", "Other"


class Anaesthetic(models.TextChoices):
    LIDOCAINE = "lidocaine", "Lidocaine (lignocaine)"
    BUPIVACAINE = "bupivacaine", "Bupivacaine"
    ROPIVACAINE = "ropivacaine", "Ropivacaine"
    NONE = "none", "None"
    OTHER = "other", "Other"


class Guidance(models.TextChoices):
    FLUOROSCOPY = "fluoroscopy", "Fluoroscopy"
    CT = "ct", "CT"
    ULTRASOUND = "ultrasound", "Ultrasound"
    LANDMARK = "landmark", "Landmark (no imaging)"


class Diagnosis(models.TextChoices):
    """What the injection treats. Seed 003 warns that prolotherapy is often given for diagnoses it
    does not suit (disc herniation, facet syndrome, none at all): outcomes split by this."""

    SIJ_DYSFUNCTION = "sij_dysfunction", "Sacroiliac joint dysfunction"
    LIGAMENT_INSUFFICIENCY = "ligament_insufficiency", "Ligament insufficiency"
    FACET_SYNDROME = "facet_syndrome", "Facet syndrome"
    DISC_HERNIATION = "disc_herniation", "Disc herniation"
    NONSPECIFIC_LBP = "nonspecific_lbp", "Non-specific low back pain"
    OTHER = "other", "Other"
    NONE = "none", "No diagnosis recorded"


class CoTreatment(models.TextChoices):
    """Treatments alongside the injections: prolotherapy helped in trials only in combination
    with them (Cochrane review, Dagenais 2007; seed 004), so cohorts must split by them."""

    PHYSIOTHERAPY = "physiotherapy", "Physiotherapy (incl. core and pelvic-floor strengthening)"
    EXERCISE = "exercise", "Exercise programme"
    MANIPULATION = "manipulation", "Spinal manipulation"
    SIJ_BELT = "sij_belt", "Sacroiliac belt"


# Hypertonic dextrose is given at 10-50 % in the published protocols; the bounds only catch typos.
DEXTROSE_MIN_PERCENT = 1
DEXTROSE_MAX_PERCENT = 75


# --- Protocols ------------------------------------------------------------------------------------
# Published injection schedules, as data: the protocol an injection follows is one of these codes
# (or "other"). Each carries its source; see the clinical reference for the texts behind them.


@dataclass(frozen=True)
class ProtocolTemplate:
    code: str
    name: str
    # Days between injections (shortest, longest) and injections in a course (fewest, most).
    interval_days: tuple[int, int]
    injections: tuple[int, int]
    source: str


PROTOCOL_TEMPLATES: tuple[ProtocolTemplate, ...] = (
    ProtocolTemplate(
        code="hauser",
        name="Hauser: lumbar and sacroiliac ligaments",
        interval_days=(21, 35),
        injections=(3, 6),
        source="Hauser, Caring Medical (seed 000)",
    ),
    ProtocolTemplate(
        code="sij_dextrose_image_guided",
        name="Sacroiliac joint dextrose, image guided",
        interval_days=(42, 42),
        injections=(1, 3),
        source="seed 001; Cusi 2010, Br J Sports Med 44(2):100-4",
    ),
    ProtocolTemplate(
        code="general_back",
        name="General back prolotherapy",
        interval_days=(14, 14),
        injections=(5, 6),
        source="Big Back Pain (seed 004)",
    ),
    ProtocolTemplate(
        code="kim2010_intra_articular_sij",
        name="Kim 2010: intra-articular sacroiliac joint",
        interval_days=(14, 14),
        injections=(1, 3),
        source="Kim 2010, J Altern Complement Med 16(12):1285-90",
    ),
)

OTHER_PROTOCOL = "other"
PROTOCOL_CHOICES: list[tuple[str, str]] = [(p.code, p.name) for p in PROTOCOL_TEMPLATES] + [
    (OTHER_PROTOCOL, "Other or none of these")
]


# --- Words for codes ------------------------------------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "sex": dict(Sex.choices),
    "site": dict(Site.choices),
    "laterality": dict(Laterality.choices),
    "solution": dict(Solution.choices),
    "anaesthetic": dict(Anaesthetic.choices),
    "guidance": dict(Guidance.choices),
    "protocol": dict(PROTOCOL_CHOICES),
    "diagnosis": dict(Diagnosis.choices),
    "co_treatment": dict(CoTreatment.choices),
}


def code_label(field: str, code: str) -> str:
    """The words for one of ``field``'s codes: ("site", "sij_intra_articular") -> "Sacroiliac
    joint, intra-articular". A dextrose solution as events spell it, with its strength
    ("dextrose_25"), reads "Hypertonic dextrose 25 %"; a code not in the list reads as itself
    with spaces, so a code newer than this list still shows."""
    words = LABELS.get(field, {}).get(code)
    if words is not None:
        return words
    if field == "solution" and code.startswith(f"{Solution.DEXTROSE}_"):
        return f"{Solution.DEXTROSE.label} {code.removeprefix(f'{Solution.DEXTROSE}_')} %"
    return code.replace("_", " ")
