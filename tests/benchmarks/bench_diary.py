"""What diary's writes cost: the single-entry API beside a bare Django view, and the offline sync
beside a per-row ORM loop.

Starts diary under gunicorn on a fresh PostgreSQL database (bench_diary) with the bench settings
(tests/benchmarks/diarybench: diary's own settings and URLs, plus a bare view, and a key provider
that trusts the key this script signs tokens with), then drives it over loopback from this process
with keep-alive client threads and a fixed number of requests. The in-process measurements run
here, on the same database.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
from benchdb import bench_database_url, recreate_database

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

DATABASE = "bench_diary"
DATABASE_URL = bench_database_url(DATABASE)
os.environ["DATABASE_URL"] = DATABASE_URL
os.environ["DJANGO_SETTINGS_MODULE"] = "diarybench.settings"
# The rate limit guards against runaway phones; the benchmark is one, by design.
os.environ["RATE_LIMIT_USER_WRITES"] = "100000000/min"

HOST = "127.0.0.1"
WORKERS, THREADS = 2, 4
CONCURRENCY = 8
SINGLE_REQUESTS = 1600  # per run, spread over the client threads
ROUNDS = 5  # runs of each single-entry variant, alternating; the best one is reported
SYNC_BATCH = 500
SYNC_BATCHES = 40
SYNC_CLIENTS = 4
IN_PROCESS_BATCHES = 20
PER_ROW_ROWS = 1000
PER_ROW_COMMITS = 300  # rows of the loop that commits each row: about 30 ms a row
RELAY_EVENTS = 2000  # of the events the runs above left in the outbox


recreate_database(DATABASE_URL)

import django  # noqa: E402

django.setup()

from cryptography.hazmat.primitives import serialization  # noqa: E402
from diarybench.keys import PUBLIC_KEY_ENV  # noqa: E402
from diarybench.views import PATIENT_ENV  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from diary import celery_app  # noqa: E402
from diary.common import sequence  # noqa: E402
from diary.entries.models import PainEntry  # noqa: E402
from diary.entries.services import EVENT_LOGGED, entry_digest, entry_event_data  # noqa: E402
from diary.entries.validation import CLIENT_FIELDS, entry_derived, validate_entry  # noqa: E402
from diary.patients.models import Patient  # noqa: E402
from diary.sync.services import sync_batch  # noqa: E402
from shared.auth.principal import TokenUser  # noqa: E402
from shared.events.catalogue import subscribers_of  # noqa: E402
from shared.outbox.services import (  # noqa: E402
    event_publish,
    outbox_relay,
    outbox_relay_kick,
)
from shared.testing.tokens import TEST_KID, access_token, private_key  # noqa: E402


def entry(minutes_ago: float) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "occurred_at": (datetime.now(tz=UTC) - timedelta(minutes=minutes_ago)).isoformat(),
        "timezone": "Europe/London",
        "nrs_now": 6,
        "nrs_worst_24h": 8,
        "nrs_average_7d": 5,
        "body_regions": ["lower_back_left", "sacroiliac_left"],
        "medications": [{"name": "Paracetamol", "dose": "1 g"}],
        "side_effects": ["soreness_at_site"],
        "co_treatments": ["physiotherapy"],
        "note": "Walked the dog, sore afterwards.",
    }


# --- The server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(
    workdir: Path, bare_patient: uuid.UUID, **extra_env: str
) -> tuple[subprocess.Popen[bytes], int]:
    workdir.mkdir()
    public = workdir / "bench-public.pem"
    # The same call as access_token() makes: the key is cached per argument list.
    public.write_bytes(
        private_key(TEST_KID)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (workdir / "static").mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(BENCH_DIR), os.environ.get("PYTHONPATH", "")]),
        PUBLIC_KEY_ENV: str(public),
        PATIENT_ENV: str(bare_patient),
        "DJANGO_DEBUG": "false",
        "STATIC_ROOT": str(workdir / "static"),
        **extra_env,
    }
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "diary.wsgi:application",
            f"--bind={HOST}:{port}",
            f"--workers={WORKERS}",
            f"--threads={THREADS}",
            "--worker-class=gthread",
            "--keep-alive=30",
            "--no-control-socket",
        ],
        env=env,
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = (workdir / "server.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"gunicorn exited:\n{tail}")
        try:
            probe = http.client.HTTPConnection(HOST, port, timeout=5)
            probe.request("GET", "/readyz")
            if probe.getresponse().status == 200:
                return server, port
        except OSError:
            pass
        time.sleep(0.2)
    server.terminate()
    server.wait(timeout=30)
    raise RuntimeError("diary did not become ready in 60 s")


# --- CPU accounting ---------------------------------------------------------------------------
# Other work on a shared machine slows every run; the CPU the server's own processes (gunicorn
# workers and their PostgreSQL backends) spend per request does not depend on it.

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class CpuMeter:
    """CPU seconds of the application's processes (the gunicorn workers, or this process) and of
    the PostgreSQL backends serving the bench database."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.monitor = psycopg2.connect(DATABASE_URL)
        self.monitor.autocommit = True

    def _app_pids(self) -> list[int]:
        if self.server_pid is None:
            return [os.getpid()]
        children = Path(f"/proc/{self.server_pid}/task/{self.server_pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def _db_pids(self) -> list[int]:
        with self.monitor.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [DATABASE],
            )
            return [row[0] for row in cursor.fetchall()]

    def sample(self) -> tuple[dict[int, float], dict[int, float]]:
        return (
            {pid: cpu_seconds(pid) for pid in self._app_pids()},
            {pid: cpu_seconds(pid) for pid in self._db_pids()},
        )

    @staticmethod
    def spent(
        before: tuple[dict[int, float], dict[int, float]],
        after: tuple[dict[int, float], dict[int, float]],
    ) -> tuple[float, float]:
        app, db = (
            sum(cpu - earlier.get(pid, 0.0) for pid, cpu in later.items())
            for earlier, later in zip(before, after, strict=True)
        )
        return app, db

    def close(self) -> None:
        self.monitor.close()


# --- Load -------------------------------------------------------------------------------------


@dataclass
class Run:
    requests: int
    seconds: float
    latencies: list[float]
    app_cpu: float = 0.0  # seconds of the gunicorn workers
    db_cpu: float = 0.0  # seconds of their PostgreSQL backends

    @property
    def cpu_ms(self) -> tuple[float, float]:
        return self.app_cpu / self.requests * 1000, self.db_cpu / self.requests * 1000

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


def drive(
    port: int, path: str, work: list[list[tuple[bytes, str]]], expect: int, meter: CpuMeter
) -> Run:
    """Each thread sends its (body, token) list over one keep-alive connection, in order."""
    latencies: list[list[float]] = [[] for _ in work]
    failures: list[str] = []
    start = threading.Barrier(len(work) + 1)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        start.wait()
        for body, token in work[index]:
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            began = time.perf_counter()
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            payload = response.read()
            latencies[index].append(time.perf_counter() - began)
            if response.status != expect:
                failures.append(f"{response.status} {payload[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    cpu_before = meter.sample()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    app_cpu, db_cpu = meter.spent(cpu_before, meter.sample())
    if failures:
        raise RuntimeError(f"{len(failures)} requests to {path} failed, e.g. {failures[0]}")
    flat = [latency for per_thread in latencies for latency in per_thread]
    return Run(len(flat), elapsed, flat, app_cpu, db_cpu)


def single_entry_work(tokens: list[str], count: int) -> list[list[tuple[bytes, str]]]:
    per_thread = count // len(tokens)
    return [
        [(json.dumps(entry(i + 1)).encode(), token) for i in range(per_thread)] for token in tokens
    ]


def sync_work(tokens: list[str], batches: int) -> list[list[tuple[bytes, str]]]:
    work: list[list[tuple[bytes, str]]] = [[] for _ in tokens]
    for index in range(batches):
        items = [{"kind": "entry", **entry(i + 1)} for i in range(SYNC_BATCH)]
        work[index % len(tokens)].append(
            (json.dumps({"items": items}).encode(), tokens[index % len(tokens)])
        )
    return work


# --- In-process -------------------------------------------------------------------------------


def token_user(patient_id: uuid.UUID, clinic_id: uuid.UUID) -> TokenUser:
    return TokenUser(
        id=patient_id,
        roles=frozenset({"patient"}),
        clinic_id=clinic_id,
        token_id="bench",
        expires_at=datetime.now(tz=UTC) + timedelta(hours=1),
    )


@dataclass
class Measured:
    rows: int
    seconds: float
    app_cpu: float  # this process
    db_cpu: float  # its database backend

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def cpu_us(self) -> tuple[float, float]:
        return self.app_cpu / self.rows * 1e6, self.db_cpu / self.rows * 1e6


def timed(action: Callable[[], int], meter: CpuMeter) -> Measured:
    before = meter.sample()
    began = time.perf_counter()
    rows = action()
    elapsed = time.perf_counter() - began
    return Measured(rows, elapsed, *meter.spent(before, meter.sample()))


def bulk_in_process(user: TokenUser) -> int:
    for _ in range(IN_PROCESS_BATCHES):
        items = [{"kind": "entry", **entry(i + 1)} for i in range(SYNC_BATCH)]
        results = sync_batch(user=user, items=items)
        assert all(result.status == "created" for result in results)
    return IN_PROCESS_BATCHES * SYNC_BATCH


def per_row_in_process(patient: Patient, *, one_transaction: bool) -> int:
    """The same rows the obvious way: checked alike, then one ORM create and its event per row;
    each row in its own transaction (as a per-item API would), or all in one."""
    outer = transaction.atomic() if one_transaction else contextlib.nullcontext()
    rows = PER_ROW_ROWS if one_transaction else PER_ROW_COMMITS
    with outer:
        for i in range(rows):
            cleaned, errors = validate_entry(entry(i + 1))
            assert not errors
            values = {name: cleaned[name] for name in CLIENT_FIELDS}
            values.update(entry_derived(values))
            now = datetime.now(tz=UTC)
            with transaction.atomic():
                row = PainEntry.objects.create(
                    patient=patient,
                    server_seq=sequence.next_value(),
                    received_at=now,
                    updated_at=now,
                    create_digest=entry_digest(cleaned, patient_id=patient.id),
                    **values,
                )
                event_publish(
                    type=EVENT_LOGGED,
                    subject=patient.id,
                    data=entry_event_data(row, clinic_id=patient.clinic_id),
                )
    return rows


BARE_TABLE = "bench_bare_entry"
_BARE_INSERT = f"""
INSERT INTO {BARE_TABLE} (
    id, patient_id, server_seq, received_at, updated_at, version, create_digest,
    occurred_at, timezone, nrs_now, nrs_worst_24h, nrs_average_7d, body_regions, medications,
    nsaid, side_effects, red_flag, co_treatments, prompt_id, note
)
SELECT u.id, %s, nextval('diary_server_seq'), now(), now(), 1, '', u.occurred_at, u.timezone,
    u.nrs_now, u.nrs_worst_24h, u.nrs_average_7d, u.body_regions, u.medications, false,
    u.side_effects, false, u.co_treatments, NULL, u.note
FROM unnest(%s::uuid[], %s::timestamptz[], %s::text[], %s::int2[], %s::int2[], %s::int2[],
    %s::jsonb[], %s::jsonb[], %s::jsonb[], %s::jsonb[], %s::text[])
    AS u(id, occurred_at, timezone, nrs_now, nrs_worst_24h, nrs_average_7d, body_regions,
         medications, side_effects, co_treatments, note)
"""  # noqa: S608 - a constant table name


def bare_bulk_in_process(patient: Patient) -> int:
    """The floor under the sync: the same batches, each one INSERT ... SELECT FROM unnest into a
    copy of the entries table (its columns, checks and indexes) that has no history trigger, no
    foreign key and no outbox; nothing checked or derived in Python, no events."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {BARE_TABLE} "
            "(LIKE entries_painentry INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)"
        )
    for _ in range(IN_PROCESS_BATCHES):
        items = [entry(i + 1) for i in range(SYNC_BATCH)]
        columns = [
            [item[name] for item in items]
            for name in ("id", "occurred_at", "timezone", "nrs_now", "nrs_worst_24h")
        ]
        columns.append([item["nrs_average_7d"] for item in items])
        for name in ("body_regions", "medications", "side_effects", "co_treatments"):
            columns.append([json.dumps(item[name]) for item in items])
        columns.append([item["note"] for item in items])
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_BARE_INSERT, [patient.id, *columns])
    return IN_PROCESS_BATCHES * SYNC_BATCH


def relay_in_process() -> int:
    """The outbox relay, run after run, on the events the runs above left pending: each to every
    subscriber's queue (reminders and outcomes)."""
    published = 0
    relay_log = logging.getLogger("shared.outbox.services")
    level = relay_log.level
    relay_log.setLevel(logging.WARNING)  # not a line per run in the table
    try:
        while published < RELAY_EVENTS:
            result = outbox_relay()
            if not result.published:
                break
            published += result.published
    finally:
        relay_log.setLevel(level)
    return published


def purge_relay_requests() -> None:
    """Nothing consumes the bench server's relay requests or the events the relay sent: leave no
    backlog in the broker."""
    with celery_app.connection_for_write() as broker:
        for queue in (settings.CELERY_TASK_DEFAULT_QUEUE, *subscribers_of(EVENT_LOGGED)):
            broker.default_channel.queue_purge(queue)


def relay_kick_ms() -> float:
    outbox_relay_kick()
    began = time.perf_counter()
    for _ in range(20):
        outbox_relay_kick()
    return (time.perf_counter() - began) / 20 * 1000


# --- Report -----------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _postgres() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        commit = cursor.fetchone()[0]
    return f"PostgreSQL {version} (synchronous_commit={commit})"


def serve(
    workdir: Path,
    bare_patient: uuid.UUID,
    measure: Callable[[Callable[..., Run]], None],
    **env: str,
) -> None:
    """Start a server, hand ``measure`` a function that drives it, stop the server."""
    server, port = start_server(workdir, bare_patient, **env)
    meter = CpuMeter(server.pid)
    try:
        measure(lambda path, work, expect: drive(port, path, work, expect, meter))
    finally:
        meter.close()
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    call_command("migrate", verbosity=0)
    clinic = uuid.uuid4()
    patients = [
        Patient.objects.create(id=uuid.uuid4(), clinic_id=clinic)
        for _ in range(CONCURRENCY + SYNC_CLIENTS + 4)
    ]
    connection.close()
    tokens = [
        access_token(p.id, roles=("patient",), clinic_id=clinic, lifetime=timedelta(hours=1))
        for p in patients
    ]
    entry_tokens = tokens[:CONCURRENCY]
    sync_tokens = tokens[CONCURRENCY : CONCURRENCY + SYNC_CLIENTS]
    drf_path, bare_path, sync_path = (
        "/api/diary/v1/entries/",
        "/bench/bare-entry/",
        "/api/diary/v1/sync/",
    )
    runs: dict[str, list[Run]] = {"drf": [], "bare": [], "quiet": [], "sync": []}

    def with_kick(run: Callable[..., Run]) -> None:
        run(drf_path, single_entry_work(entry_tokens, 400), 201)
        run(bare_path, single_entry_work(entry_tokens, 400), 201)
        for _ in range(ROUNDS):
            runs["drf"].append(run(drf_path, single_entry_work(entry_tokens, SINGLE_REQUESTS), 201))
            runs["bare"].append(
                run(bare_path, single_entry_work(entry_tokens, SINGLE_REQUESTS), 201)
            )
        run(sync_path, sync_work(sync_tokens, SYNC_CLIENTS), 200)
        runs["sync"].append(run(sync_path, sync_work(sync_tokens, SYNC_BATCHES), 200))

    def without_kick(run: Callable[..., Run]) -> None:
        run(drf_path, single_entry_work(entry_tokens, 400), 201)
        for _ in range(ROUNDS):
            runs["quiet"].append(
                run(drf_path, single_entry_work(entry_tokens, SINGLE_REQUESTS), 201)
            )

    with tempfile.TemporaryDirectory(prefix="bench-diary-") as tmp:
        serve(Path(tmp) / "a", patients[-1].id, with_kick)
        # The same server without the relay request after each commit (an eager Celery app
        # skips it): what the single-entry path costs without that broker round trip.
        serve(Path(tmp) / "b", patients[-1].id, without_kick, CELERY_TASK_ALWAYS_EAGER="true")

    bulk_user = token_user(patients[-2].id, clinic)
    sync_batch(user=bulk_user, items=[{"kind": "entry", **entry(1)}])
    here = CpuMeter(None)
    bulk = timed(lambda: bulk_in_process(bulk_user), here)
    bare_bulk = timed(lambda: bare_bulk_in_process(patients[-2]), here)
    loop_one = timed(lambda: per_row_in_process(patients[-3], one_transaction=True), here)
    loop_each = timed(lambda: per_row_in_process(patients[-4], one_transaction=False), here)
    relay = timed(relay_in_process, here)
    here.close()
    kick = relay_kick_ms()
    purge_relay_requests()

    drf, quiet, bare = (
        max(runs[k], key=lambda run: run.per_second) for k in ("drf", "quiet", "bare")
    )
    sync = runs["sync"][0]
    sync_rows = sync.requests * SYNC_BATCH / sync.seconds
    sync_cpu_us = (
        sync.app_cpu / (sync.requests * SYNC_BATCH) * 1e6,
        sync.db_cpu / (sync.requests * SYNC_BATCH) * 1e6,
    )
    print(
        f"machine: {os.cpu_count()} cores ({_cpu_model()}), load average "
        f"{os.getloadavg()[0]:.1f} (other work slows the req/s and rows/s; the CPU columns "
        f"are the server's and its database backends' own), Python "
        f"{platform.python_version()}, {_postgres()}"
    )
    print(
        f"server: gunicorn {WORKERS} workers x {THREADS} threads (gthread), DEBUG off, "
        f"access log on, rate limit raised; database {DATABASE} (fresh, migrated)"
    )
    print(
        f"load: this process, {CONCURRENCY} keep-alive client threads over loopback, "
        f"{SINGLE_REQUESTS} requests a run, best of {ROUNDS} alternating runs; "
        f"sync: {SYNC_CLIENTS} clients x {SYNC_BATCHES // SYNC_CLIENTS} batches of {SYNC_BATCH}"
    )
    print()
    print(
        f"{'single-entry POST (concurrency 8)':<48}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'CPU ms/req app':>16}{'db':>6}"
    )
    for name, run in (
        ("POST /entries/ (DRF, token, event, relay kick)", drf),
        ("POST /entries/ without the relay kick", quiet),
        ("bare Django view, one INSERT", bare),
    ):
        app_ms, db_ms = run.cpu_ms
        print(
            f"{name:<48}{run.per_second:>7.0f}{run.percentile(0.5):>8.1f}"
            f"{run.percentile(0.99):>8.1f}{app_ms:>16.2f}{db_ms:>6.2f}"
        )
    single_ratios = (
        ("ratio DRF / bare, req/s (target >= 0.6)", drf.per_second / bare.per_second),
        ("ratio DRF / bare, by CPU per request", sum(bare.cpu_ms) / sum(drf.cpu_ms)),
        ("ratio DRF without kick / bare, req/s", quiet.per_second / bare.per_second),
        ("outbox relay kick after a commit (ms, in process)", kick),
    )
    for name, value in single_ratios:
        print(f"{name:<48}{value:>7.2f}")
    print()
    print(f"{'batch sync':<48}{'rows/s':>7}{'CPU us/row app':>16}{'db':>6}{'ceiling':>9}")
    cores = os.cpu_count() or 1
    for name, rate, (app_us, db_us) in (
        ("POST /sync/ over HTTP, 500 a request", sync_rows, sync_cpu_us),
        ("sync_batch in process, 500 a call", bulk.per_second, bulk.cpu_us),
        ("bare INSERT of 500, untracked copy (floor)", bare_bulk.per_second, bare_bulk.cpu_us),
        ("per-row ORM create + event, one transaction", loop_one.per_second, loop_one.cpu_us),
        ("per-row ORM create + event, commit each", loop_each.per_second, loop_each.cpu_us),
    ):
        ceiling = cores * 1e6 / (app_us + db_us)
        print(f"{name:<48}{rate:>7.0f}{app_us:>16.0f}{db_us:>6.0f}{ceiling:>9.0f}")
    ratios = (
        ("ratio bulk / per-row in one transaction (>= 5)", bulk.per_second / loop_one.per_second),
        ("ratio bulk / per-row, commit each", bulk.per_second / loop_each.per_second),
        ("ratio HTTP sync / per-row in one transaction", sync_rows / loop_one.per_second),
    )
    for name, ratio in ratios:
        print(f"{name:<48}{ratio:>7.1f}")
    print()
    relay_app_us, relay_db_us = relay.cpu_us
    print(f"{'outbox relay, in process':<48}{'ev/s':>7}{'CPU us/ev app':>16}{'db':>6}")
    print(
        f"{f'{relay.rows} entry events, to {len(subscribers_of(EVENT_LOGGED))} queues each':<48}"
        f"{relay.per_second:>7.0f}{relay_app_us:>16.0f}{relay_db_us:>6.0f}"
    )
    print()
    print("ceiling: rows/s if the CPU per row were the only limit, on all cores (target 20000)")
    print(
        "floor: the rows alone, unchecked, with no history, foreign key or events: what is left "
        "for everything the sync must also do"
    )
    assert settings.DATABASES["default"]["NAME"] == DATABASE


if __name__ == "__main__":
    main()
