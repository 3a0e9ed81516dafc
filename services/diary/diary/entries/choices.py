from __future__ import annotations

from django.db import models

from diary.common.choices import code_set


class BodyRegion(models.TextChoices):
    LOWER_BACK_CENTRAL = "lower_back_central", "Lower back, middle"
    LOWER_BACK_LEFT = "lower_back_left", "Lower back, left"
    LOWER_BACK_RIGHT = "lower_back_right", "Lower back, right"
    SACROILIAC_LEFT = "sacroiliac_left", "Sacroiliac joint, left"
    SACROILIAC_RIGHT = "sacroiliac_right", "Sacroiliac joint, right"
    BUTTOCK_LEFT = "buttock_left", "Buttock, left"
    BUTTOCK_RIGHT = "buttock_right", "Buttock, right"
    HIP_LEFT = "hip_left", "Hip, left"
    HIP_RIGHT = "hip_right", "Hip, right"
    GROIN_LEFT = "groin_left", "Groin, left"
    GROIN_RIGHT = "groin_right", "Groin, right"
    THIGH_LEFT = "thigh_left", "Thigh, left"
    THIGH_RIGHT = "thigh_right", "Thigh, right"
    LEG_LEFT = "leg_left", "Leg below the knee, left"
    LEG_RIGHT = "leg_right", "Leg below the knee, right"
    FOOT_LEFT = "foot_left", "Foot, left"
    FOOT_RIGHT = "foot_right", "Foot, right"
    OTHER = "other", "Elsewhere"


class SideEffect(models.TextChoices):
    # Red flags (seeds 003, 004): infection or nerve injury; the clinician must know at once.
    FEVER = "fever", "Fever"
    SPREADING_REDNESS = "spreading_redness", "Spreading redness"
    WARMTH_AT_SITE = "warmth_at_site", "Warmth at the injection site"
    DISCHARGE_AT_SITE = "discharge_at_site", "Discharge at the injection site"
    NEW_NUMBNESS = "new_numbness", "New numbness"
    NEW_WEAKNESS = "new_weakness", "New weakness"
    # Expected after prolotherapy (the post-injection flare) or minor.
    SORENESS_AT_SITE = "soreness_at_site", "Soreness at the injection site"
    BRUISING = "bruising", "Bruising"
    STIFFNESS = "stiffness", "Stiffness"
    HEADACHE = "headache", "Headache"
    OTHER = "other", "Something else"


RED_FLAGS = frozenset(
    {
        SideEffect.FEVER.value,
        SideEffect.SPREADING_REDNESS.value,
        SideEffect.WARMTH_AT_SITE.value,
        SideEffect.DISCHARGE_AT_SITE.value,
        SideEffect.NEW_NUMBNESS.value,
        SideEffect.NEW_WEAKNESS.value,
    }
)

BODY_REGIONS = code_set(BodyRegion)
SIDE_EFFECTS = code_set(SideEffect)


def is_red_flag(side_effects: list[str]) -> bool:
    return not RED_FLAGS.isdisjoint(side_effects)
