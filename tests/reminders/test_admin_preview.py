"""The preview panel of the template form in the Django admin: the prompt timeline for a sample
injection and time zone, as planning will plan it, for saved and unsaved templates alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from helpers import clinic_admin_client, enrol, inject, make_template, offset

from reminders.prompts.models import Prompt
from reminders.schedules.models import ScheduleTemplate
from reminders.schedules.preview import clock_changes
from reminders.schedules.timing import zone

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/reminders/schedules/scheduletemplate/"
ADD_PREVIEW = CHANGELIST + "preview/"
# Today, for the default sample: the next last Sunday of March is 29 March 2026.
TODAY = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def today() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser(str(uuid.uuid4()), "admin@example.org"))
    return client


VOID_ELEMENTS = {"input", "br", "img", "meta", "link", "hr", "col", "source", "option"}


class Page(HTMLParser):
    """The preview's rows as a user sees them: attributes and text of each table row, and the
    text of the elements that carry an id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.ids: dict[str, str] = {}
        self._row: dict[str, Any] | None = None
        self._open_ids: list[tuple[str, int]] = []
        self._depth = 0
        self._texts: dict[str, list[str]] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_ELEMENTS:
            self.handle_startendtag(tag, attrs)
            return
        values = {name: value or "" for name, value in attrs}
        self._depth += 1
        if tag == "tr":
            self._row = {"attrs": values, "text": ""}
        if "id" in values:
            self._open_ids.append((values["id"], self._depth))
            self._texts[values["id"]] = []

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_ELEMENTS:
            return
        if tag == "tr" and self._row is not None:
            self._row["text"] = " ".join(self._row["text"].split())
            self.rows.append(self._row)
            self._row = None
        while self._open_ids and self._open_ids[-1][1] >= self._depth:
            name, _ = self._open_ids.pop()
            self.ids[name] = " ".join(" ".join(self._texts[name]).split())
        self._depth -= 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.ids[values["id"]] = values.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._row is not None:
            self._row["text"] += " " + data
        for name, _ in self._open_ids:
            self._texts[name].append(data)

    def prompts(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if "schedule-preview-prompt" in r["attrs"].get("class", "")]

    def clock_changes(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if "clock-change" in r["attrs"].get("class", "")]


def form_data(
    offsets: list[dict[str, str]],
    *,
    initial: int = 0,
    sample: tuple[str, str] | None = None,
    **template: str,
) -> dict[str, str]:
    data = {
        "name": "Preview schedule",
        "clinic_id": "",
        "protocol": "",
        "active": "on",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "source": "",
        "offsets-TOTAL_FORMS": str(len(offsets)),
        "offsets-INITIAL_FORMS": str(initial),
        "offsets-MIN_NUM_FORMS": "0",
        "offsets-MAX_NUM_FORMS": "1000",
        **template,
    }
    for index, row in enumerate(offsets):
        for key, value in row.items():
            data[f"offsets-{index}-{key}"] = value
    if sample is not None:
        data["preview_injected_at"], data["preview_timezone"] = sample
    return data


def form_offset(days: int, at: str = "18:00", **changes: str) -> dict[str, str]:
    return {
        "anchor": "each_injection",
        "months": "0",
        "days": str(days),
        "local_time": at,
        "window_hours": "24",
        "nudge_after_hours": "2",
        "nudge_max": "1",
        "channels": '["push"]',
        "instrument": "nrs",
        **changes,
    }


def flare_template(clinic: uuid.UUID) -> ScheduleTemplate:
    return make_template(
        clinic,
        [offset(days=d, at="18:00", nudge_after=2, nudge_max=1) for d in (1, 3, 7)],
        quiet=("21:00", "08:00"),
    )


def test_the_change_form_previews_the_saved_template_across_the_spring_clock_change(
    admin_client: Client,
) -> None:
    template = flare_template(uuid.uuid4())

    response = admin_client.get(CHANGELIST + f"{template.id}/change/")

    assert response.status_code == 200
    page = Page(response.content.decode())
    # The default sample: 10:00 in London four days before the clocks go forward.
    assert page.ids["schedule-preview-injected-at"] == "2026-03-25T10:00"
    assert page.ids["schedule-preview-timezone"] == "Europe/London"
    assert "Injection Wed 25 Mar 2026 10:00 GMT" in page.ids["schedule-preview-summary"]
    rows = page.prompts()
    assert [r["attrs"]["data-offset-key"] for r in rows] == [
        "flare:0m1d",
        "flare:0m3d",
        "flare:0m7d",
    ]
    # 18:00 local on both sides of the change: the UTC time moves, the local time does not.
    assert "Thu 26 Mar 2026 18:00 GMT" in rows[0]["text"]
    assert "Thu 26 Mar 2026 18:00 UTC" in rows[0]["text"]
    assert "Wed 01 Apr 2026 18:00 BST" in rows[2]["text"]
    assert "Wed 01 Apr 2026 17:00 UTC" in rows[2]["text"]
    assert [r["attrs"]["data-utc-offset"] for r in rows] == ["+00:00", "+00:00", "+01:00"]
    (change,) = page.clock_changes()
    assert change["attrs"]["data-direction"] == "forward"
    assert (
        "Clocks go forward 1 hour on Sun 29 Mar 2026: 01:00 GMT becomes 02:00 BST"
        in (change["text"])
    )
    # The marker sits between the last prompt before the change and the first after it.
    order = [
        r["attrs"].get("data-offset-key", "change")
        for r in page.rows
        if r["attrs"].get("class", "").startswith("schedule-preview")
    ]
    assert order == ["flare:0m1d", "flare:0m3d", "change", "flare:0m7d"]
    # Nudges and the answer window, in local time.
    assert "Thu 26 Mar 2026 20:00 GMT" in rows[0]["text"]
    assert "Fri 27 Mar 2026 18:00 GMT" in rows[0]["text"]


def test_the_preview_shows_exactly_what_planning_plans_for_a_patient(
    admin_client: Client,
) -> None:
    clinic = uuid.uuid4()
    template = make_template(
        clinic,
        [
            offset(anchor="baseline_before_first_injection", days=-1, at="18:00"),
            *[offset(days=d, at="18:00", nudge_after=2, nudge_max=1) for d in (1, 3, 7, 14)],
            offset(anchor="first_injection_of_course", months=3, at="10:00", window=168),
        ],
        quiet=("21:00", "08:00"),
    )
    injected_at = datetime(2026, 10, 21, 9, 0, tzinfo=UTC)
    patient = enrol(clinic_id=clinic, tz="Europe/London")
    inject(patient, clinic_id=clinic, at=injected_at)
    planned = sorted(
        Prompt.objects.filter(patient_id=patient).values_list("offset_key", "intended_at"),
        key=lambda row: row[1],
    )

    response = admin_client.get(
        CHANGELIST + f"{template.id}/change/",
        {"preview_injected_at": "2026-10-21T10:00", "preview_timezone": "Europe/London"},
    )

    page = Page(response.content.decode())
    shown = [(r["attrs"]["data-offset-key"], r["attrs"]["data-due-utc"]) for r in page.prompts()]
    assert shown == [
        (key, at.astimezone(UTC).isoformat().replace("+00:00", "Z")) for key, at in planned
    ]
    assert [c["attrs"]["data-direction"] for c in page.clock_changes()] == ["back"]


def test_the_preview_follows_unsaved_edits_without_saving_them(admin_client: Client) -> None:
    template = flare_template(uuid.uuid4())
    existing = [
        {**form_offset(o.days), "id": str(o.id), "template": str(template.id)}
        for o in template.offsets.all()
    ]
    existing[0]["local_time"] = "09:30"

    response = admin_client.post(
        CHANGELIST + f"{template.id}/preview/",
        form_data(
            [*existing, form_offset(14)],
            initial=len(existing),
            sample=("2026-03-25T10:00", "Europe/London"),
        ),
    )

    assert response.status_code == 200
    page = Page(response.content.decode())
    rows = page.prompts()
    assert [r["attrs"]["data-offset-key"] for r in rows] == [
        "flare:0m1d",
        "flare:0m3d",
        "flare:0m7d",
        "flare:0m14d",
    ]
    assert "Thu 26 Mar 2026 09:30 GMT" in rows[0]["text"]
    template.refresh_from_db()
    assert template.version == 1
    assert [o.days for o in template.offsets.all()] == [1, 3, 7]


def test_a_new_template_is_previewed_before_it_is_saved(admin_client: Client) -> None:
    response = admin_client.post(
        ADD_PREVIEW,
        form_data([form_offset(1), form_offset(3)], sample=("2026-06-01T09:00", "Asia/Tokyo")),
    )

    assert response.status_code == 200
    page = Page(response.content.decode())
    assert [r["attrs"]["data-offset-key"] for r in page.prompts()] == ["flare:0m1d", "flare:0m3d"]
    assert "Tue 02 Jun 2026 18:00 JST" in page.prompts()[0]["text"]
    assert "Tue 02 Jun 2026 09:00 UTC" in page.prompts()[0]["text"]
    assert page.clock_changes() == []
    assert not ScheduleTemplate.objects.filter(name="Preview schedule").exists()


def test_a_local_time_the_clock_skips_is_shown_moved_forward(admin_client: Client) -> None:
    # New York's clocks jump from 02:00 to 03:00 on Sunday 8 March 2026 (day 3 here).
    response = admin_client.post(
        ADD_PREVIEW,
        form_data(
            [form_offset(3, at="02:30", nudge_max="0", nudge_after_hours="")],
            sample=("2026-03-05T10:00", "America/New_York"),
            quiet_start="",
            quiet_end="",
        ),
    )

    (row,) = Page(response.content.decode()).prompts()
    assert row["attrs"]["data-adjustments"] == "dst_gap_moved_forward"
    assert "Sun 08 Mar 2026 03:30 EDT" in row["text"]
    assert "does not exist that day" in row["text"]


def test_a_nudge_that_falls_in_quiet_hours_is_shown_moved_to_their_end(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        ADD_PREVIEW,
        form_data([form_offset(1, at="20:00")], sample=("2026-06-01T09:00", "Europe/London")),
    )

    (row,) = Page(response.content.decode()).prompts()
    # 22:00 is inside quiet hours (21:00-08:00): the nudge waits for the morning.
    assert "Wed 03 Jun 2026 08:00 BST (moved out of quiet hours)" in row["text"]


def test_an_unknown_time_zone_is_explained_in_the_panel(admin_client: Client) -> None:
    template = flare_template(uuid.uuid4())

    posted = admin_client.post(
        ADD_PREVIEW, form_data([form_offset(1)], sample=("2026-03-25T10:00", "Mars/Olympus"))
    )
    page = admin_client.get(
        CHANGELIST + f"{template.id}/change/", {"preview_timezone": "Nowhere/Atlantis"}
    )

    assert posted.status_code == 400
    error = Page(posted.content.decode()).ids["schedule-preview-error"]
    assert "Unknown time zone" in error
    assert page.status_code == 200
    assert "Unknown time zone" in Page(page.content.decode()).ids["schedule-preview-error"]
    assert b'aria-invalid="true"' in page.content
    assert b"schedule-preview-table" not in posted.content


def test_a_sample_date_that_is_not_a_date_is_explained(admin_client: Client) -> None:
    response = admin_client.post(
        ADD_PREVIEW, form_data([form_offset(1)], sample=("next tuesday", "Europe/London"))
    )

    assert response.status_code == 400
    assert "ISO 8601" in Page(response.content.decode()).ids["schedule-preview-error"]


def test_an_invalid_template_says_what_to_fix_instead_of_a_timeline(admin_client: Client) -> None:
    response = admin_client.post(
        ADD_PREVIEW,
        form_data(
            [form_offset(7), form_offset(3, window_hours="0")],
            sample=("2026-03-25T10:00", "Europe/London"),
        ),
    )

    assert response.status_code == 400
    error = Page(response.content.decode()).ids["schedule-preview-error"]
    assert "answer window" in error
    assert b"schedule-preview-table" not in response.content


def test_a_post_without_the_offsets_form_is_refused_without_an_error_page(
    admin_client: Client,
) -> None:
    response = admin_client.post(
        ADD_PREVIEW, {"preview_injected_at": "2026-03-25T10:00", "preview_timezone": "UTC"}
    )

    assert response.status_code == 400
    assert "schedule-preview-error" in Page(response.content.decode()).ids


def test_only_administrators_get_a_preview() -> None:
    template = flare_template(uuid.uuid4())
    data = form_data([form_offset(1)], sample=("2026-03-25T10:00", "Europe/London"))
    # A clinician or patient signed in to the site is no staff member of the admin.
    clinician = Client()
    clinician.force_login(User.objects.create_user(str(uuid.uuid4()), "doc@example.org"))
    # A staff account of the admin site signed in without a clinic administrator's role.
    staff = Client()
    staff.force_login(
        User.objects.create_user(str(uuid.uuid4()), "staff@example.org", is_staff=True)
    )

    for client in (Client(), clinician):
        for url in (ADD_PREVIEW, CHANGELIST + f"{template.id}/preview/"):
            response = client.post(url, data)
            assert response.status_code == 302
            assert "/login/" in response["Location"]
            assert b"schedule-preview" not in response.content
    assert staff.post(ADD_PREVIEW, data).status_code == 403
    assert staff.post(CHANGELIST + f"{template.id}/preview/", data).status_code == 403


def test_a_clinic_admin_previews_their_templates_and_the_defaults_only() -> None:
    clinic = uuid.uuid4()
    own, theirs = flare_template(clinic), flare_template(uuid.uuid4())
    default = ScheduleTemplate.objects.get(clinic_id__isnull=True, protocol="")
    data = form_data([form_offset(1)], sample=("2026-03-25T10:00", "Europe/London"))
    client = clinic_admin_client(clinic)

    answers = [
        client.post(CHANGELIST + f"{template.id}/preview/", data)
        for template in (own, default, theirs)
    ]
    unsaved = client.post(ADD_PREVIEW, data)

    assert [answer.status_code for answer in answers] == [200, 200, 404]
    # A default is shown as saved (its page has no fields to post): its own prompts.
    keys = {r["attrs"]["data-offset-key"] for r in Page(answers[1].content.decode()).prompts()}
    assert keys == {o.key for o in default.offsets.all()}
    assert Page(unsaved.content.decode()).prompts()


def test_the_preview_of_a_template_that_does_not_exist_is_not_found(admin_client: Client) -> None:
    response = admin_client.post(
        CHANGELIST + f"{uuid.uuid4()}/preview/",
        form_data([form_offset(1)], sample=("2026-03-25T10:00", "Europe/London")),
    )

    assert response.status_code == 404


def test_the_autumn_change_and_a_half_hour_change_are_found_to_the_minute() -> None:
    london = clock_changes(
        datetime(2026, 10, 20, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC), zone("Europe/London")
    )
    lord_howe = clock_changes(
        datetime(2026, 9, 30, tzinfo=UTC),
        datetime(2026, 10, 10, tzinfo=UTC),
        zone("Australia/Lord_Howe"),
    )

    (autumn,) = london
    assert (autumn.at, autumn.forward) == (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), False)
    assert (f"{autumn.wall_before:%H:%M}", f"{autumn.wall_after:%H:%M}") == ("02:00", "01:00")
    (spring,) = lord_howe
    assert spring.forward
    assert (spring.offset_after - spring.offset_before).total_seconds() == 30 * 60
    assert f"{spring.wall_before:%d %H:%M}" == "04 02:00"
