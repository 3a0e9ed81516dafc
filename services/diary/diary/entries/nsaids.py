"""Recognising an anti-inflammatory (NSAID) in what a patient typed as a medication.

NSAIDs should be avoided for several days after each prolotherapy injection because they may
blunt the effect (seeds 001, 004); NSAID use within 7 days after an injection is a flag for the
clinician. The list below is data: names (generic and common brands) of the WHO ATC group M01A,
"Anti-inflammatory and antirheumatic products, non-steroids" (WHO Collaborating Centre for Drug
Statistics Methodology, ATC/DDD index). Each row is (name as typed, generic, ATC code). Brands map
to their generic's code. Keep rows sorted by ATC code; add a brand next to its generic.

Topical forms (ATC M02A) and aspirin (N02BA01, B01AC06) fall outside M01A and are not listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NsaidName:
    name: str
    generic: str
    atc: str


NSAID_NAMES: tuple[NsaidName, ...] = (
    NsaidName("phenylbutazone", "phenylbutazone", "M01AA01"),
    NsaidName("indometacin", "indometacin", "M01AB01"),
    NsaidName("indomethacin", "indometacin", "M01AB01"),
    NsaidName("indocin", "indometacin", "M01AB01"),
    NsaidName("indocid", "indometacin", "M01AB01"),
    NsaidName("sulindac", "sulindac", "M01AB02"),
    NsaidName("tolmetin", "tolmetin", "M01AB03"),
    NsaidName("diclofenac", "diclofenac", "M01AB05"),
    NsaidName("voltaren", "diclofenac", "M01AB05"),
    NsaidName("voltarol", "diclofenac", "M01AB05"),
    NsaidName("cataflam", "diclofenac", "M01AB05"),
    NsaidName("diclomax", "diclofenac", "M01AB05"),
    NsaidName("etodolac", "etodolac", "M01AB08"),
    NsaidName("lodine", "etodolac", "M01AB08"),
    NsaidName("ketorolac", "ketorolac", "M01AB15"),
    NsaidName("toradol", "ketorolac", "M01AB15"),
    NsaidName("aceclofenac", "aceclofenac", "M01AB16"),
    NsaidName("arthrotec", "diclofenac, combinations", "M01AB55"),
    NsaidName("piroxicam", "piroxicam", "M01AC01"),
    NsaidName("feldene", "piroxicam", "M01AC01"),
    NsaidName("tenoxicam", "tenoxicam", "M01AC02"),
    NsaidName("lornoxicam", "lornoxicam", "M01AC05"),
    NsaidName("meloxicam", "meloxicam", "M01AC06"),
    NsaidName("mobic", "meloxicam", "M01AC06"),
    NsaidName("ibuprofen", "ibuprofen", "M01AE01"),
    NsaidName("nurofen", "ibuprofen", "M01AE01"),
    NsaidName("advil", "ibuprofen", "M01AE01"),
    NsaidName("motrin", "ibuprofen", "M01AE01"),
    NsaidName("brufen", "ibuprofen", "M01AE01"),
    NsaidName("cuprofen", "ibuprofen", "M01AE01"),
    NsaidName("calprofen", "ibuprofen", "M01AE01"),
    NsaidName("naproxen", "naproxen", "M01AE02"),
    NsaidName("aleve", "naproxen", "M01AE02"),
    NsaidName("naprosyn", "naproxen", "M01AE02"),
    NsaidName("anaprox", "naproxen", "M01AE02"),
    NsaidName("ketoprofen", "ketoprofen", "M01AE03"),
    NsaidName("orudis", "ketoprofen", "M01AE03"),
    NsaidName("oruvail", "ketoprofen", "M01AE03"),
    NsaidName("fenoprofen", "fenoprofen", "M01AE04"),
    NsaidName("flurbiprofen", "flurbiprofen", "M01AE09"),
    NsaidName("tiaprofenic", "tiaprofenic acid", "M01AE11"),
    NsaidName("oxaprozin", "oxaprozin", "M01AE12"),
    NsaidName("dexibuprofen", "dexibuprofen", "M01AE14"),
    NsaidName("dexketoprofen", "dexketoprofen", "M01AE17"),
    NsaidName("keral", "dexketoprofen", "M01AE17"),
    NsaidName("mefenamic", "mefenamic acid", "M01AG01"),
    NsaidName("ponstan", "mefenamic acid", "M01AG01"),
    NsaidName("tolfenamic", "tolfenamic acid", "M01AG02"),
    NsaidName("flufenamic", "flufenamic acid", "M01AG03"),
    NsaidName("meclofenamic", "meclofenamic acid", "M01AG04"),
    NsaidName("celecoxib", "celecoxib", "M01AH01"),
    NsaidName("celebrex", "celecoxib", "M01AH01"),
    NsaidName("rofecoxib", "rofecoxib", "M01AH02"),
    NsaidName("valdecoxib", "valdecoxib", "M01AH03"),
    NsaidName("parecoxib", "parecoxib", "M01AH04"),
    NsaidName("etoricoxib", "etoricoxib", "M01AH05"),
    NsaidName("arcoxia", "etoricoxib", "M01AH05"),
    NsaidName("lumiracoxib", "lumiracoxib", "M01AH06"),
    NsaidName("nabumetone", "nabumetone", "M01AX01"),
    NsaidName("relifex", "nabumetone", "M01AX01"),
    NsaidName("niflumic", "niflumic acid", "M01AX02"),
    NsaidName("nimesulide", "nimesulide", "M01AX17"),
)

# A name counts where it is not part of a longer word: "Nurofen 200mg", "ibuprofen-400" and
# "Nurofen200" match; "ibuprofenx" does not. Longest names first, so "dexibuprofen" is found whole.
_PATTERN = re.compile(
    r"(?<![a-z])(?:"
    + "|".join(re.escape(n.name) for n in sorted(NSAID_NAMES, key=lambda n: -len(n.name)))
    + r")(?![a-z])",
    re.IGNORECASE,
)


def is_nsaid(medication_name: str) -> bool:
    """Whether the name a patient typed names an NSAID of ATC group M01A."""
    return _PATTERN.search(medication_name) is not None
