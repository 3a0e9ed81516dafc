"""How the dashboard writes numbers: the same rounding on every page, and words beside signs so
colour is never the only signal."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.http import QueryDict

from shared.vocabulary import code_label

register = template.Library()

DASH = "\u2013"  # an en dash: "no figure"


@register.filter
def number(value: Any, places: int = 1) -> str:
    """7.25 -> "7.3"; whole numbers without decimals; nothing -> a dash."""
    if value is None or value == "":
        return DASH
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.{int(places)}f}"


@register.filter
def percent(value: Any, places: int = 0) -> str:
    if value is None or value == "":
        return DASH
    return f"{float(value):.{int(places)}f} %"


@register.filter
def relief(value: Any) -> str:
    """Relief from baseline in words: 45 -> "45 % better", -10 -> "10 % worse"."""
    if value is None or value == "":
        return DASH
    value = float(value)
    if round(value) == 0:
        return "no change"
    return f"{abs(value):.0f} % {'better' if value > 0 else 'worse'}"


@register.simple_tag
def interval(low: Any, high: Any) -> str:
    """A 95 % interval as "37.9 to 79.5" joined by an en dash (percent), or a dash."""
    if low is None or high is None:
        return DASH
    return f"{float(low):.1f}\u2013{float(high):.1f}"


@register.filter
def get(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def words(code: Any, field: str = "") -> str:
    """A stored code in words: with the vocabulary's words when the field is named
    (``{{ value|words:"site" }}`` -> "Sacroiliac joint, intra-articular"), else with spaces
    ("sij_intra_articular" -> "sij intra articular")."""
    return code_label(field, str(code or ""))


@register.simple_tag
def query(params: QueryDict, **changes: Any) -> str:
    """The current query string with some parameters replaced (None removes one)."""
    merged = params.copy()
    for key, value in changes.items():
        if value is None or value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return "?" + urlencode(list(merged.lists()), doseq=True) if merged else "?"


_AUTHOR_YEAR = re.compile(r"^([A-Z][A-Za-z'-]+) [A-Z]{1,3},.*?\b((?:19|20)\d\d)\b")


@register.filter
def study_name(citation: Any) -> str:
    """A citation shortened to its first author and year ("Kim 2010"), or its first words."""
    text = str(citation or "")
    match = _AUTHOR_YEAR.match(text)
    if match:
        return f"{match.group(1)} {match.group(2)}"
    head = re.split(r"[,;.]", text, maxsplit=1)[0]
    return head if len(head) <= 60 else head[:57].rstrip() + "..."


@register.simple_tag
def schedules_url() -> str:
    """Where a clinic administrator configures the reminder schedules (the reminders admin)."""
    return str(settings.DASHBOARD_SCHEDULES_URL)
