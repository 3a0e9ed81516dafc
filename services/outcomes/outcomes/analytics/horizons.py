"""The follow-up horizons and the windows an observation must fall in to count for one."""

from __future__ import annotations

# The benchmark horizons (ICHOM: 6, 12, 24 months, optionally 3; Kim 2010: 15), in months after
# the first injection of the course.
HORIZON_MONTHS: tuple[int, ...] = (3, 6, 12, 15, 24)
RESPONDER_THRESHOLDS_PERCENT: tuple[float, ...] = (30.0, 50.0)
NRS_MCID_POINTS = 2.0
ODI_MCID_POINTS = 10.0
RELIEF_THRESHOLD_PERCENT = 50.0

DAYS_PER_MONTH = 365.25 / 12

# Kim 2010 assessed relief from 2 weeks after the last injection of the course on.
DURABILITY_ASSESSMENT_AFTER_LAST_INJECTION_DAYS = 14


def horizon_day(months: float) -> int:
    """The day (since the first injection) a horizon falls on: 3 months is day 91, 15 is 457."""
    return round(months * DAYS_PER_MONTH)


def window_days(months: float) -> int:
    """How far from the horizon the nearest observation may be: +-30 days up to 4 months, +-45
    up to 9 months, +-60 beyond (follow-up visits drift further from their date the later they
    are, while neighbouring horizons must stay distinguishable)."""
    if months <= 4:
        return 30
    if months <= 9:
        return 45
    return 60
