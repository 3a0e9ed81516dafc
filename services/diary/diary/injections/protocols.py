"""Published injection schedules, as data: the protocol an injection follows is one of these codes
(or "other"). Each carries its source; see the clinical reference for the texts behind them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProtocolTemplate:
    code: str
    name: str
    # Days between injections (shortest, longest) and injections in a course (fewest, most).
    interval_days: tuple[int, int]
    injections: tuple[int, int]
    source: str


PROTOCOLS: tuple[ProtocolTemplate, ...] = (
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

OTHER = "other"
PROTOCOL_CHOICES: list[tuple[str, str]] = [(p.code, p.name) for p in PROTOCOLS] + [
    (OTHER, "Other or none of these")
]
