"""Planning: injection events become prompt rows, and every later change re-plans only what
has not been sent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from helpers import (
    API,
    at_local,
    client,
    deactivate,
    deliver_event,
    enrol,
    inject,
    injection_data,
    local,
    log_entry,
    make_template,
    move_patient,
    offset,
    prompts_of,
    reactivate,
    sends,
    sweep,
)

from reminders.patients.models import Device, Patient
from reminders.patients.services import preference_update
from reminders.prompts.models import CancelReason, Prompt, PromptStatus
from reminders.schedules.models import ScheduleTemplate
from reminders.schedules.selectors import template_for
from reminders.schedules.services import template_deactivate, template_update
from shared.events.testing import published_envelopes

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LONDON = "Europe/London"
FLARE_DAYS = [1, 3, 7, 14, 21, 28, 42]


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def flare_template(clinic: uuid.UUID, **kwargs: object) -> ScheduleTemplate:
    return make_template(clinic, [offset(days=d, at="09:00") for d in FLARE_DAYS], **kwargs)


@pytest.mark.usefixtures("clock")
def test_the_seeded_default_plans_flare_days_and_horizons_after_an_injection() -> None:
    clinic = uuid.uuid4()
    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW)

    prompts = prompts_of(patient)
    flare = [p for p in prompts if p.kind == "flare"]
    horizon = [p for p in prompts if p.kind == "horizon"]
    assert [(p.local_date - date(2026, 6, 1)).days for p in flare] == FLARE_DAYS
    assert {p.local_time for p in flare} == {time(18, 0)}
    assert {p.instrument for p in flare} == {"nrs"}
    assert sorted({p.local_date for p in horizon}) == [
        date(2026, 9, 1),
        date(2026, 12, 1),
        date(2027, 6, 1),
        date(2027, 9, 1),
        date(2028, 6, 1),
    ]
    assert sorted({p.instrument for p in horizon}) == ["nrs", "odi", "pgic"]
    assert len(horizon) == 15
    # The baseline (the evening before) was already closed when the injection was recorded:
    # recorded as such, never to be sent.
    baseline = [p for p in prompts if p.kind == "baseline"]
    assert sorted(p.instrument for p in baseline) == ["nrs", "odi"]
    assert {(p.status, p.sent_at) for p in baseline} == {(PromptStatus.EXPIRED, None)}
    assert {p.status for p in flare + horizon} == {PromptStatus.PENDING}


@pytest.mark.usefixtures("clock")
def test_an_injection_recorded_in_advance_gets_a_baseline_that_closes_at_the_injection() -> None:
    clinic = uuid.uuid4()
    patient = enrol(clinic_id=clinic)
    injected = at_local(LONDON, 2026, 6, 4, 14, 30)
    inject(patient, clinic_id=clinic, at=injected)

    baseline = prompts_of(patient, kind="baseline")
    assert sorted(p.instrument for p in baseline) == ["nrs", "odi"]
    for prompt in baseline:
        assert local(prompt.intended_at, LONDON) == datetime(
            2026, 6, 3, 18, 0, tzinfo=local(injected, LONDON).tzinfo
        )
        assert prompt.expires_at == injected
        assert prompt.anchor_id == prompt.course_id
        assert prompt.injection_id is None


@pytest.mark.usefixtures("clock")
def test_the_most_specific_active_template_applies() -> None:
    clinic, other = uuid.uuid4(), uuid.uuid4()
    default_any = ScheduleTemplate.objects.get(clinic_id=None, protocol="", active=True)
    default_kim = make_template(None, [offset(days=2)], protocol="kim2010", name="d-kim")
    clinic_any = make_template(clinic, [offset(days=3)], name="c-any")
    clinic_kim = make_template(clinic, [offset(days=4)], protocol="kim2010", name="c-kim")

    assert template_for(clinic_id=clinic, protocol="kim2010") == clinic_kim
    assert template_for(clinic_id=clinic, protocol="hauser") == clinic_any
    assert template_for(clinic_id=other, protocol="kim2010") == default_kim
    assert template_for(clinic_id=other, protocol="") == default_any

    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW, protocol="kim2010")
    (prompt,) = prompts_of(patient)
    assert (prompt.template_id, prompt.offset_key) == (clinic_kim.id, "flare:0m4d")


@pytest.mark.usefixtures("clock")
def test_a_new_injection_in_the_course_supersedes_the_rest_of_the_earlier_flare_series() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    first, course = inject(patient, clinic_id=clinic, at=NOW)
    second_at = NOW + timedelta(days=10)
    second, _ = inject(patient, clinic_id=clinic, at=second_at, course_id=course)

    earlier = prompts_of(patient, anchor_id=first)
    kept = [p for p in earlier if p.status == PromptStatus.PENDING]
    superseded = [p for p in earlier if p.status == PromptStatus.CANCELLED]
    assert [(p.local_date - date(2026, 6, 1)).days for p in kept] == [1, 3, 7]
    assert all(p.intended_at < second_at for p in kept)
    assert {p.cancel_reason for p in superseded} == {CancelReason.SUPERSEDED}
    later = prompts_of(patient, anchor_id=second)
    assert [(p.local_date - date(2026, 6, 11)).days for p in later] == FLARE_DAYS
    assert {p.status for p in later} == {PromptStatus.PENDING}


@pytest.mark.usefixtures("clock")
def test_deleting_an_injection_cancels_its_prompts_and_restores_the_series_it_had_cut_short() -> (
    None
):
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    first, course = inject(patient, clinic_id=clinic, at=NOW)
    second, _ = inject(patient, clinic_id=clinic, at=NOW + timedelta(days=10), course_id=course)

    deliver_event(
        "diary.injection.deleted",
        {
            "injection_id": str(second),
            "patient_id": str(patient),
            "clinic_id": str(clinic),
            "course_id": str(course),
        },
    )

    assert {p.cancel_reason for p in prompts_of(patient, anchor_id=second)} == {
        CancelReason.INJECTION_DELETED
    }
    assert {p.status for p in prompts_of(patient, anchor_id=first)} == {PromptStatus.PENDING}
    assert len(prompts_of(patient, anchor_id=first)) == len(FLARE_DAYS)


@pytest.mark.usefixtures("clock")
def test_a_corrected_injection_time_moves_its_unsent_prompts() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    injection, course = inject(patient, clinic_id=clinic, at=NOW)
    corrected = NOW + timedelta(days=2)

    deliver_event(
        "diary.injection.corrected",
        {
            **injection_data(
                patient_id=patient,
                clinic_id=clinic,
                injected_at=corrected,
                course_id=course,
                injection_id=injection,
            ),
            "changed": ["injected_at"],
        },
    )

    prompts = prompts_of(patient)
    assert [(p.local_date - date(2026, 6, 3)).days for p in prompts] == FLARE_DAYS
    assert len(Prompt.objects.all()) == len(FLARE_DAYS)


def test_a_template_edit_after_some_sends_replans_the_rest_and_resends_nothing(
    clock: time_machine.Traveller,
) -> None:
    clinic = uuid.uuid4()
    template = flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW)
    # Days 1 and 3 go out.
    for day in (1, 3):
        moment = at_local(LONDON, 2026, 6, 1 + day, 9, 1)
        clock.move_to(moment)
        sweep(moment)
    assert len(sends()) == 2

    edited = template_update(
        actor_id=None,
        template=template,
        changes={
            "offsets": [offset(days=d, at="10:30") for d in [1, 3, 7, 14, 28, 56]],
        },
    )
    moment = at_local(LONDON, 2026, 6, 5, 8)
    clock.move_to(moment)
    sweep(moment)

    prompts = {(p.local_date - date(2026, 6, 1)).days: p for p in prompts_of(patient)}
    for day in (1, 3):
        # Sent (and since expired, unanswered): left exactly as they were.
        assert prompts[day].sent_at is not None
        assert prompts[day].template_version == 1
        assert prompts[day].local_time == time(9, 0)
    for day in (7, 14, 28, 56):
        assert prompts[day].status == PromptStatus.PENDING
        assert prompts[day].template_version == edited.version == 2
        assert local(prompts[day].intended_at, LONDON).time() == time(10, 30)
    assert prompts[21].status == PromptStatus.CANCELLED
    assert prompts[21].cancel_reason == CancelReason.NOT_IN_SCHEDULE
    assert prompts[42].status == PromptStatus.CANCELLED

    # Run the schedule to its end: each remaining prompt once, nothing sent twice.
    for day in (7, 14, 28, 56):
        moment = at_local(LONDON, 2026, 6, 1, 10, 31) + timedelta(days=day)
        clock.move_to(moment)
        sweep(moment)
        sweep(moment + timedelta(minutes=1))
    recorded = sends()
    assert len(recorded) == 6
    assert len({r.prompt_id for r in recorded}) == 6


def test_travel_to_another_time_zone_replans_future_prompts_at_local_time_there(
    clock: time_machine.Traveller,
) -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW)
    day_one = at_local(LONDON, 2026, 6, 2, 9, 1)
    clock.move_to(day_one)
    sweep(day_one)

    move_patient(patient, clinic_id=clinic, tz="America/New_York")

    prompts = prompts_of(patient)
    assert prompts[0].status == PromptStatus.SENT
    assert local(prompts[0].intended_at, LONDON).time() == time(9, 0)
    for prompt in prompts[1:]:
        assert prompt.timezone == "America/New_York"
        assert local(prompt.intended_at, "America/New_York").time() == time(9, 0)
        # Day N still counts from the day of the injection where it was given.
        assert prompt.local_date - date(2026, 6, 1) in {timedelta(days=d) for d in FLARE_DAYS}
    assert len(sends()) == 1


@pytest.mark.usefixtures("clock")
def test_an_injection_before_the_patients_enrolment_is_planned_when_the_enrolment_arrives() -> None:
    clinic, patient = uuid.uuid4(), uuid.uuid4()
    flare_template(clinic)
    inject(patient, clinic_id=clinic, at=NOW)
    assert prompts_of(patient) == []

    enrol(clinic_id=clinic, patient_id=patient, tz="Australia/Lord_Howe")

    prompts = prompts_of(patient)
    assert len(prompts) == len(FLARE_DAYS)
    assert {local(p.intended_at, "Australia/Lord_Howe").time() for p in prompts} == {time(9, 0)}


@pytest.mark.usefixtures("clock")
def test_an_erased_patient_loses_future_prompts_devices_and_contacts() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    preference_update(
        patient_id=patient, clinic_id=clinic, changes={"email": "someone@example.org"}
    )
    inject(patient, clinic_id=clinic, at=NOW)

    deliver_event("identity.patient.erased", {"patient_id": str(patient), "clinic_id": str(clinic)})

    assert {p.cancel_reason for p in prompts_of(patient)} == {CancelReason.PATIENT_ERASED}
    assert not Device.objects.filter(patient_id=patient).exists()
    assert Patient.objects.get(id=patient).active is False
    # A late injection event plans nothing for an erased patient.
    inject(patient, clinic_id=clinic, at=NOW + timedelta(days=1))
    assert not Prompt.objects.filter(patient_id=patient, status=PromptStatus.PENDING).exists()


def test_a_deactivated_patient_is_sent_nothing_more_not_even_nudges() -> None:
    clinic = uuid.uuid4()
    make_template(
        clinic, [offset(days=d, at="09:00", nudge_after=2, nudge_max=2) for d in FLARE_DAYS]
    )
    patient = enrol(clinic_id=clinic)
    with time_machine.travel(NOW, tick=False):
        inject(patient, clinic_id=clinic, at=NOW)
    first = prompts_of(patient)[0]
    sweep(first.due_at)
    assert len(sends()) == 1

    with time_machine.travel(first.due_at + timedelta(minutes=5), tick=False):
        deactivate(patient, clinic_id=clinic, at=first.due_at + timedelta(minutes=5))

    first.refresh_from_db()
    assert (first.status, first.next_nudge_at) == (PromptStatus.SENT, None)
    unsent = prompts_of(patient, status=PromptStatus.CANCELLED)
    assert len(unsent) == len(FLARE_DAYS) - 1
    assert {p.cancel_reason for p in unsent} == {CancelReason.PATIENT_DEACTIVATED}
    for day in range(0, 50):
        sweep(first.due_at + timedelta(days=day, hours=3))
    assert len(sends()) == 1
    # Deactivation is not erasure: the patient's devices and data stay.
    assert Device.objects.filter(patient_id=patient).exists()
    assert Patient.objects.get(id=patient).deactivated_at is not None


@pytest.mark.usefixtures("clock")
def test_no_later_event_brings_a_deactivated_patient_back_to_prompting() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW)

    deactivate(patient, clinic_id=clinic, at=NOW)
    # Events that arrive after it, in any order: a journey, a repeated enrolment, an injection.
    move_patient(patient, clinic_id=clinic, tz="America/New_York")
    enrol(clinic_id=clinic, patient_id=patient, with_device=False)
    inject(patient, clinic_id=clinic, at=NOW + timedelta(days=2))

    assert Patient.objects.get(id=patient).active is False
    assert not prompts_of(patient, status=PromptStatus.PENDING)
    assert {p.cancel_reason for p in prompts_of(patient)} == {CancelReason.PATIENT_DEACTIVATED}


@pytest.mark.usefixtures("clock")
def test_deactivation_that_arrives_before_the_enrolment_still_holds() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = uuid.uuid4()

    deactivate(patient, clinic_id=clinic, at=NOW)
    enrol(clinic_id=clinic, patient_id=patient)
    inject(patient, clinic_id=clinic, at=NOW)

    assert Patient.objects.get(id=patient).active is False
    assert prompts_of(patient) == []


def test_reactivation_brings_back_the_prompts_ahead_but_not_those_missed_meanwhile() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    with time_machine.travel(NOW, tick=False):
        inject(patient, clinic_id=clinic, at=NOW)
        deactivate(patient, clinic_id=clinic, at=NOW + timedelta(hours=1))
    back = NOW + timedelta(days=10)  # days 1, 3 and 7 were due (and closed) meanwhile

    with time_machine.travel(back, tick=False):
        reactivate(patient, clinic_id=clinic, at=back)

    by_day = {
        (p.intended_at.date() - NOW.date()).days: (p.status, p.cancel_reason)
        for p in prompts_of(patient)
    }
    missed = (PromptStatus.CANCELLED, CancelReason.PATIENT_DEACTIVATED)
    assert by_day == {
        1: missed,
        3: missed,
        7: missed,
        **{day: (PromptStatus.PENDING, "") for day in (14, 21, 28, 42)},
    }
    assert Patient.objects.get(id=patient).active is True
    # They are sent when due, and only they: nothing of the days the patient was away.
    for day in range(10, 50):
        sweep(NOW + timedelta(days=day, hours=3))
    intended = {p.id: p.intended_at for p in prompts_of(patient)}
    sent_days = [(intended[s.prompt_id].date() - NOW.date()).days for s in sends()]
    assert sent_days == [14, 21, 28, 42]


@pytest.mark.usefixtures("clock")
def test_deactivations_and_reactivations_in_any_order_end_as_the_latest_says() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW)
    deactivated, reactivated = NOW - timedelta(hours=2), NOW - timedelta(hours=1)

    # The reactivation overtakes the deactivation it undoes, then both are delivered again.
    reactivate(patient, clinic_id=clinic, at=reactivated)
    deactivate(patient, clinic_id=clinic, at=deactivated)
    reactivate(patient, clinic_id=clinic, at=reactivated)
    deactivate(patient, clinic_id=clinic, at=deactivated)

    assert Patient.objects.get(id=patient).active is True
    assert len(prompts_of(patient, status=PromptStatus.PENDING)) == len(FLARE_DAYS)

    # A later deactivation stands, and the reactivation before it no longer undoes it.
    deactivate(patient, clinic_id=clinic, at=NOW)
    reactivate(patient, clinic_id=clinic, at=reactivated)

    assert Patient.objects.get(id=patient).active is False
    assert prompts_of(patient, status=PromptStatus.PENDING) == []


@pytest.mark.usefixtures("clock")
def test_pausing_cancels_the_prompts_in_the_pause_and_ending_it_brings_back_those_ahead() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW)

    preference_update(
        patient_id=patient, clinic_id=clinic, changes={"pause_until": NOW + timedelta(days=10)}
    )
    paused = prompts_of(patient, status=PromptStatus.CANCELLED)
    assert [(p.local_date - date(2026, 6, 1)).days for p in paused] == [1, 3, 7]
    assert {p.cancel_reason for p in paused} == {CancelReason.PAUSED}

    preference_update(patient_id=patient, clinic_id=clinic, changes={"pause_until": None})
    assert {p.status for p in prompts_of(patient)} == {PromptStatus.PENDING}


@pytest.mark.usefixtures("clock")
def test_a_preferred_time_of_day_moves_every_unsent_prompt() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic, quiet=("22:00", "07:00"))
    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW)

    preference_update(
        patient_id=patient, clinic_id=clinic, changes={"preferred_time": time(23, 15)}
    )

    prompts = prompts_of(patient)
    # 23:15 is inside the template's quiet hours: the next morning at 07:00 instead.
    assert {local(p.intended_at, LONDON).time() for p in prompts} == {time(7, 0)}
    assert [(p.local_date - date(2026, 6, 1)).days for p in prompts] == [d + 1 for d in FLARE_DAYS]


@pytest.mark.usefixtures("clock")
def test_deactivating_a_clinic_template_falls_back_to_the_default_for_unsent_prompts() -> None:
    clinic = uuid.uuid4()
    template = flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW)

    template_deactivate(actor_id=None, template=template)
    sweep(NOW)

    live = prompts_of(patient, status=PromptStatus.PENDING)
    default = ScheduleTemplate.objects.get(clinic_id=None, protocol="", active=True)
    assert {p.template_id for p in live} == {default.id}
    assert {local(p.intended_at, LONDON).time() for p in live if p.kind == "flare"} == {time(18, 0)}


# --- History: injections recorded after the fact ------------------------------------------------


def test_an_injection_recorded_weeks_late_records_its_closed_prompts_and_sends_only_the_rest(
    clock: time_machine.Traveller,
) -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    given = NOW - timedelta(days=20)
    inject(patient, clinic_id=clinic, at=given)

    by_day = {(p.local_date - given.date()).days: p for p in prompts_of(patient)}
    assert sorted(by_day) == FLARE_DAYS
    for day in (1, 3, 7, 14):
        assert by_day[day].status == PromptStatus.EXPIRED
        assert by_day[day].sent_at is None
        assert by_day[day].expired_at == by_day[day].expires_at
    for day in (21, 28, 42):
        assert by_day[day].status == PromptStatus.PENDING

    # Nothing of the past goes out, and closing it told nobody (the patient was never asked).
    sweep(NOW)
    assert sends() == []
    assert published_envelopes("reminders.prompt.expired") == []
    day_21 = by_day[21].intended_at + timedelta(minutes=1)
    clock.move_to(day_21)
    sweep(day_21)
    assert [s.prompt_id for s in sends()] == [by_day[21].id]


@pytest.mark.usefixtures("clock")
def test_an_entry_made_inside_the_window_of_a_prompt_planned_late_answers_it() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    given = NOW - timedelta(days=20)
    inject(patient, clinic_id=clinic, at=given)
    day_3 = next(p for p in prompts_of(patient) if (p.local_date - given.date()).days == 3)

    # Logged on day 3, on a phone that was offline until today.
    entry = log_entry(patient, clinic_id=clinic, at=day_3.intended_at + timedelta(hours=2))

    day_3.refresh_from_db()
    assert (day_3.status, day_3.answer_id, day_3.sent_at) == (PromptStatus.ANSWERED, entry, None)
    (answered,) = published_envelopes("reminders.prompt.answered")
    assert answered["data"]["prompt_id"] == str(day_3.id)
    # No sent event will say when it was due: this one does.
    assert answered["data"]["due_at"] == day_3.intended_at.isoformat().replace("+00:00", "Z")
    adherence = client(roles=("clinician",), clinic_id=clinic).get(
        f"{API}patients/{patient}/adherence/"
    )
    assert adherence.status_code == 200, adherence.content
    # Answered without a send counts as asked and answered; the unanswered past counts as neither.
    assert (adherence.json()["prompts_sent"], adherence.json()["prompts_answered"]) == (1, 1)


@pytest.mark.usefixtures("clock")
def test_a_later_injection_recorded_late_cancels_the_closed_prompts_it_supersedes() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    first_at = NOW - timedelta(days=60)
    first, course = inject(patient, clinic_id=clinic, at=first_at)
    inject(patient, clinic_id=clinic, at=first_at + timedelta(days=10), course_id=course)

    earlier = {
        (p.local_date - first_at.date()).days: p for p in prompts_of(patient, anchor_id=first)
    }
    assert {d: earlier[d].status for d in (1, 3, 7)} == dict.fromkeys(
        (1, 3, 7), PromptStatus.EXPIRED
    )
    for day in (14, 21, 28, 42):
        assert earlier[day].status == PromptStatus.CANCELLED
        assert earlier[day].cancel_reason == CancelReason.SUPERSEDED
    # An entry on the first injection's day 14 (the second's day 4, which has no prompt) answers
    # nothing: the superseded prompt does not take it.
    log_entry(patient, clinic_id=clinic, at=earlier[14].intended_at + timedelta(hours=1))
    earlier[14].refresh_from_db()
    assert earlier[14].status == PromptStatus.CANCELLED


@pytest.mark.usefixtures("clock")
def test_a_correction_that_moves_a_late_injection_forward_reopens_its_prompts_once() -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    injection, course = inject(patient, clinic_id=clinic, at=NOW - timedelta(days=10))
    assert {p.status for p in prompts_of(patient)[:3]} == {PromptStatus.EXPIRED}

    corrected = NOW - timedelta(hours=2)
    deliver_event(
        "diary.injection.corrected",
        {
            **injection_data(
                patient_id=patient,
                clinic_id=clinic,
                injected_at=corrected,
                course_id=course,
                injection_id=injection,
            ),
            "changed": ["injected_at"],
        },
    )

    prompts = prompts_of(patient)
    assert len(prompts) == len(FLARE_DAYS)
    assert [(p.local_date - corrected.date()).days for p in prompts] == FLARE_DAYS
    assert {(p.status, p.expired_at) for p in prompts} == {(PromptStatus.PENDING, None)}


def test_a_journey_leaves_the_closed_past_as_it_was(clock: time_machine.Traveller) -> None:
    clinic = uuid.uuid4()
    flare_template(clinic)
    patient = enrol(clinic_id=clinic)
    inject(patient, clinic_id=clinic, at=NOW - timedelta(days=20))
    closed_before = [
        (p.id, p.intended_at, p.timezone) for p in prompts_of(patient, status=PromptStatus.EXPIRED)
    ]

    move_patient(patient, clinic_id=clinic, tz="America/New_York")

    closed_after = [
        (p.id, p.intended_at, p.timezone) for p in prompts_of(patient, status=PromptStatus.EXPIRED)
    ]
    assert closed_after == closed_before
    assert {p.timezone for p in prompts_of(patient, status=PromptStatus.PENDING)} == {
        "America/New_York"
    }
