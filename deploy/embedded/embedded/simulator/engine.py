"""The run: clinicians and phones act out the story through the public APIs.

1. Each clinic's clinician signs in and invites the patients the clinic does not have yet; each
   patient accepts on their phone (password, time zone) and is signed in.
2. Patient by patient (several at once): the clinician records the injections the diary does
   not have yet; then the phone uploads its diary: online items one by one, offline ones in sync
   batches of up to 500, some weeks late and out of order. Items already stored are skipped
   (the phone asks the diary what it has first), and one sent twice is a harmless duplicate.
3. Once reminders has planned the prompts, each phone opens the app: a traveller's phone tells
   identity its new time zone, and the prompts open now are answered (most of them).
4. The run waits until outcomes' read model shows every patient's injections and latest score:
   then the dashboard is full.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from embedded.simulator.http import Actor, ApiError, Stats
from embedded.simulator.story import (
    DEFAULT_SEED,
    NON_RESPONDER,
    PARTIAL,
    RESPONDER,
    ClinicPlan,
    Item,
    PatientStory,
    StoryTeller,
    clinic_plans,
)

SYNC_MAX_ITEMS = 500  # diary's limit per sync request
LOCALE = "en-GB"
# How long a clinician's app keeps trying a patient the diary has not heard of yet (identity's
# enrolment event is on its way through the broker).
ENROLMENT_WAIT_SECONDS = 120.0
Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServiceUrls:
    """Where each service answers, e.g. ``http://127.0.0.1:8001`` for identity."""

    identity: str
    diary: str
    reminders: str
    outcomes: str

    def api(self, service: str) -> str:
        base = str(getattr(self, service)).rstrip("/")
        return f"{base}/api/{service}/v1/"


@dataclass
class SimulationSummary:
    clinics: list[str] = field(default_factory=list)
    patients: int = 0
    patients_new: int = 0
    injections: int = 0
    injections_new: int = 0
    entries: int = 0
    entries_new: int = 0
    questionnaires: int = 0
    questionnaires_new: int = 0
    items_online: int = 0
    items_offline: int = 0
    sync_requests: int = 0
    prompt_answers_in_history: int = 0
    prompts_open_seen: int = 0
    prompts_answered_live: int = 0
    prompts_answered_live_new: int = 0
    timezone_changes: int = 0
    outcome_counts: dict[str, int] = field(default_factory=dict)
    dropouts: int = 0
    prompts_answered: int | None = None
    prompts_asked: int | None = None
    outcomes_patients: int | None = None
    outcomes_ready: bool = False
    requests: int = 0
    throttled: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def added(self) -> int:
        """How many things this run added (0 on a repeat against the same data)."""
        return (
            self.patients_new
            + self.injections_new
            + self.entries_new
            + self.questionnaires_new
            + self.prompts_answered_live_new
        )

    def lines(self) -> list[str]:
        outcomes = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in self.outcome_counts.items())
        lines = [
            f"clinics: {', '.join(self.clinics)}",
            f"patients: {self.patients} ({self.patients_new} new; {outcomes}; "
            f"{self.dropouts} stopped logging)",
            f"injections: {self.injections} ({self.injections_new} new)",
            f"diary entries: {self.entries} ({self.entries_new} new), questionnaires: "
            f"{self.questionnaires} ({self.questionnaires_new} new); "
            f"{self.items_online} sent online, {self.items_offline} in "
            f"{self.sync_requests} offline syncs",
            f"prompts: {self.prompt_answers_in_history} answered in the history, "
            f"{self.prompts_answered_live} of {self.prompts_open_seen} open now answered "
            f"({self.prompts_answered_live_new} new)",
        ]
        if self.prompts_answered is not None:
            lines.append(
                f"reminders' adherence: {self.prompts_answered} answered of "
                f"{self.prompts_asked} asked"
            )
        if self.outcomes_patients is not None:
            state = "up to date" if self.outcomes_ready else "still catching up"
            lines.append(f"outcomes' read model: {self.outcomes_patients} patients, {state}")
        lines.append(
            f"{self.requests} requests ({self.throttled} throttled) in {self.seconds:.0f}s"
        )
        return lines


class SimulationFailed(RuntimeError):
    def __init__(self, summary: SimulationSummary) -> None:
        self.summary = summary
        shown = "; ".join(summary.errors[:5])
        super().__init__(f"{len(summary.errors)} problem(s): {shown}")


@dataclass
class _Patient:
    story: PatientStory
    phone: Actor
    id: str = ""
    # The latest pain score the phone sent, its history's or a live answer's.
    latest_score: datetime | None = None


class _Counter:
    """Thread-safe counts into the summary, with progress lines now and then."""

    def __init__(self, summary: SimulationSummary, progress: Progress) -> None:
        self.summary = summary
        self.progress = progress
        self._lock = threading.Lock()
        self._last = 0.0

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self.summary, name, getattr(self.summary, name) + value)

    def error(self, message: str) -> None:
        with self._lock:
            self.summary.errors.append(message)
        self.progress(f"problem: {message}")

    def tick(self, message: Callable[[], str], *, every: float = 5.0) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < every:
                return
            self._last = now
        self.progress(message())


class Simulation:
    def __init__(
        self,
        urls: ServiceUrls,
        *,
        plans: tuple[ClinicPlan, ...],
        teller: StoryTeller,
        password: str,
        progress: Progress,
        workers: int,
        wait_seconds: float,
    ) -> None:
        self.urls = urls
        self.identity = urls.api("identity")
        self.diary = urls.api("diary")
        self.reminders = urls.api("reminders")
        self.outcomes = urls.api("outcomes")
        self.plans = plans
        self.teller = teller
        self.password = password
        self.progress = progress
        self.workers = workers
        self.wait_seconds = wait_seconds
        self.stats = Stats()
        self.summary = SimulationSummary()
        self.count = _Counter(self.summary, progress)
        self._local = threading.local()

    # --- actors --------------------------------------------------------------------------------

    def _actor(self, email: str) -> Actor:
        return Actor(self.identity, email=email, password=self.password, stats=self.stats)

    def clinician(self, plan: ClinicPlan) -> Actor:
        """This thread's clinician of the clinic: one sign-in per thread, as one per browser tab
        (refresh tokens rotate, so two threads must not share one)."""
        actors: dict[str, Actor] = self._local.__dict__.setdefault("clinicians", {})
        if plan.key not in actors:
            actor = self._actor(plan.clinician_email)
            actor.sign_in()
            actors[plan.key] = actor
        return actors[plan.key]

    def _parallel(self, work: Callable[[Any], None], items: Iterable[Any]) -> None:
        def guarded(item: Any) -> None:
            try:
                work(item)
            except Exception as exc:  # one patient's failure must not stop the clinic
                who = getattr(getattr(item, "story", item), "email", "")
                self.count.error(f"{who}: {exc}")

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sim") as pool:
            list(pool.map(guarded, items))

    # --- the run -------------------------------------------------------------------------------

    def run(self) -> SimulationSummary:
        started = time.monotonic()
        clinics: list[tuple[ClinicPlan, list[PatientStory]]] = []
        for plan in self.plans:
            try:
                self.clinician(plan)
            except ApiError as exc:
                if plan is self.plans[0]:
                    raise
                self.progress(
                    f"{plan.name}: {plan.clinician_email} cannot sign in ({exc}); skipped"
                )
                continue
            clinics.append((plan, self.teller.clinic(plan)))
            self.summary.clinics.append(plan.name)
        everyone: list[tuple[ClinicPlan, _Patient]] = []
        for plan, stories in clinics:
            everyone += [(plan, p) for p in self.enrol(plan, stories)]
        self.summarise_stories([p.story for _, p in everyone])
        total = sum(len(p.story.uploads) for _, p in everyone)
        self.progress(
            f"recording {self.summary.injections} injections and uploading "
            f"{self.summary.entries + self.summary.questionnaires} diary items ({total} uploads)"
        )
        self._parallel(self.record, everyone)
        self.progress(
            f"diary: {self.summary.injections_new} injections, {self.summary.entries_new} "
            f"entries and {self.summary.questionnaires_new} questionnaires added"
        )
        self.wait_for_reminders(everyone)
        self._parallel(self.open_app, [item for item in everyone if item[1].story.active])
        self.progress(
            f"phones: {self.summary.prompts_answered_live} of {self.summary.prompts_open_seen} "
            f"open prompts answered, {self.summary.timezone_changes} time zone changes"
        )
        self.wait_for_outcomes(everyone)
        self.adherence(clinics)
        self.summary.requests = self.stats.requests
        self.summary.throttled = self.stats.throttled
        self.summary.seconds = time.monotonic() - started
        return self.summary

    def summarise_stories(self, stories: list[PatientStory]) -> None:
        summary = self.summary
        summary.patients = len(stories)
        summary.outcome_counts = {
            kind: sum(1 for s in stories if s.outcome == kind)
            for kind in (RESPONDER, PARTIAL, NON_RESPONDER)
        }
        summary.dropouts = sum(1 for s in stories if not s.active)
        summary.injections = sum(len(s.injections) for s in stories)
        items = [item for s in stories for item in s.items]
        summary.entries = sum(1 for i in items if i.kind == "entry")
        summary.questionnaires = sum(1 for i in items if i.kind == "questionnaire")
        summary.prompt_answers_in_history = sum(1 for i in items if i.answers)
        for story in stories:
            for upload in story.uploads:
                if upload.online:
                    summary.items_online += 1
                else:
                    summary.items_offline += len(upload.items)

    # --- 1. enrolment --------------------------------------------------------------------------

    def enrol(self, plan: ClinicPlan, stories: list[PatientStory]) -> list[_Patient]:
        clinician = self.clinician(plan)
        known = {row["email"]: row["id"] for row in clinician.get_all(f"{self.identity}patients/")}
        patients = [_Patient(story, self._actor(story.email)) for story in stories]
        fresh = sum(1 for p in patients if p.story.email not in known)
        self.progress(
            f"{plan.name}: {len(patients)} patients ({len(patients) - fresh} enrolled already, "
            f"{fresh} to invite)"
        )

        def enrol_one(patient: _Patient) -> None:
            story = patient.story
            if story.email in known:
                patient.id = known[story.email]
                patient.phone.sign_in()
                return
            invitation = self.clinician(plan).post(
                f"{self.identity}invitations/",
                {
                    "email": story.email,
                    "full_name": story.full_name,
                    "sex": story.sex,
                    "birth_year": story.birth_year,
                },
            )
            pair = patient.phone.call(
                "POST",
                f"{self.identity}invitations/accept/",
                json={
                    "code": invitation["code"],
                    "password": self.password,
                    "timezone": story.home_zone,
                    "locale": LOCALE,
                },
                auth=False,
            )
            patient.phone.adopt(pair)
            patient.id = patient.phone.get(f"{self.identity}me/")["id"]
            self.count.add(patients_new=1)
            self.count.tick(
                lambda: f"identity: {self.summary.patients_new} patients enrolled so far"
            )

        self._parallel(enrol_one, patients)
        return [p for p in patients if p.id]

    # --- 2. history ----------------------------------------------------------------------------

    def record(self, item: tuple[ClinicPlan, _Patient]) -> None:
        plan, patient = item
        self.record_injections(plan, patient)
        self.upload_diary(patient)
        self.count.tick(
            lambda: (
                f"diary: {self.summary.injections_new} injections, "
                f"{self.summary.entries_new} entries, {self.summary.questionnaires_new} "
                "questionnaires added so far"
            )
        )

    def record_injections(self, plan: ClinicPlan, patient: _Patient) -> None:
        if not patient.story.injections:
            return
        url = f"{self.diary}patients/{patient.id}/injections/"
        deadline = time.monotonic() + ENROLMENT_WAIT_SECONDS
        while True:
            status, _ = self.clinician(plan).exchange(
                "GET", url, params={"page_size": 1}, expect=(404,)
            )
            if status == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the diary never heard of this patient's enrolment")
            time.sleep(1.0)  # identity's enrolment event has not reached the diary yet
        stored = {row["id"] for row in self.clinician(plan).get_all(url)}
        for injection in patient.story.injections:
            if str(injection.id) in stored:
                continue
            if self.clinician(plan).create(url, injection.body) == 201:
                self.count.add(injections_new=1)

    def upload_diary(self, patient: _Patient) -> None:
        phone = patient.phone
        stored = {row["id"] for row in phone.get_all(f"{self.diary}entries/")}
        stored |= {row["id"] for row in phone.get_all(f"{self.diary}questionnaires/")}
        for upload in patient.story.uploads:
            items = [item for item in upload.items if str(item.id) not in stored]
            if not items:
                continue
            if upload.online:
                (item,) = items
                path = "entries/" if item.kind == "entry" else "questionnaires/"
                if phone.create(f"{self.diary}{path}", {"id": str(item.id), **item.body}) == 201:
                    self._created(item)
                continue
            for start in range(0, len(items), SYNC_MAX_ITEMS):
                chunk = items[start : start + SYNC_MAX_ITEMS]
                answer = phone.post(
                    f"{self.diary}sync/",
                    {"items": [{"kind": i.kind, "id": str(i.id), **i.body} for i in chunk]},
                )
                self.count.add(sync_requests=1)
                for item, result in zip(chunk, answer["results"], strict=True):
                    if result["status"] == "created":
                        self._created(item)
                    elif result["status"] in ("invalid", "conflict"):
                        self.count.error(
                            f"{patient.story.email}: {item.kind} {result['status']} "
                            f"{result['errors']}"
                        )

    def _created(self, item: Item) -> None:
        if item.kind == "entry":
            self.count.add(entries_new=1)
        else:
            self.count.add(questionnaires_new=1)

    # --- 3. the phones open the app now --------------------------------------------------------

    def wait_for_reminders(self, everyone: list[tuple[ClinicPlan, _Patient]]) -> None:
        """Until reminders has planned the last injection recorded in each clinic (its events
        come in order, so everything before it is planned too)."""
        lasts: dict[str, tuple[ClinicPlan, _Patient]] = {}
        for plan, patient in everyone:
            if patient.story.injections:
                current = lasts.get(plan.key)
                if current is None or _last_shot(patient) > _last_shot(current[1]):
                    lasts[plan.key] = (plan, patient)
        self.progress("waiting for reminders to plan the prompts ...")
        for plan, patient in lasts.values():
            wanted = {str(i.id) for i in patient.story.injections}
            url = f"{self.reminders}patients/{patient.id}/prompts/"

            def planned(plan: ClinicPlan = plan, url: str = url, wanted: set[str] = wanted) -> bool:
                rows = self.clinician(plan).get_all(url)
                return wanted <= {row.get("injection_id") for row in rows}

            if not _wait(planned, self.wait_seconds):
                self.count.error(f"reminders did not plan {plan.name}'s prompts in time")

    def open_app(self, item: tuple[ClinicPlan, _Patient]) -> None:
        _, patient = item
        story, phone = patient.story, patient.phone
        if story.zone_now != story.home_zone:
            me = phone.get(f"{self.identity}me/")
            if me["timezone"] != story.zone_now:
                phone.call("PATCH", f"{self.identity}me/", json={"timezone": story.zone_now})
                self.count.add(timezone_changes=1)
        for prompt in phone.get(f"{self.reminders}prompts/open/"):
            self.count.add(prompts_open_seen=1)
            if not _chance(self.teller.seed, prompt["id"], story.adherence):
                continue  # not this one: it will be nudged, then expire
            self.answer(patient, prompt)

    def answer(self, patient: _Patient, prompt: dict[str, Any]) -> None:
        story, phone = patient.story, patient.phone
        if prompt["status"] == "sent":
            phone.post(f"{self.reminders}prompts/{prompt['id']}/receipts/", {"event": "opened"})
        due = datetime.fromisoformat(prompt["due_at"])
        moment = max(due, self.teller.now) + timedelta(minutes=1)
        moment = min(moment, datetime.now(UTC) - timedelta(seconds=5))
        answer_id = uuid.uuid5(uuid.UUID(prompt["id"]), f"answer/{self.teller.seed}")
        zone = story.zone_now
        rng = self.teller.rng(prompt["id"])
        if prompt["instrument"] == "nrs":
            body = self.teller.entry_body(story, rng, moment, zone)
            path = "entries/"
            patient.latest_score = max(patient.latest_score or moment, moment)
        else:
            body = {
                "instrument": prompt["instrument"],
                "answers": self.teller.questionnaire_answers(
                    story, rng, moment, prompt["instrument"]
                ),
                "occurred_at": moment.isoformat(),
                "timezone": zone,
            }
            path = "questionnaires/"
        body.update({"id": str(answer_id), "prompt_id": prompt["id"]})
        # 409: answered by this run before, at another moment (a run that stopped halfway).
        status = phone.create(f"{self.diary}{path}", body, expect=(409,))
        self.count.add(prompts_answered_live=1)
        if status == 201:
            self.count.add(prompts_answered_live_new=1)

    # --- 4. outcomes ---------------------------------------------------------------------------

    def wait_for_outcomes(self, everyone: list[tuple[ClinicPlan, _Patient]]) -> None:
        """Until outcomes' read model shows, for every patient, the injections recorded and the
        latest pain score logged (events arrive in order per patient)."""
        expected: dict[str, dict[str, tuple[int, datetime | None]]] = {}
        for plan, patient in everyone:
            scores = [i.occurred_at for i in patient.story.items if i.kind == "entry"]
            if patient.latest_score is not None:
                scores.append(patient.latest_score)
            expected.setdefault(plan.key, {})[patient.id] = (
                len(patient.story.injections),
                max(scores) if scores else None,
            )
        plans = {plan.key: plan for plan, _ in everyone}
        self.progress("waiting for outcomes to take in the events ...")
        state = {"behind": -1, "seen": 0}

        def caught_up() -> bool:
            behind, seen = 0, 0
            for key, patients in expected.items():
                rows = self.clinician(plans[key]).get_all(f"{self.outcomes}patients/")
                by_id = {row["patient_id"]: row for row in rows}
                seen += len(rows)
                for patient_id, (shots, latest) in patients.items():
                    behind += _behind(by_id.get(patient_id), shots, latest)
            if behind != state["behind"]:
                total = sum(len(patients) for patients in expected.values())
                self.progress(f"outcomes: {total - behind} of {total} patients' data taken in")
            state.update(behind=behind, seen=seen)
            return behind == 0

        self.summary.outcomes_ready = _wait(caught_up, self.wait_seconds, every=3.0)
        self.summary.outcomes_patients = state["seen"]
        if not self.summary.outcomes_ready:
            self.count.error("outcomes did not take in every event in time")

    def adherence(self, clinics: list[tuple[ClinicPlan, list[PatientStory]]]) -> None:
        answered = asked = 0
        for plan, _ in clinics:
            for row in self.clinician(plan).get_all(f"{self.reminders}patients/adherence/"):
                answered += row["prompts_answered"]
                asked += row["prompts_sent"]
        self.summary.prompts_answered = answered
        self.summary.prompts_asked = asked


def _behind(row: dict[str, Any] | None, shots: int, latest: datetime | None) -> bool:
    """Whether outcomes' row of a patient lacks injections or the latest score sent."""
    if row is None or row["injections"] < shots:
        return True
    if latest is None:
        return False
    seen = row["latest_nrs_at"]
    return seen is None or datetime.fromisoformat(seen) < latest - timedelta(seconds=1)


def _last_shot(patient: _Patient) -> datetime:
    return max(i.performed_at for i in patient.story.injections)


def _wait(condition: Callable[[], bool], seconds: float, every: float = 2.0) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


def _chance(seed: int, key: str, probability: float) -> bool:
    digest = hashlib.sha256(f"{seed}/{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < probability


def simulate(
    urls: ServiceUrls,
    *,
    patients: int = 200,
    months: int = 18,
    seed: int = DEFAULT_SEED,
    clinician_email: str = "clinician@demo.example",
    password: str = "recovery-demo-2026",  # noqa: S107 - the published demo password
    now: datetime | None = None,
    progress: Progress | None = None,
    second_clinic_patients: int | None = None,
    workers: int = 4,
    wait_seconds: float = 900.0,
) -> SimulationSummary:
    """Act out ``months`` of the demo clinics through the public APIs and return what was done.

    ``patients`` is the Demo Spine Clinic's size (its five seeded patients among them); the
    Riverside Pain Clinic gets ``second_clinic_patients`` (a tenth of ``patients`` unless given;
    0 leaves it out). The same ``seed`` and ``now`` tell the same story: a second run against the
    same services adds nothing (only prompts that have come due since get answered). Raises
    ``SimulationFailed`` (with the summary) if anything could not be done; running it again
    carries on where it stopped.
    """
    if patients < 1 or months < 1:
        raise ValueError("patients and months must be at least 1")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    second = patients // 10 if second_clinic_patients is None else second_clinic_patients
    simulation = Simulation(
        urls,
        plans=clinic_plans(
            patients=patients, second_clinic_patients=second, clinician_email=clinician_email
        ),
        teller=StoryTeller(seed=seed, months=months, now=now),
        password=password,
        progress=progress or (lambda message: None),
        workers=workers,
        wait_seconds=wait_seconds,
    )
    summary = simulation.run()
    if summary.errors:
        raise SimulationFailed(summary)
    return summary
