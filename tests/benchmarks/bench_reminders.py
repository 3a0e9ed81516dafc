"""Dispatch at scale: the sweeper against Celery ETA tasks, side by side.

A dedicated PostgreSQL database holds 1,000,000 future prompts and 100,000 prompts due within
one minute. One Celery worker (prefork, one pool process per core, beat embedded, sweeping every
REMINDERS_SWEEP_SECONDS) sends the due ones through the recording channel; the table reports the
dispatch rate, lateness (sent minus due) p50/p99, the worker's memory, and the EXPLAIN of the
claim query. Then the same 100,000 are scheduled the way this service does not: one Celery task
each with an ETA, on a Redis of the bench's own, and a worker that only records when each task
ran (it does no delivery work, which flatters the ETA column).

BENCH_REMINDERS_DUE (default 100000) and BENCH_REMINDERS_FUTURE (default 1000000) scale it down
for a quick look. The run is bounded: each phase gives up after a fixed time and says so.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from celery import Celery

DUE = int(os.environ.get("BENCH_REMINDERS_DUE", "100000"))
FUTURE = int(os.environ.get("BENCH_REMINDERS_FUTURE", "1000000"))
SWEEP_SECONDS = 10
# The due prompts are spread over this minute, which starts once the worker is up.
DUE_WINDOW = timedelta(minutes=1)
LEAD_TIME = timedelta(seconds=20)
PHASE_TIMEOUT = 180.0
# ETA tasks still not run this long after the last one fell due are counted as late by at least
# the time waited: the bench stops waiting rather than run for tens of minutes.
ETA_GRACE = 60.0
BENCH_DB = "bench_reminders"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
RECORDING = "reminders.channels.recording.RecordingChannel"
ETA_RESULTS = "bench:eta:ran"

# --- The ETA side: a Celery app of its own, imported by its worker with -A ------------------

eta_app = Celery("bench_eta")
eta_app.conf.update(
    broker_url=os.environ.get("BENCH_ETA_BROKER", "memory://"),
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
_redis_client = None


@eta_app.task(name="bench.eta_prompt")
def eta_prompt(prompt_id: str, due: float) -> None:
    """What an ETA-per-prompt design would run at the prompt's time (minus the delivery)."""
    global _redis_client
    import redis

    if _redis_client is None:
        _redis_client = redis.Redis.from_url(eta_app.conf.broker_url)
    _redis_client.rpush(ETA_RESULTS, f"{due}:{time.time()}")


# --- Helpers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], seconds: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (a prefork pool), in MiB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Process:
    """A child process in its own group, stopped gently and then firmly."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as output:
            self.popen = subprocess.Popen(
                command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)


# --- Setup ------------------------------------------------------------------------------------


def database_urls() -> tuple[str, str]:
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench"))
    admin = base._replace(path="/postgres").geturl()
    return admin, base._replace(path=f"/{BENCH_DB}").geturl()


def recreate_database(admin_url: str) -> None:
    import psycopg2

    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {BENCH_DB}")
    connection.close()


def drop_database(admin_url: str) -> None:
    import psycopg2

    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    connection.close()


def _copy(cursor: object, table: str, columns: str, rows: Iterator[str]) -> None:
    buffer = io.StringIO()
    for count, row in enumerate(rows, start=1):
        buffer.write(row)
        if count % 100_000 == 0:
            buffer.seek(0)
            cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)  # type: ignore[attr-defined]
            buffer = io.StringIO()
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)  # type: ignore[attr-defined]


PROMPT_COLUMNS = (
    "id, patient_id, clinic_id, course_id, anchor_id, injection_id, template_version, "
    "offset_key, kind, instrument, timezone, local_date, local_time, intended_at, due_at, "
    "expires_at, status, channels, nudge_max, nudges_sent, attempt, failures, channel, "
    "cancel_reason, created_at, updated_at"
)


def _prompt_row(patient: str, clinic: str, due: datetime, key: str) -> str:
    anchor = str(uuid.uuid4())
    stamp = due.isoformat()
    expires = (due + timedelta(hours=24)).isoformat()
    return (
        f"{uuid.uuid4()}\t{patient}\t{clinic}\t{anchor}\t{anchor}\t{anchor}\t1\t{key}\tflare\t"
        f"nrs\tEurope/London\t{due.date()}\t{due.time()}\t{stamp}\t{stamp}\t{expires}\tpending\t"
        f'["push"]\t0\t0\t0\t0\t\t\t{stamp}\t{stamp}\n'
    )


def generate() -> tuple[float, int, datetime]:
    """Patients with a phone each, FUTURE prompts ahead and DUE prompts in one minute (which
    starts LEAD_TIME after the load, time for the worker to start)."""
    import random

    from django.db import connection

    started = time.perf_counter()
    clinic = str(uuid.uuid4())
    patients = [str(uuid.uuid4()) for _ in range(DUE)]
    now = datetime.now(tz=UTC)
    rng = random.Random(20261121)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        _copy(
            raw,
            "patients_patient",
            "id, clinic_id, timezone, locale, active, updated_at",
            (f"{p}\t{clinic}\tEurope/London\ten\ttrue\t{now.isoformat()}\n" for p in patients),
        )
        _copy(
            raw,
            "patients_device",
            "id, patient_id, platform, token, token_digest, created_at, registered_at",
            (
                f"{uuid.uuid4()}\t{p}\tandroid\tfcm-{p}\t{uuid.uuid4().hex}\t"
                f"{now.isoformat()}\t{now.isoformat()}\n"
                for p in patients
            ),
        )
        year = timedelta(days=365).total_seconds()
        _copy(
            raw,
            "prompts_prompt",
            PROMPT_COLUMNS,
            (
                _prompt_row(
                    patients[i % DUE],
                    clinic,
                    now + timedelta(days=1, seconds=rng.random() * year),
                    "future",
                )
                for i in range(FUTURE)
            ),
        )
        window = DUE_WINDOW.total_seconds()
        due_start = datetime.now(tz=UTC) + LEAD_TIME
        _copy(
            raw,
            "prompts_prompt",
            PROMPT_COLUMNS,
            (
                _prompt_row(p, clinic, due_start + timedelta(seconds=rng.random() * window), "due")
                for p in patients
            ),
        )
        cursor.execute("ANALYZE")
    return time.perf_counter() - started, FUTURE + DUE, due_start


def claim_plan() -> str:
    from django.db import connection

    from reminders.prompts.services.dispatch import claim_params, claim_sql

    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN " + claim_sql("due"),
            claim_params(now=datetime.now(tz=UTC) + timedelta(minutes=2), limit=1000),
        )
        return "\n".join(row[0] for row in cursor.fetchall())


# --- The two runs -----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # utime and stime are fields 14 and 15 of stat(5), counted from the state (field 3).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time used by groups of processes from a starting point: each process's latest
    reading minus its reading at the start (0 for processes that started later). A process that
    ends between two readings loses at most one interval of CPU time."""

    def __init__(self) -> None:
        self.start: dict[str, dict[int, float]] = {}
        self.latest: dict[str, dict[int, float]] = {}
        self.started = False

    def read(self, groups: dict[str, list[int]]) -> None:
        for group, pids in groups.items():
            latest = self.latest.setdefault(group, {})
            for pid in pids:
                used = cpu_seconds(pid)
                if used:
                    latest[pid] = used
        if not self.started:
            self.start = {group: dict(values) for group, values in self.latest.items()}
            self.started = True

    def used(self, group: str) -> float:
        start = self.start.get(group, {})
        return sum(v - start.get(pid, 0.0) for pid, v in self.latest.get(group, {}).items())


def worker_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid]
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    return pids


def run_sweeper(
    env: dict[str, str], work: Path, due_start: datetime, broker_pid: int
) -> dict[str, object]:
    from django.db import connection

    command = [sys.executable, "-m", "celery", "-A", "reminders.celery_app", "worker"]
    command += ["--queues", "reminders", "--pool", "prefork", "--concurrency", str(os.cpu_count())]
    command += ["--beat", "--schedule", str(work / "beat-schedule"), "--hostname", "bench@%h"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"]
    worker = Process(command, {**env, "LOG_LEVEL": "INFO"}, work / "sweeper-worker.log")
    peak = 0.0
    meter = CpuMeter()
    due_end = due_start + DUE_WINDOW + timedelta(minutes=1)

    def processes() -> dict[str, list[int]]:
        # The database's share: the server processes of the worker's connections (not this
        # script's own, which only polls).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            backends = [int(row[0]) for row in cursor.fetchall()]
        return {
            "worker": worker_pids(worker.popen.pid),
            "database": backends,
            "broker": [broker_pid],
        }

    def all_sent() -> bool:
        nonlocal peak
        peak = max(peak, rss_mib(worker.popen.pid))
        if meter.started or datetime.now(tz=UTC) >= due_start - timedelta(seconds=2):
            # From just before the first prompt falls due: start-up is not dispatch.
            meter.read(processes())
        with connection.cursor() as cursor:
            # Counted through the partial indexes of pending and claimed prompts: a count over
            # the whole table every second would cost the database more than some of the work
            # measured.
            cursor.execute(
                "SELECT (SELECT count(*) FROM prompts_prompt WHERE status = 'pending' "
                "AND due_at <= %s) + (SELECT count(*) FROM prompts_prompt "
                "WHERE status = 'sending')",
                [due_end],
            )
            return int(cursor.fetchone()[0]) == 0

    try:
        wait = (due_start - datetime.now(tz=UTC)).total_seconds() + DUE_WINDOW.total_seconds()
        finished = wait_until(all_sent, wait + PHASE_TIMEOUT, every=1.0)
    finally:
        worker.stop()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), min(sent_at), max(sent_at), "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - due_at)), "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - due_at)), "
            "max(extract(epoch FROM sent_at - due_at)) "
            "FROM prompts_prompt WHERE offset_key = 'due' AND sent_at IS NOT NULL"
        )
        sent, first, last, p50, p99, worst = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM (SELECT prompt_id FROM channels_recordedsend "
            "GROUP BY prompt_id HAVING count(*) > 1) twice"
        )
        twice = int(cursor.fetchone()[0])
        # The worker sends in bursts, one per sweep: its rate is what it sends per second of
        # sending, not per second of the minute (which only says how fast prompts fell due).
        cursor.execute(
            "SELECT count(DISTINCT date_trunc('second', sent_at)) FROM prompts_prompt "
            "WHERE offset_key = 'due' AND sent_at IS NOT NULL"
        )
        busy_seconds = int(cursor.fetchone()[0])
    span = (last - first).total_seconds() if first and last and last > first else float("nan")
    return {
        "tasks": task_times(worker.output()),
        "cpu": {group: meter.used(group) for group in ("worker", "database", "broker")},
        "finished": finished,
        "sent": sent,
        "rate": sent / busy_seconds if busy_seconds else float("nan"),
        "span": span,
        "p50": p50,
        "p99": p99,
        "worst": worst,
        "rss": peak,
        "twice": twice,
    }


def run_eta(redis_url: str, work: Path) -> dict[str, object]:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    env = {**os.environ, "BENCH_ETA_BROKER": redis_url, "PYTHONPATH": str(Path(__file__).parent)}
    command = [sys.executable, "-m", "celery", "-A", "bench_reminders:eta_app", "worker"]
    command += ["--pool", "prefork", "--concurrency", str(os.cpu_count()), "-n", "eta@%h"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
    worker = Process(command, env, work / "eta-worker.log")
    eta_app.conf.broker_url = redis_url
    baseline = 0.0
    try:
        time.sleep(5)
        baseline = rss_mib(worker.popen.pid)
        # The minute they fall due starts shortly after the last is enqueued: the enqueue rate
        # of a first thousand tells when that will be.
        window = DUE_WINDOW.total_seconds()
        enqueue_started = time.perf_counter()
        start: datetime | None = None
        with eta_app.producer_or_acquire() as producer:
            for index in range(DUE):
                if index == 1000 or (start is None and index == DUE - 1):
                    per_task = (time.perf_counter() - enqueue_started) / max(index, 1)
                    start = datetime.now(tz=UTC) + timedelta(seconds=per_task * DUE * 1.2 + 15)
                due = (start or datetime.now(tz=UTC) + timedelta(seconds=60)) + timedelta(
                    seconds=window * index / DUE
                )
                eta_prompt.apply_async(
                    args=(str(uuid.uuid4()), due.timestamp()), eta=due, producer=producer
                )
        enqueue_seconds = time.perf_counter() - enqueue_started
        start = start or datetime.now(tz=UTC)
        # ETA tasks leave the queue for the worker's memory as soon as it can take them.
        wait_until(lambda: client.llen("celery") == 0, PHASE_TIMEOUT)
        holding = rss_mib(worker.popen.pid)
        until_due = (start - datetime.now(tz=UTC)).total_seconds() + window
        finished = wait_until(
            lambda: client.llen(ETA_RESULTS) >= DUE, max(until_due, 0) + ETA_GRACE, every=1.0
        )
        stopped = time.time()
        lateness = []
        for raw in client.lrange(ETA_RESULTS, 0, -1):
            due_at, ran = (float(part) for part in raw.decode().split(":"))
            lateness.append(ran - due_at)
        ran_count = len(lateness)
        # Not run yet: late by at least the time from the last due to now.
        lateness += [stopped - (start.timestamp() + window)] * (DUE - ran_count)
    finally:
        worker.stop()
        client.flushdb()
        client.close()
    return {
        "finished": finished,
        "enqueue": enqueue_seconds,
        "enqueue_rate": DUE / enqueue_seconds,
        "rss_idle": baseline,
        "rss": holding,
        "ran": ran_count,
        "p50": percentile(lateness, 0.5),
        "p99": percentile(lateness, 0.99),
        "worst": max(lateness) if lateness else float("nan"),
    }


def task_times(log: str) -> dict[str, tuple[int, float]]:
    """Per task name: how many ran and the worker seconds they took, from the worker's log."""
    import json
    import re

    pattern = re.compile(r"Task ([\w.]+)\[[^\]]+\] succeeded in ([0-9.]+)s")
    totals: dict[str, tuple[int, float]] = {}
    for line in log.splitlines():
        try:
            message = json.loads(line).get("message", "")
        except ValueError:
            continue
        found = pattern.search(message)
        if found:
            count, seconds = totals.get(found[1], (0, 0.0))
            totals[found[1]] = (count + 1, seconds + float(found[2]))
    return totals


def start_redis(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    import redis

    port = free_port()
    command = [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(work)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_connect_timeout=0.2)

    def pings() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    assert wait_until(pings, 10, every=0.05), "redis-server did not start"
    client.close()
    return server, f"redis://127.0.0.1:{port}/0"


def main() -> None:
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="bench-reminders-"))
    admin_url, database_url = database_urls()
    recreate_database(admin_url)
    redis_server, redis_url = start_redis(work)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "reminders.settings",
        "DATABASE_URL": database_url,
        "BROKER_URL": redis_url,
        "CACHE_URL": redis_url,
        "REMINDERS_SWEEP_SECONDS": str(SWEEP_SECONDS),
        "REMINDERS_CONSOLE_WHEN_UNCONFIGURED": "false",
        "LOG_LEVEL": "WARNING",
        **{f"REMINDERS_CHANNEL_{n}": RECORDING for n in ("PUSH", "SMS", "EMAIL", "CONSOLE")},
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
        load_seconds, rows, due_start = generate()
        plan = claim_plan()
        sweeper = run_sweeper(env, work, due_start, redis_server.pid)
        eta = run_eta(redis_url, work)
    finally:
        from django.db import connections

        connections.close_all()
        redis_server.kill()
        redis_server.wait(timeout=10)
        drop_database(admin_url)
        if os.environ.get("BENCH_REMINDERS_KEEP"):
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(f"rows loaded: {rows:,} prompts in {load_seconds:.0f} s; {DUE:,} due within one minute")
    print(f"sweep every {SWEEP_SECONDS} s; one worker, {os.cpu_count()} pool processes\n")
    print(f"{'measure':<34}{'sweeper (this service)':>24}{'Celery ETA per prompt':>24}")

    def row(label: str, left: str, right: str) -> None:
        print(f"{label:<34}{left:>24}{right:>24}")

    row("prompts sent / tasks run", f"{sweeper['sent']:,}", f"{eta['ran']:,}")
    row("dispatch rate while sending (/s)", f"{sweeper['rate']:,.0f}", "n/a (no delivery)")
    row("first to last send (s)", f"{sweeper['span']:.0f}", "")
    row(f"time to enqueue {DUE:,}", "none (rows are the queue)", f"{eta['enqueue']:.1f} s")
    at_least = "" if eta["finished"] else ">= "
    row("lateness p50 (s)", f"{sweeper['p50']:.1f}", f"{at_least}{eta['p50']:.1f}")
    row("lateness p99 (s)", f"{sweeper['p99']:.1f}", f"{at_least}{eta['p99']:.1f}")
    row("lateness max (s)", f"{sweeper['worst']:.1f}", f"{at_least}{eta['worst']:.1f}")
    row("worker RSS (MiB, peak / holding)", f"{sweeper['rss']:.0f}", f"{eta['rss']:.0f}")
    row("worker RSS idle (MiB)", "", f"{eta['rss_idle']:.0f}")
    row("prompts sent twice", f"{sweeper['twice']}", "")
    row("finished within the time limit", str(sweeper["finished"]), str(eta["finished"]))
    target = SWEEP_SECONDS + 10
    print(
        f"\ntargets: dispatch >= 2,000/s ({'met' if sweeper['rate'] >= 2000 else 'NOT met'}); "
        f"p99 lateness <= {target} s ({'met' if sweeper['p99'] <= target else 'NOT met'})"
    )
    cpu: dict[str, float] = sweeper["cpu"]  # type: ignore[assignment]
    sent = int(sweeper["sent"])  # type: ignore[call-overload]
    if sent:
        per_prompt = {group: 1000 * seconds / sent for group, seconds in cpu.items()}
        total = sum(per_prompt.values())
        cores = os.cpu_count() or 1
        print(
            "CPU per prompt sent (ms): "
            + ", ".join(f"{group} {ms:.2f}" for group, ms in per_prompt.items())
            + f"; total {total:.2f}, so at most about {1000 * cores / total:,.0f}/s on "
            f"{cores} cores (the dispatch rate above is measured; this is less sensitive to "
            "other load on the machine)"
        )
    print("\nworker time by task (sweeper run):")
    for name, (count, seconds) in sorted(sweeper["tasks"].items()):  # type: ignore[attr-defined]
        print(
            f"  {name:<32}{count:>8} runs{seconds:>10.1f} s{1000 * seconds / count:>10.1f} ms each"
        )
    print("\nEXPLAIN of the claim query:")
    print(plan)


if __name__ == "__main__":
    main()
