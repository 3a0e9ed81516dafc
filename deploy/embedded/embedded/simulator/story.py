"""A clinic's months as a story: who its patients are, when they were injected, how their pain
went, what their phones logged and when they uploaded it.

Pure computation, no network: the same seed and the same ``now`` tell the same story, ids
included, so a second run sends the very same things and the services recognise them.

The recovery patterns follow the clinical reference: pain flares in the first days after each
injection and settles within weeks; benefit builds over about six weeks; about half the patients
reach at least 50 % relief by three to six months (Kim 2010, Cusi 2010, Yelland 2004), more of
them with co-treatments (Cochrane 2007) and fewer with diagnoses prolotherapy does not suit
(disc herniation, facet syndrome: seed 003); some lose their relief after nine to fifteen months
(Kim 2010: 58.7 % kept it at 15 months) and some of those come back for a second course; some
stop logging altogether.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_SEED = 2026
# Every id the simulator makes is a UUIDv5 in this namespace, named by seed and place in the story.
NAMESPACE = uuid.UUID("0b7a5d52-93f4-4c1e-8a57-3f2f6c1a9d20")

HOME_ZONE = "Europe/London"
# A few patients live in another zone; a few travel.
OTHER_HOME_ZONES = ("Europe/Dublin", "Europe/Jersey", "Europe/Paris")
TRIP_ZONES = (
    "Europe/Madrid",
    "Europe/Athens",
    "America/New_York",
    "America/Toronto",
    "Asia/Dubai",
    "Australia/Sydney",
)
# The default reminder schedule, as the phone experiences it (docs/reminders.md): flare prompts at
# 18:00 on these days after each injection, open 24 hours; horizon prompts at 10:00 this many
# months after a course's first injection, open 7 days; a baseline the evening before.
FLARE_DAYS = (1, 3, 7, 14, 21, 28, 42)
FLARE_AT = time(18, 0)
FLARE_WINDOW = timedelta(hours=24)
HORIZON_MONTHS = (3, 6, 12, 15, 24)
HORIZON_AT = time(10, 0)
HORIZON_WINDOW = timedelta(days=7)
BASELINE_AT = time(18, 0)
# Nothing is logged closer to ``now`` than this: the phone's clock and the server's may differ.
SETTLE = timedelta(minutes=10)

RESPONDER = "responder"
PARTIAL = "partial"
NON_RESPONDER = "non_responder"


@dataclass(frozen=True)
class Protocol:
    code: str
    interval_days: tuple[int, int]
    injections: tuple[int, int]
    sites: tuple[str, ...]
    lateralities: tuple[str, ...]
    solution: str
    dextrose: tuple[float, ...]
    guidance: tuple[str, ...]
    diagnoses: tuple[tuple[str, float], ...]
    weight: float


# The published schedules of the clinical reference (diary's protocol templates), and how this
# demo clinic gives them.
PROTOCOLS = (
    Protocol(
        "hauser",
        (21, 35),
        (3, 6),
        ("lumbosacral", "iliolumbar", "interspinous", "sij_dorsal_ligament"),
        ("bilateral", "midline"),
        "dextrose",
        (15.0, 20.0),
        ("landmark", "ultrasound"),
        (("ligament_insufficiency", 0.5), ("nonspecific_lbp", 0.3), ("facet_syndrome", 0.1)),
        0.34,
    ),
    Protocol(
        "sij_dextrose_image_guided",
        (42, 42),
        (2, 3),
        ("sij_dorsal_ligament",),
        ("left", "right", "bilateral"),
        "dextrose",
        (18.0, 20.0),
        ("ct", "fluoroscopy"),
        (("sij_dysfunction", 0.9),),
        0.24,
    ),
    Protocol(
        "general_back",
        (14, 14),
        (5, 6),
        ("iliolumbar", "lumbosacral"),
        ("bilateral", "midline"),
        "dextrose",
        (12.5, 15.0),
        ("landmark",),
        (
            ("nonspecific_lbp", 0.5),
            ("ligament_insufficiency", 0.2),
            ("disc_herniation", 0.15),
            ("facet_syndrome", 0.1),
        ),
        0.2,
    ),
    Protocol(
        "kim2010_intra_articular_sij",
        (14, 14),
        (2, 3),
        ("sij_intra_articular",),
        ("left", "right"),
        "dextrose",
        (25.0,),
        ("fluoroscopy",),
        (("sij_dysfunction", 1.0),),
        0.22,
    ),
)
# Given instead of dextrose now and then: the comparators of the benchmarks.
OTHER_SOLUTIONS = (("corticosteroid", 0.05), ("prp", 0.04))

FIRST_NAMES = {
    "female": [
        "Amelia",
        "Olivia",
        "Isla",
        "Ava",
        "Emily",
        "Sophie",
        "Grace",
        "Lily",
        "Freya",
        "Ella",
        "Poppy",
        "Evie",
        "Chloe",
        "Jessica",
        "Ruby",
        "Alice",
        "Hannah",
        "Megan",
        "Zara",
        "Priya",
        "Aisha",
        "Fatima",
        "Niamh",
        "Siobhan",
        "Joanna",
        "Claire",
        "Helen",
        "Ruth",
        "Margaret",
        "Susan",
        "Linda",
        "Karen",
        "Janet",
        "Pauline",
        "Gillian",
        "Yvonne",
        "Rachel",
        "Nadia",
        "Leila",
        "Anika",
    ],
    "male": [
        "Oliver",
        "George",
        "Harry",
        "Jack",
        "Noah",
        "Charlie",
        "Jacob",
        "Thomas",
        "Oscar",
        "William",
        "James",
        "Henry",
        "Leo",
        "Arthur",
        "Alfie",
        "Joshua",
        "Daniel",
        "Samuel",
        "Rahul",
        "Arjun",
        "Mohammed",
        "Omar",
        "Kofi",
        "Tunde",
        "Liam",
        "Sean",
        "Gareth",
        "Rhys",
        "Callum",
        "Ewan",
        "Stuart",
        "Graham",
        "Keith",
        "Trevor",
        "Nigel",
        "Barry",
        "Colin",
        "Dennis",
        "Raymond",
        "Ian",
    ],
    "other": [
        "Alex",
        "Jordan",
        "Robin",
        "Charlie",
        "Sam",
        "Jamie",
        "Morgan",
        "Riley",
        "Avery",
        "Quinn",
    ],
}
SURNAMES = [
    "Smith",
    "Jones",
    "Williams",
    "Taylor",
    "Brown",
    "Davies",
    "Evans",
    "Wilson",
    "Thomas",
    "Johnson",
    "Roberts",
    "Robinson",
    "Thompson",
    "Wright",
    "Walker",
    "White",
    "Edwards",
    "Hughes",
    "Green",
    "Hall",
    "Lewis",
    "Harris",
    "Clarke",
    "Patel",
    "Jackson",
    "Wood",
    "Turner",
    "Martin",
    "Cooper",
    "Hill",
    "Ward",
    "Morris",
    "Moore",
    "Clark",
    "Lee",
    "King",
    "Baker",
    "Harrison",
    "Morgan",
    "Allen",
    "James",
    "Scott",
    "Phillips",
    "Watson",
    "Davis",
    "Parker",
    "Price",
    "Bennett",
    "Young",
    "Griffiths",
    "Mitchell",
    "Kelly",
    "Cook",
    "Carter",
    "Richardson",
    "Bailey",
    "Collins",
    "Bell",
    "Shaw",
    "Murphy",
    "Miller",
    "Cox",
    "Richards",
    "Khan",
    "Marshall",
    "Anderson",
    "Simpson",
    "Ellis",
    "Adams",
    "Singh",
    "Begum",
    "Chapman",
    "Mason",
    "Webb",
    "Rogers",
    "Gray",
    "Ali",
    "Hussain",
    "Okafor",
    "Mensah",
    "Nowak",
    "Kowalski",
    "Rossi",
    "Silva",
    "Byrne",
    "Ryan",
    "Doyle",
    "Fraser",
    "Campbell",
    "Stewart",
    "Reid",
    "MacDonald",
]

NOTES = (
    "Long day at work, sat too much.",
    "Physio today, felt looser afterwards.",
    "Slept badly.",
    "Walked the dog for an hour, fine.",
    "Sore after gardening.",
    "Drove to see family, stiff afterwards.",
    "Better morning than usual.",
    "Swimming helped.",
    "Carried the shopping, regretted it.",
    "Could tie my shoes without wincing.",
)
NSAIDS = (("Ibuprofen", "400 mg"), ("Naproxen", "250 mg"), ("Diclofenac", "50 mg"))
OTHER_MEDICATIONS = (
    ("Paracetamol", "1 g"),
    ("Co-codamol", "30/500 mg"),
    ("Amitriptyline", "10 mg"),
    ("Gabapentin", "300 mg"),
)
RED_FLAG_SETS = (("fever",), ("warmth_at_site", "spreading_redness"), ("new_numbness",))


# --- The clinics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamedPatient:
    """A patient whose account the demo seed made (the README names them), with the part of
    the story that makes each one worth looking at."""

    email: str
    full_name: str
    sex: str
    birth_year: int
    outcome: str
    started_days_ago: int
    protocol: str
    nsaid_in_flare: bool = False


@dataclass(frozen=True)
class ClinicPlan:
    key: str
    name: str
    clinician_email: str
    domain: str
    size: int
    named: tuple[NamedPatient, ...] = ()


SPINE_NAMED = (
    NamedPatient(
        "patient1@demo.example", "Harriet Patel", "female", 1968, RESPONDER, 300, "hauser"
    ),
    NamedPatient(
        "patient2@demo.example", "George Okafor", "male", 1975, PARTIAL, 220, "general_back"
    ),
    NamedPatient(
        "patient3@demo.example",
        "Maria Santos",
        "female",
        1982,
        RESPONDER,
        130,
        "kim2010_intra_articular_sij",
        nsaid_in_flare=True,
    ),
    NamedPatient(
        "patient4@demo.example", "Tom Whitfield", "male", 1959, NON_RESPONDER, 380, "hauser"
    ),
    NamedPatient(
        "patient5@demo.example",
        "Sam Rivers",
        "other",
        1990,
        RESPONDER,
        9,
        "sij_dextrose_image_guided",
    ),
)
RIVERSIDE_NAMED = (
    NamedPatient(
        "riverside.patient1@demo.example", "Aoife Byrne", "female", 1971, RESPONDER, 200, "hauser"
    ),
    NamedPatient(
        "riverside.patient2@demo.example",
        "Kwame Mensah",
        "male",
        1964,
        PARTIAL,
        95,
        "kim2010_intra_articular_sij",
    ),
    NamedPatient(
        "riverside.patient3@demo.example",
        "Lucy Tran",
        "female",
        1987,
        NON_RESPONDER,
        60,
        "general_back",
    ),
)


def clinic_plans(
    *, patients: int, second_clinic_patients: int, clinician_email: str
) -> tuple[ClinicPlan, ...]:
    """The Demo Spine Clinic (its five seeded patients among ``patients``) and, when asked for,
    the Riverside Pain Clinic (its three seeded patients among ``second_clinic_patients``)."""
    plans = [
        ClinicPlan(
            key="spine",
            name="Demo Spine Clinic",
            clinician_email=clinician_email,
            domain="spine.demo.example",
            size=patients,
            named=SPINE_NAMED[: min(patients, len(SPINE_NAMED))],
        )
    ]
    if second_clinic_patients > 0:
        plans.append(
            ClinicPlan(
                key="riverside",
                name="Riverside Pain Clinic",
                clinician_email="clinician2@demo.example",
                domain="riverside.demo.example",
                size=second_clinic_patients,
                named=RIVERSIDE_NAMED[: min(second_clinic_patients, len(RIVERSIDE_NAMED))],
            )
        )
    return tuple(plans)


# --- The story of one patient -----------------------------------------------------------------


@dataclass(frozen=True)
class CourseCurve:
    """How pain goes during a course: relief from the pain level before it builds towards
    ``relief`` with time constant ``build_days``; after ``lost_at`` it fades to ``late_relief``."""

    start: datetime
    relief: float
    build_days: float
    lost_at: datetime | None = None
    late_relief: float = 0.0


@dataclass(frozen=True)
class Trajectory:
    baseline: float
    courses: tuple[CourseCurve, ...]
    # (when, size of the flare in NRS points) of each injection
    flares: tuple[tuple[datetime, float], ...]

    def level(self, at: datetime) -> float:
        """Pain without the flare of the injections."""
        level = self.baseline
        for course in self.courses:
            if at < course.start:
                break
            days = (at - course.start).total_seconds() / 86400
            relief = course.relief * (1 - math.exp(-days / course.build_days))
            if course.lost_at is not None and at > course.lost_at:
                kept = course.relief * (
                    1 - math.exp(-(course.lost_at - course.start).days / course.build_days)
                )
                since = (at - course.lost_at).total_seconds() / 86400
                relief = course.late_relief + (kept - course.late_relief) * math.exp(-since / 30)
            level = self._before(course) * (1 - relief)
        return level

    def _before(self, course: CourseCurve) -> float:
        return self.level(course.start - timedelta(seconds=1))

    def pain(self, at: datetime) -> float:
        flare = sum(
            size * math.exp(-(at - given).total_seconds() / 86400 / 4)
            for given, size in self.flares
            if given <= at
        )
        return self.level(at) + flare

    def relief(self, at: datetime) -> float:
        """Relief from the pain before the current course (PGIC's reference)."""
        current = [c for c in self.courses if c.start <= at]
        if not current:
            return 0.0
        before = self._before(current[-1])
        return (before - self.pain(at)) / before if before else 0.0


@dataclass
class Injection:
    id: uuid.UUID
    performed_at: datetime
    body: dict[str, Any]


@dataclass
class Item:
    """An entry or a questionnaire, as the phone holds it (``body`` is the API's)."""

    id: uuid.UUID
    kind: str
    occurred_at: datetime
    body: dict[str, Any]
    answers: str = ""  # the kind of prompt it was made for: baseline, flare, horizon or ""


@dataclass
class Upload:
    """One request the phone sends: a single item (online) or a sync batch (offline)."""

    at: datetime
    items: list[Item]
    online: bool


@dataclass
class PatientStory:
    seed: int
    clinic: str
    index: int
    email: str
    full_name: str
    sex: str
    birth_year: int
    home_zone: str
    zone_now: str
    outcome: str
    adherence: float
    trajectory: Trajectory
    dropped_out_at: datetime | None
    injections: list[Injection] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    seeded: bool = False
    nsaid_user: bool = False
    co_treatments: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def key(self, *parts: object) -> uuid.UUID:
        """The id of a thing in this story: the same for the same seed, clinic and patient."""
        name = "/".join(map(str, [self.seed, self.clinic, self.index, *parts]))
        return uuid.uuid5(NAMESPACE, name)

    @property
    def active(self) -> bool:
        return self.dropped_out_at is None


def _weighted(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    total = sum(weight for _, weight in choices)
    pick = rng.random() * total
    for value, weight in choices:
        pick -= weight
        if pick <= 0:
            return value
    return choices[-1][0]


def _utc(day: date, at: time, zone: str) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def _clock(hours: float) -> time:
    minutes = int(hours * 60) % (24 * 60)
    return time(minutes // 60, minutes % 60)


def _weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


class StoryTeller:
    """Tells each patient's story from the seed; ``now`` ends every story."""

    def __init__(self, *, seed: int, months: int, now: datetime) -> None:
        self.seed = seed
        self.now = now.astimezone(UTC)
        self.start = self.now - timedelta(days=round(months * 30.44))

    def rng(self, *parts: object) -> random.Random:
        return random.Random("/".join([str(self.seed), *map(str, parts)]))  # noqa: S311 - not secret

    def clinic(self, plan: ClinicPlan) -> list[PatientStory]:
        return [self.patient(plan, index) for index in range(1, plan.size + 1)]

    # --- who -----------------------------------------------------------------------------------

    def patient(self, plan: ClinicPlan, index: int) -> PatientStory:
        rng = self.rng(plan.key, index)
        named = plan.named[index - 1] if index <= len(plan.named) else None
        if named is not None:
            sex, full_name, birth_year, email = (
                named.sex,
                named.full_name,
                named.birth_year,
                named.email,
            )
        else:
            sex = _weighted(rng, (("female", 0.55), ("male", 0.43), ("other", 0.02)))
            first, last = rng.choice(FIRST_NAMES[sex]), rng.choice(SURNAMES)
            full_name = f"{first} {last}"
            birth_year = self.now.year - int(min(82, max(24, rng.gauss(52, 13))))
            email = f"{first}.{last}.{index:03d}@{plan.domain}".lower()
            if self.seed != DEFAULT_SEED:
                email = email.replace("@", f".s{self.seed}@")
        home = HOME_ZONE if named or rng.random() > 0.04 else rng.choice(OTHER_HOME_ZONES)

        protocol = self._protocol(rng, named)
        diagnosis = _weighted(rng, (*protocol.diagnoses, ("other", 0.05)))
        co_treatments = tuple(
            sorted(
                code
                for code, chance in (
                    ("physiotherapy", 0.5),
                    ("exercise", 0.35),
                    ("manipulation", 0.08),
                    ("sij_belt", 0.3 if "sij" in protocol.code else 0.05),
                )
                if rng.random() < chance
            )
        )
        outcome = named.outcome if named else self._outcome(rng, protocol, diagnosis, co_treatments)
        solution = protocol.solution
        if named is None:
            for other, chance in OTHER_SOLUTIONS:
                if rng.random() < chance:
                    solution = other
        total_days = (self.now - self.start).days
        if named is not None:
            ago = max(3, min(named.started_days_ago, total_days - 14))
            first_day = (self.now - timedelta(days=ago)).date()
        else:
            first_day = (self.start + timedelta(days=rng.uniform(14, total_days - 2))).date()
        dropout_chance = {RESPONDER: 0.15, PARTIAL: 0.3, NON_RESPONDER: 0.45}[outcome]
        dropped_out_at = None
        if named is None and rng.random() < dropout_chance:
            dropped_out_at = _utc(first_day, time(12), home) + timedelta(days=rng.uniform(20, 260))
            if dropped_out_at >= self.now - timedelta(days=7):
                dropped_out_at = None
        story = PatientStory(
            seed=self.seed,
            clinic=plan.key,
            index=index,
            email=email,
            full_name=full_name,
            sex=sex,
            birth_year=birth_year,
            home_zone=home,
            zone_now=home,
            outcome=outcome,
            adherence=rng.uniform(0.55, 0.97)
            if outcome != NON_RESPONDER
            else rng.uniform(0.4, 0.9),
            trajectory=Trajectory(baseline=0, courses=(), flares=()),
            dropped_out_at=dropped_out_at,
            seeded=named is not None,
            nsaid_user=bool(named and named.nsaid_in_flare) or rng.random() < 0.15,
            co_treatments=co_treatments,
        )
        self._treat(story, rng, protocol, diagnosis, solution, first_day, named)
        self._diary(story, rng)
        self._uploads(story, rng)
        return story

    @staticmethod
    def _protocol(rng: random.Random, named: NamedPatient | None) -> Protocol:
        if named is not None:
            return next(p for p in PROTOCOLS if p.code == named.protocol)
        pick = _weighted(rng, tuple((p.code, p.weight) for p in PROTOCOLS))
        return next(p for p in PROTOCOLS if p.code == pick)

    @staticmethod
    def _outcome(
        rng: random.Random, protocol: Protocol, diagnosis: str, co_treatments: tuple[str, ...]
    ) -> str:
        chance = 0.5
        if co_treatments:
            chance += 0.12  # better in combination (Cochrane 2007, seed 004)
        if diagnosis in ("disc_herniation", "facet_syndrome"):
            chance -= 0.3  # a diagnosis prolotherapy does not suit (seed 003)
        if protocol.code in ("kim2010_intra_articular_sij", "sij_dextrose_image_guided"):
            chance += 0.05
        draw = rng.random()
        if draw < chance:
            return RESPONDER
        return PARTIAL if draw < chance + (1 - chance) * 0.45 else NON_RESPONDER

    # --- treatment ---------------------------------------------------------------------------

    def _treat(
        self,
        story: PatientStory,
        rng: random.Random,
        protocol: Protocol,
        diagnosis: str,
        solution: str,
        first_day: date,
        named: NamedPatient | None,
    ) -> None:
        baseline = min(9.2, max(4.0, rng.gauss(6.8, 1.1)))
        relief = {
            RESPONDER: rng.uniform(0.55, 0.92),
            PARTIAL: rng.uniform(0.18, 0.45),
            NON_RESPONDER: rng.uniform(-0.15, 0.14),
        }[story.outcome]
        if solution == "corticosteroid":
            relief = max(relief, rng.uniform(0.45, 0.7))  # quick relief that does not last
        lost_at = None
        late = 0.0
        first_at = _utc(_weekday(first_day), _clock(rng.uniform(9, 16.5)), story.home_zone)
        if story.outcome == RESPONDER and (solution == "corticosteroid" or rng.random() < 0.32):
            low, high = (75, 200) if solution == "corticosteroid" else (200, 430)
            lost_at = first_at + timedelta(days=rng.uniform(low, high))
            late = rng.uniform(0.05, 0.35)
        courses = [CourseCurve(first_at, relief, rng.uniform(22, 48), lost_at, late)]
        count = rng.randint(*protocol.injections)
        if story.outcome == NON_RESPONDER:
            count = max(3, min(count, 4))  # no better after three: the course is stopped
        elif story.outcome == RESPONDER and protocol.code == "hauser":
            count = min(count, rng.randint(3, 4))
        given = self._course(story, rng, protocol, diagnosis, solution, 0, first_at, count)
        # A second course: relief lost, or only partial after the first.
        second_at = None
        if lost_at is not None and rng.random() < 0.6:
            second_at = lost_at + timedelta(days=rng.uniform(30, 75))
        elif story.outcome == PARTIAL and named is None and rng.random() < 0.3:
            second_at = given[-1] + timedelta(days=rng.uniform(100, 160))
        if second_at is not None and second_at < self.now - timedelta(days=3):
            second_day = _weekday(_local_day(second_at, story.home_zone))
            second_at = _utc(second_day, _clock(rng.uniform(9, 16.5)), story.home_zone)
            courses.append(CourseCurve(second_at, rng.uniform(0.4, 0.8), rng.uniform(22, 45)))
            given += self._course(
                story, rng, protocol, diagnosis, solution, 1, second_at, rng.randint(2, 3)
            )
        flares = tuple(
            (at, rng.uniform(1.0, 2.8) * (0.8 if number else 1.0))
            for number, at in enumerate(given)
        )
        story.trajectory = Trajectory(baseline, tuple(courses), flares)
        story.regions = self._regions(rng, story.injections[0].body if story.injections else {})

    def _course(
        self,
        story: PatientStory,
        rng: random.Random,
        protocol: Protocol,
        diagnosis: str,
        solution: str,
        course: int,
        first_at: datetime,
        count: int,
    ) -> list[datetime]:
        course_id = story.key("course", course)
        site = rng.choice(protocol.sites)
        laterality = rng.choice(protocol.lateralities)
        guidance = rng.choice(protocol.guidance)
        dextrose = rng.choice(protocol.dextrose)
        given: list[datetime] = []
        at = first_at
        for number in range(count):
            if number:
                day = _local_day(at, story.home_zone) + timedelta(
                    days=rng.randint(*protocol.interval_days)
                )
                at = _utc(_weekday(day), _clock(rng.uniform(9, 16.5)), story.home_zone)
            if at > self.now - SETTLE:
                break
            if story.dropped_out_at is not None and at > story.dropped_out_at:
                break
            body: dict[str, Any] = {
                "id": str(story.key("injection", course, number)),
                "performed_at": at.isoformat(),
                "site": site,
                "laterality": laterality,
                "solution": solution,
                "anaesthetic": "lidocaine" if solution == "dextrose" else "none",
                "guidance": guidance,
                "protocol": protocol.code if solution == "dextrose" else "other",
                "diagnosis": diagnosis,
                "co_treatments": list(story.co_treatments),
                "course_id": str(course_id),
            }
            if solution == "dextrose":
                body["dextrose_percent"] = dextrose
            story.injections.append(Injection(uuid.UUID(body["id"]), at, body))
            given.append(at)
        return given

    @staticmethod
    def _regions(rng: random.Random, injection: dict[str, Any]) -> tuple[str, ...]:
        side = injection.get("laterality")
        if str(injection.get("site", "")).startswith("sij"):
            sides = [side] if side in ("left", "right") else ["left", "right"]
            regions = [f"sacroiliac_{s}" for s in sides]
            if rng.random() < 0.5:
                regions += [f"buttock_{s}" for s in sides]
        else:
            regions = ["lower_back_central"]
            if rng.random() < 0.4:
                regions.append(rng.choice(["lower_back_left", "lower_back_right"]))
        if rng.random() < 0.2:
            regions.append(rng.choice(["thigh_left", "thigh_right", "hip_left", "hip_right"]))
        return tuple(sorted(set(regions)))

    # --- the diary ---------------------------------------------------------------------------

    def _diary(self, story: PatientStory, rng: random.Random) -> None:
        if not story.injections:
            return
        end = self.now - SETTLE
        if story.dropped_out_at is not None:
            end = min(end, story.dropped_out_at)
        trip = self._trip(story, rng)
        days_with_entry: set[date] = set()

        def zone_at(moment: datetime) -> str:
            if trip and trip[0] <= moment < trip[1]:
                return trip[2]
            return story.home_zone

        def add_entry(moment: datetime, answers: str = "") -> None:
            moment = moment.replace(microsecond=0)
            if moment > end:
                return
            number = len(story.items)
            zone = zone_at(moment)
            story.items.append(
                Item(
                    story.key("item", number),
                    "entry",
                    moment,
                    self.entry_body(story, rng, moment, zone),
                    answers,
                )
            )
            days_with_entry.add(_local_day(moment, story.home_zone))

        def add_questionnaire(moment: datetime, instrument: str, answers: str) -> None:
            moment = moment.replace(microsecond=0)
            if moment > end:
                return
            number = len(story.items)
            body = {
                "instrument": instrument,
                "answers": self.questionnaire_answers(story, rng, moment, instrument),
                "occurred_at": moment.isoformat(),
                "timezone": zone_at(moment),
            }
            story.items.append(
                Item(story.key("item", number), "questionnaire", moment, body, answers)
            )

        courses: dict[str, list[Injection]] = {}
        for injection in story.injections:
            courses.setdefault(injection.body["course_id"], []).append(injection)
        # Before each course: a few scores on the days before, and the evening-before baseline.
        for shots in courses.values():
            first = shots[0].performed_at
            first_day = _local_day(first, story.home_zone)
            for back in sorted(rng.sample(range(2, 15), rng.randint(2, 4)), reverse=True):
                add_entry(
                    _utc(
                        first_day - timedelta(days=back),
                        _clock(rng.uniform(19, 21.5)),
                        story.home_zone,
                    )
                )
            evening = _utc(first_day - timedelta(days=1), BASELINE_AT, story.home_zone)
            if rng.random() < story.adherence:
                moment = evening + timedelta(hours=rng.uniform(0.2, 3))
                if self._closed(moment, first):
                    add_entry(moment, "baseline")
                    add_questionnaire(moment + timedelta(minutes=4), "odi", "baseline")
        # After each injection: the flare days the app asks about (until the next injection).
        ordered = story.injections
        for number, injection in enumerate(ordered):
            day = _local_day(injection.performed_at, story.home_zone)
            following = ordered[number + 1].performed_at if number + 1 < len(ordered) else None
            if rng.random() < 0.35:
                add_entry(injection.performed_at + timedelta(hours=rng.uniform(3, 8)))
            for offset in FLARE_DAYS:
                due = _utc(day + timedelta(days=offset), FLARE_AT, story.home_zone)
                if following is not None and due >= following:
                    break
                if rng.random() < story.adherence:
                    moment = due + timedelta(hours=rng.uniform(0.1, 3.5))
                    if self._closed(moment, due + FLARE_WINDOW):
                        add_entry(moment, "flare")
        # The horizons of each course: pain, disability and the global impression of change.
        for shots in courses.values():
            first_day = _local_day(shots[0].performed_at, story.home_zone)
            for months in HORIZON_MONTHS:
                due = _utc(_add_months(first_day, months), HORIZON_AT, story.home_zone)
                if rng.random() < story.adherence:
                    moment = due + timedelta(hours=rng.uniform(1, 90))
                    if self._closed(moment, due + HORIZON_WINDOW):
                        add_entry(moment, "horizon")
                        add_questionnaire(moment + timedelta(minutes=3), "odi", "horizon")
                        add_questionnaire(moment + timedelta(minutes=5), "pgic", "horizon")
        # And whenever the patient feels like it: between the prompts at first (two to four
        # scores a week in all), less as life goes on.
        habit = rng.uniform(0.5, 1.6)
        starts = [shots[0].performed_at for shots in courses.values()]
        day = _local_day(starts[0], story.home_zone)
        while True:
            noon = _utc(day, time(12), story.home_zone)
            if noon > end:
                break
            since = (noon - max(s for s in starts if s <= noon + timedelta(days=1))).days
            per_week = habit if since < 84 else 0.4 if since < 182 else 0.15
            if day not in days_with_entry and rng.random() < per_week / 7:
                hour = rng.uniform(18, 22.5) if rng.random() < 0.6 else rng.uniform(7.5, 12)
                add_entry(_utc(day, _clock(hour), zone_at(noon)))
            day += timedelta(days=1)
        story.items.sort(key=lambda item: item.occurred_at)
        if trip and trip[0] <= self.now < trip[1]:
            story.zone_now = trip[2]

    def _closed(self, moment: datetime, closes: datetime) -> bool:
        """Whether a prompt's answer belongs to the history: its window has closed by now.
        An answer to a prompt still open is left to the phone (see the live part of the run)."""
        return moment < self.now - SETTLE and closes <= self.now

    def _trip(
        self, story: PatientStory, rng: random.Random
    ) -> tuple[datetime, datetime, str] | None:
        if rng.random() > 0.08 or not story.injections:
            return None
        begin = story.injections[0].performed_at + timedelta(days=rng.uniform(10, 400))
        if rng.random() < 0.3:
            begin = self.now - timedelta(days=rng.uniform(2, 8))  # away right now
        length = timedelta(days=rng.uniform(7, 16))
        if begin >= self.now:
            return None
        return begin, begin + length, rng.choice(TRIP_ZONES)

    def entry_body(
        self, story: PatientStory, rng: random.Random, moment: datetime, zone: str
    ) -> dict[str, Any]:
        pain = story.trajectory.pain(moment) + rng.gauss(0, 0.6)
        nrs = int(min(10, max(0, round(pain))))
        since = self._since_injection(story, moment)
        in_flare = since is not None and since < 7
        body: dict[str, Any] = {
            "occurred_at": moment.isoformat(),
            "timezone": zone,
            "nrs_now": nrs,
            "body_regions": list(story.regions),
        }
        if rng.random() < 0.6:
            body["nrs_worst_24h"] = min(10, nrs + rng.randint(0, 2))
        if rng.random() < 0.2:
            body["nrs_average_7d"] = int(min(10, max(0, round(pain + rng.gauss(0, 0.8)))))
        medications = []
        if nrs >= 5 and rng.random() < 0.5:
            name, dose = rng.choice(OTHER_MEDICATIONS)
            medications.append({"name": name, "dose": dose})
        if story.nsaid_user and rng.random() < (0.15 if in_flare else 0.1):
            name, dose = rng.choice(NSAIDS)
            medications.append({"name": name, "dose": dose})
        if medications:
            body["medications"] = medications
        side_effects = []
        if in_flare and since is not None and since < 4:
            for effect, chance in (
                ("soreness_at_site", 0.5),
                ("bruising", 0.15),
                ("stiffness", 0.2),
            ):
                if rng.random() < chance:
                    side_effects.append(effect)
            # Rare: infection or nerve signs, which must reach the clinician at once.
            if 1 <= since < 4 and rng.random() < 0.008:
                side_effects += rng.choice(RED_FLAG_SETS)
        if side_effects:
            body["side_effects"] = sorted(set(side_effects))
        if story.co_treatments and rng.random() < 0.1:
            body["co_treatments"] = [rng.choice(story.co_treatments)]
        if rng.random() < 0.03:
            body["note"] = rng.choice(NOTES)
        return body

    @staticmethod
    def _since_injection(story: PatientStory, moment: datetime) -> float | None:
        past = [i.performed_at for i in story.injections if i.performed_at <= moment]
        if not past:
            return None
        return (moment - past[-1]).total_seconds() / 86400

    def questionnaire_answers(
        self, story: PatientStory, rng: random.Random, moment: datetime, instrument: str
    ) -> list[int | None]:
        pain = story.trajectory.pain(moment)
        if instrument == "pgic":
            relief = story.trajectory.relief(moment) + rng.gauss(0, 0.08)
            for threshold, answer in ((0.7, 1), (0.5, 2), (0.3, 3), (-0.1, 4), (-0.3, 5)):
                if relief >= threshold:
                    return [answer]
            return [6]
        if instrument == "nrs":
            return [int(min(10, max(0, round(pain))))]
        # ODI: ten sections scored 0-5; disability follows pain. One may be skipped.
        percent = min(90.0, max(0.0, pain * 6.5 + rng.gauss(0, 6)))
        answers: list[int | None] = [
            int(min(5, max(0, round(percent / 20 + rng.gauss(0, 0.7))))) for _ in range(10)
        ]
        if rng.random() < 0.15:
            answers[7] = None  # the section most often left out
        return answers

    # --- the uploads -------------------------------------------------------------------------

    def _uploads(self, story: PatientStory, rng: random.Random) -> None:
        """Online, each item goes up on its own as it is made; offline, they wait on the phone
        and go up together when it next syncs, sometimes weeks late and out of order."""
        online_share = rng.choice((0.5, 0.2, 0.05, 0.02))
        uploads: list[Upload] = []
        pending: list[Item] = []
        sync_at: datetime | None = None
        for item in story.items:
            if sync_at is not None and item.occurred_at >= sync_at:
                uploads.append(self._batch(rng, pending, sync_at))
                pending, sync_at = [], None
            if rng.random() < online_share:
                uploads.append(Upload(item.occurred_at + timedelta(minutes=1), [item], True))
                continue
            pending.append(item)
            if sync_at is None:
                sync_at = item.occurred_at + timedelta(days=rng.uniform(3, 35))
        if pending:
            uploads.append(self._batch(rng, pending, sync_at or self.now))
        uploads.sort(key=lambda upload: upload.at)
        story.uploads = uploads

    def _batch(self, rng: random.Random, items: list[Item], at: datetime) -> Upload:
        if rng.random() < 0.15:
            at += timedelta(days=rng.uniform(10, 40))  # the phone was left in a drawer
        if rng.random() < 0.2:
            items = rng.sample(items, len(items))  # the phone's own order
        return Upload(min(at, self.now), list(items), False)
