"""What the outcomes analysis costs at clinic scale, beside the usual pandas + lifelines pipeline.

For 20,000 patients (~30 scores each) and 100,000 patients (~3 million scores), synthetic courses
are written into the read model of a dedicated database with binary COPY. Then, in the same run:

- the service's full recompute of the standard cohorts: load the clinic's arrays, then recovery
  curve, responder rates (3-24 months, four endpoints) and both Kaplan-Meier curves per cohort;
- the same analysis as a pandas + lifelines pipeline on the same rows (tests/outcomes/
  reference_pipeline.py), with a check that the two agree;
- the same recompute after an event changed one course (the arrays refreshed, not reloaded);
- a cohort request answered from the cache, through the API (Django test client): p50 and p95.

Prints a table. Takes a few minutes on two cores.
"""

from __future__ import annotations

import io
import os
import statistics
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from benchdb import bench_database_url, recreate_database

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "outcomes"))
sys.path.insert(0, str(REPO / "services" / "outcomes"))

BENCH_DB = "bench_outcomes"


os.environ["DATABASE_URL"] = bench_database_url(BENCH_DB)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomes.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")
os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
os.environ.setdefault("BROKER_URL", "redis://127.0.0.1:6379/8")
os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/8")
os.environ["LOG_LEVEL"] = "WARNING"
recreate_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

import reference_pipeline as reference  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from outcomes.analytics.cache import clinic_version, clinic_version_bump  # noqa: E402
from outcomes.analytics.cohorts import CohortFilter  # noqa: E402
from outcomes.analytics.frame import clinic_frame, frames_forget  # noqa: E402
from outcomes.analytics.selectors import (  # noqa: E402
    cohort_curve,
    cohort_responders,
    cohort_survival,
)
from outcomes.readmodel.derive import SERIES_DTYPE, cohort_key  # noqa: E402
from shared.testing.tokens import access_token  # noqa: E402

SCALES = (20_000, 100_000)
CACHED_REQUESTS = 200
RUNS = 3
# Flare prompts (days 1-42) and then about monthly to 24 months: about 30 scores a patient.
SCHEDULE = np.r_[
    [1, 3, 7, 14, 21, 28, 42, 56, 70, 91, 120, 150, 183, 210, 240, 270, 300, 330, 365],
    [395, 425, 457, 490, 520, 550, 580, 610, 640, 670, 700, 730],
]
ODI_SCHEDULE = np.array([91, 183, 365, 457, 730])
PROTOCOLS = np.array(
    ["kim2010_intra_articular_sij", "hauser", "sij_dextrose_image_guided", "general_back"],
    dtype=object,
)
SITES = np.array(["sij_intra_articular", "sij_dorsal_ligament", "iliolumbar"], dtype=object)
SEXES = np.array(["female", "male"], dtype=object)
AGE_BANDS = np.array(["30_39", "40_49", "50_59", "60_69"], dtype=object)

STANDARD_COHORTS: dict[str, CohortFilter] = {
    "whole clinic": CohortFilter(),
    "SIJ intra-articular": CohortFilter(site=("sij_intra_articular",)),
    "Kim 2010 protocol": CohortFilter(protocol=("kim2010_intra_articular_sij",)),
    "women 50-59": CohortFilter(sex=("female",), age_band=("50_59",)),
}

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass
class Generated:
    clinic_id: uuid.UUID
    observations: int


# --- Data ---------------------------------------------------------------------------------------


def _uuid_bytes(rng: np.random.Generator, n: int) -> np.ndarray:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return raw


def _uuid_text(raw: np.ndarray) -> list[str]:
    return [str(uuid.UUID(bytes=row.tobytes())) for row in raw]


def _copy_binary(table: str, columns: list[str], rows: np.ndarray) -> None:
    header = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    payload = io.BytesIO(header + rows.tobytes() + (-1).to_bytes(2, "big", signed=True))
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)", payload
        )


def _copy_text(table: str, columns: list[str], lines: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN", io.StringIO("\n".join(lines) + "\n")
        )


def generate(patients: int, seed: int) -> Generated:
    """Courses and scores of one clinic: responders keep relief for a while, others do not."""
    rng = np.random.default_rng(seed)
    clinic_id = uuid.uuid4()
    course_pk = np.arange(1, patients + 1)
    patient_raw = _uuid_bytes(rng, patients)
    patient_ids = _uuid_text(patient_raw)
    course_ids = _uuid_text(_uuid_bytes(rng, patients))
    first = np.datetime64("2023-01-02") + rng.integers(0, 540, patients).astype("timedelta64[D]")
    first_days = (first - np.datetime64("2000-01-01")).astype(np.int64)  # days since PG epoch
    protocol = PROTOCOLS[rng.integers(0, PROTOCOLS.size, patients)]
    site = SITES[rng.integers(0, SITES.size, patients)]
    sex = SEXES[rng.integers(0, 2, patients)]
    age_band = AGE_BANDS[rng.integers(0, AGE_BANDS.size, patients)]
    injections = rng.integers(1, 7, patients)
    last_injection_day = (injections - 1) * rng.choice([14, 28, 42], patients)
    baseline = rng.integers(4, 10, patients).astype(float)
    baseline_odi = rng.integers(20, 71, patients).astype(float)
    relief = np.where(
        rng.random(patients) < 0.6, rng.uniform(0.5, 0.9, patients), rng.uniform(0, 0.4, patients)
    )
    lasts = 42 + rng.exponential(500, patients)
    stops = np.where(rng.random(patients) < 0.7, 731, rng.integers(60, 731, patients))

    # Scores: the schedule, thinned by missed prompts and by patients who stop reporting.
    days = np.tile(SCHEDULE, patients)
    owner = np.repeat(np.arange(patients), SCHEDULE.size)
    jitter = np.where(days > 28, rng.integers(-2, 3, days.size), 0)
    days = days + jitter
    keep = (rng.random(days.size) < 0.93) & (days <= stops[owner])
    days, owner = days[keep], owner[keep]
    ramp = np.clip(days / 42.0, 0, 1)
    level = np.where(days < lasts[owner], relief[owner] * ramp, 0.1)
    flare = np.where(days <= 7, 1.0, 0.0)
    nrs = np.clip(
        np.rint(baseline[owner] * (1 - level) + flare + rng.normal(0, 0.7, days.size)), 0, 10
    )
    odi_days = np.tile(ODI_SCHEDULE, patients)
    odi_owner = np.repeat(np.arange(patients), ODI_SCHEDULE.size)
    odi_keep = (rng.random(odi_days.size) < 0.8) & (odi_days <= stops[odi_owner])
    odi_days, odi_owner = odi_days[odi_keep], odi_owner[odi_keep]
    odi = np.clip(
        baseline_odi[odi_owner] * (1 - 0.6 * relief[odi_owner]) + rng.normal(0, 5, odi_days.size),
        0,
        100,
    )

    all_days = np.r_[days, odi_days]
    all_owner = np.r_[owner, odi_owner]
    kind = np.r_[np.ones(days.size, np.int16), np.full(odi_days.size, 2, np.int16)]
    value = np.r_[nrs, odi]
    # In each course's time order, as the service's own writes leave the table.
    order = np.lexsort((kind, all_days, all_owner))
    all_days, all_owner, kind, value = all_days[order], all_owner[order], kind[order], value[order]
    n = all_days.size

    micro = 86_400_000_000
    first_us = first_days * micro + 10 * 3_600_000_000  # first injection at 10:00 UTC
    occurred = first_us[all_owner] + all_days * micro + 3_600_000_000
    now_us = int((datetime.now(UTC) - PG_EPOCH).total_seconds() * 1_000_000)

    with connection.cursor() as cursor:
        for table in ("readmodel_observation", "readmodel_coursecotreatment", "readmodel_course"):
            cursor.execute(f"TRUNCATE {table} RESTART IDENTITY CASCADE")
        cursor.execute("TRUNCATE readmodel_patient")
    # Each course's packed scores, as the service's refresh keeps them (Course.series).
    packed = np.zeros(n, dtype=SERIES_DTYPE)
    packed["day"], packed["kind"], packed["value"] = all_days, kind, value
    blob = packed.tobytes()
    ends = np.cumsum(np.bincount(all_owner, minlength=patients)) * SERIES_DTYPE.itemsize
    starts = np.r_[0, ends[:-1]]
    series = [f"\\\\x{blob[a:b].hex()}" for a, b in zip(starts, ends, strict=True)]
    keys = [
        cohort_key(
            {
                "site": st, "laterality": "left", "solution": "dextrose", "guidance": "fluoroscopy",
                "protocol": pr, "diagnosis": "sij_dysfunction", "sex": sx, "age_band": ab,
            }
        )
        for st, pr, sx, ab in zip(site, protocol, sex, age_band, strict=True)
    ]  # fmt: skip
    clinic = str(clinic_id)
    _copy_text(
        "readmodel_patient",
        ["patient_id", "clinic_id", "sex", "timezone", "version"],
        [
            f"{p}\t{clinic}\t{s}\tUTC\t2025-01-01T00:00:00Z"
            for p, s in zip(patient_ids, sex, strict=True)
        ],
    )
    _copy_text(
        "readmodel_course",
        [
            "id", "course_id", "patient_id", "clinic_id", "first_injected_at",
            "first_injection_date", "last_injection_day", "injection_count", "site",
            "laterality", "solution", "guidance", "protocol", "diagnosis", "sex", "age_band",
            "baseline_nrs", "baseline_odi", "cohort_key", "series",
        ],
        [
            f"{pk}\t{cid}\t{pid}\t{clinic}\t{d}T10:00:00Z\t{d}\t{lid}\t{inj}\t{st}\tleft\t"
            f"dextrose\tfluoroscopy\t{pr}\tsij_dysfunction\t{sx}\t{ab}\t{b}\t{bo}\t{k}\t{se}"
            for pk, cid, pid, d, lid, inj, st, pr, sx, ab, b, bo, k, se in zip(
                course_pk, course_ids, patient_ids, first.astype(str), last_injection_day,
                injections, site, protocol, sex, age_band, baseline, baseline_odi, keys, series,
                strict=True,
            )
        ],
    )  # fmt: skip
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("l_source", ">i4"), ("source", "V16"),
            ("l_kind", ">i4"), ("kind", ">i2"),
            ("l_patient", ">i4"), ("patient", "V16"),
            ("l_clinic", ">i4"), ("clinic", "V16"),
            ("l_occurred", ">i4"), ("occurred", ">i8"),
            ("l_value", ">i4"), ("value", ">f8"),
            ("l_sections", ">i4"),
            ("l_course", ">i4"), ("course", ">i8"),
            ("l_day", ">i4"), ("day", ">i4"),
            ("l_deleted", ">i4"), ("deleted", "u1"),
            ("l_version", ">i4"), ("version", ">i8"),
        ]
    )  # fmt: skip
    columns = [
        "source_id", "kind", "patient_id", "clinic_id", "occurred_at", "value", "sections",
        "course_ref", "day", "deleted", "version",
    ]  # fmt: skip
    clinic_bytes = np.frombuffer(clinic_id.bytes, dtype="V16")[0]
    chunk = 1_000_000
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        size = stop - start
        rows = np.zeros(size, dtype=row)
        rows["fields"] = 11
        for name, length in (
            ("source", 16), ("kind", 2), ("patient", 16), ("clinic", 16), ("occurred", 8),
            ("value", 8), ("course", 8), ("day", 4), ("deleted", 1), ("version", 8),
        ):  # fmt: skip
            rows[f"l_{name}"] = length
        rows["l_sections"] = -1
        rows["source"] = _uuid_bytes(rng, size).view("V16").ravel()
        rows["kind"] = kind[start:stop]
        rows["patient"] = patient_raw[all_owner[start:stop]].view("V16").ravel()
        rows["clinic"] = clinic_bytes
        rows["occurred"] = occurred[start:stop]
        rows["value"] = value[start:stop]
        rows["course"] = course_pk[all_owner[start:stop]]
        rows["day"] = all_days[start:stop]
        rows["version"] = now_us
        _copy_binary("readmodel_observation", columns, rows)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE readmodel_observation")
        cursor.execute("VACUUM ANALYZE readmodel_course")
    return Generated(clinic_id=clinic_id, observations=n)


# --- The two pipelines -------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    load: float  # database to memory
    analyses: float
    results: dict[str, dict[str, Any]]

    @property
    def total(self) -> float:
        return self.load + self.analyses


def service_pipeline(clinic_id: uuid.UUID) -> Timed:
    """The service's full recompute: nothing cached, the clinic's arrays loaded once, every
    figure of every standard cohort computed."""
    frames_forget()
    return _recompute(clinic_id)


def _recompute(clinic_id: uuid.UUID) -> Timed:
    cache.clear()
    settings.OUTCOMES_CACHE_MIN_COURSES = 10**12  # nothing stored: every figure computed
    started = time.perf_counter()
    clinic_frame(clinic_id, clinic_version(clinic_id))
    loaded = time.perf_counter()
    results = {
        name: {
            "curve": cohort_curve(clinic_id=clinic_id, cohort=cohort),
            "responders": cohort_responders(clinic_id=clinic_id, cohort=cohort),
            "survival": cohort_survival(clinic_id=clinic_id, cohort=cohort),
        }
        for name, cohort in STANDARD_COHORTS.items()
    }
    return Timed(loaded - started, time.perf_counter() - loaded, results)


def _cohort_frames(courses: Any, observations: Any, cohort: CohortFilter) -> tuple[Any, Any]:
    keep = courses
    for name in ("site", "protocol", "sex", "age_band"):
        values = getattr(cohort, name)
        if values:
            keep = keep[keep[name].isin(values)]
    return keep, observations[observations["course_ref"].isin(keep.index)]


def after_an_event(clinic_id: uuid.UUID) -> Timed:
    """The same recompute after an event changed one course: this process still holds the
    clinic's arrays of the version before, and reads again only the course rows that changed."""
    frames_forget()
    _recompute(clinic_id)  # the frame of the version before
    with connection.cursor() as cursor:
        # As a patient's refresh rewrites their course row (a new row version).
        cursor.execute(
            "UPDATE readmodel_course SET last_injection_day = last_injection_day "
            "WHERE id = (SELECT min(id) FROM readmodel_course WHERE clinic_id = %s)",
            [str(clinic_id)],
        )
    return _recompute(clinic_id)  # a new version: the cache was cleared


def pandas_pipeline(clinic_id: uuid.UUID) -> Timed:
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pandas prefers SQLAlchemy; psycopg2 works
        courses, observations = reference.load(connection.connection, str(clinic_id))
    loaded = time.perf_counter()
    results = {
        name: reference.full_analysis(*_cohort_frames(courses, observations, cohort))
        for name, cohort in STANDARD_COHORTS.items()
    }
    return Timed(loaded - started, time.perf_counter() - loaded, results)


def best_of(runs: int, pipeline: Any, clinic_id: uuid.UUID) -> Timed:
    """The fastest of a few runs: other work on the machine only ever slows a run down."""
    return min((pipeline(clinic_id) for _ in range(runs)), key=lambda timed: timed.total)


def disagreements(ours: dict[str, dict[str, Any]], theirs: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    for name in STANDARD_COHORTS:
        mine, ref = ours[name], theirs[name]
        for measure, reference_curve in (
            ("nrs_percent_change", "curve"),
            ("odi_points_change", "odi_curve"),
        ):
            expected = ref[reference_curve]
            points = mine["curve"][measure]
            if [p["week"] for p in points] != list(expected.index):
                problems.append(f"{name}: {measure} weeks differ")
            for point in points:
                row = expected.loc[point["week"]]
                if point["n"] != row["n"] or any(
                    abs(point[stat] - row[stat]) > 1e-9 for stat in ("median", "q1", "q3", "mean")
                ):
                    problems.append(f"{name}: {measure} week {point['week']} differs")
                    break
        for horizon in mine["responders"]["horizons"]:
            for endpoint in horizon["endpoints"]:
                key = {
                    ("nrs_percent", 30.0): "responders_30",
                    ("nrs_percent", 50.0): "responders_50",
                    ("nrs_points", 2.0): "responders_points",
                    ("odi_points", 10.0): "responders_odi",
                }.get((endpoint["measure"], endpoint["threshold"]))
                if key and (endpoint["responders"], endpoint["n"]) != ref[key][horizon["months"]]:
                    problems.append(f"{name}: {key} at {horizon['months']} months differs")
        for curve_name, reached in (("time_to_relief", True), ("durability", False)):
            fitter = ref[curve_name]
            for at in mine["survival"][curve_name]["at_horizons"]:
                s = float(fitter.survival_function_at_times(at["day"]).iloc[0])
                expected_percent = (1 - s) * 100 if reached else s * 100
                if abs(at["percent"] - expected_percent) > 1e-7:
                    problems.append(f"{name}: {curve_name} at day {at['day']} differs")
    return problems


# --- The cache, through the API ----------------------------------------------------------------


def cached_latency(clinic_id: uuid.UUID) -> tuple[float, float, float]:
    """(first request, p50, p95) in ms for the whole-clinic curve through the API."""
    settings.OUTCOMES_CACHE_MIN_COURSES = 50
    settings.JWT_KEY_PROVIDER = "shared.testing.tokens.TestKeyProvider"
    cache.clear()
    frames_forget()
    clinic_version_bump(clinic_id)
    client = Client()
    token = access_token(uuid.uuid4(), roles=("clinician",), clinic_id=clinic_id)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    url = "/api/outcomes/v1/cohort/curve/?site=sij_intra_articular"
    client.get("/api/outcomes/v1/benchmarks/", **headers)  # imports the views: not timed
    started = time.perf_counter()
    assert client.get(url, **headers).status_code == 200
    first = (time.perf_counter() - started) * 1000
    samples = []
    for _ in range(CACHED_REQUESTS):
        started = time.perf_counter()
        response = client.get(url, **headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    samples.sort()
    return first, statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    bench_started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(
        f"{'patients':>9} {'scores':>10} {'write s':>8} | {'service: load':>13} {'analyses':>8} "
        f"{'total s':>7} | {'pandas+lifelines: load':>22} {'analyses':>8} {'total s':>7} | "
        f"{'speed-up':>8}  agree"
    )
    last: Generated | None = None
    for index, patients in enumerate(SCALES):
        started = time.perf_counter()
        generated = generate(patients, seed=index)
        written = time.perf_counter() - started
        ours = best_of(RUNS, service_pipeline, generated.clinic_id)
        theirs = best_of(RUNS, pandas_pipeline, generated.clinic_id)
        problems = disagreements(ours.results, theirs.results)
        print(
            f"{patients:>9,} {generated.observations:>10,} {written:>8.1f} | "
            f"{ours.load:>13.2f} {ours.analyses:>8.2f} {ours.total:>7.2f} | "
            f"{theirs.load:>22.2f} {theirs.analyses:>8.2f} {theirs.total:>7.2f} | "
            f"{theirs.total / ours.total:>7.1f}x  "
            f"{'yes' if not problems else 'NO: ' + '; '.join(problems[:3])}"
        )
        last = generated
    assert last is not None
    event = best_of(RUNS, after_an_event, last.clinic_id)
    print(
        f"after an event changed one course, at {SCALES[-1]:,} patients: refresh "
        f"{event.load:.2f} s + analyses {event.analyses:.2f} s = {event.total:.2f} s"
    )
    first, p50, p95 = cached_latency(last.clinic_id)
    print(
        f"cohort curve through the API at {SCALES[-1]:,} patients: first request {first:.0f} ms; "
        f"from the cache ({CACHED_REQUESTS} requests) p50 {p50:.1f} ms, p95 {p95:.1f} ms "
        f"(target <= 200 ms)"
    )
    print(
        f"standard cohorts: {', '.join(STANDARD_COHORTS)}; each: recovery curve (NRS and ODI), "
        f"responders at 5 horizons x 4 endpoints, 2 Kaplan-Meier curves. Times: best of {RUNS}. "
        f"Total {time.perf_counter() - bench_started:.0f} s."
    )


if __name__ == "__main__":
    main()
