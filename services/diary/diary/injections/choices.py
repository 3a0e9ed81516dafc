from __future__ import annotations

from django.db import models

from diary.injections.protocols import PROTOCOL_CHOICES


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


class RecordedByRole(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    PATIENT = "patient", "Patient (self-reported)"


PROTOCOLS = PROTOCOL_CHOICES

# Hypertonic dextrose is given at 10-50 % in the published protocols; the bounds only catch typos.
DEXTROSE_MIN_PERCENT = 1
DEXTROSE_MAX_PERCENT = 75
