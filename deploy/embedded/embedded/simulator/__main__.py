"""``python -m embedded.simulator``: fill running services with the demo clinics' history.

Run from deploy/embedded (or with it on PYTHONPATH), against `make run`'s services or any others.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from embedded.simulator.engine import ServiceUrls, SimulationFailed, simulate
from embedded.simulator.story import DEFAULT_SEED


def _moment(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError("give a UTC offset, e.g. 2026-03-01T12:00:00+00:00")
    return parsed.astimezone(UTC)


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m embedded.simulator",
        description="Act out months of the demo clinics through the services' public APIs: a "
        "clinician invites patients and records their injections, their phones log pain online "
        "and offline, fill in questionnaires and answer prompts. Running it again with the same "
        "seed and --now adds nothing.",
    )
    cli.add_argument("--base-url", default="http://127.0.0.1", help="host of every service")
    cli.add_argument(
        "--base-port",
        type=int,
        default=8000,
        help="identity on base+1, diary +2, reminders +3, outcomes +4 (as make run)",
    )
    for service in ("identity", "diary", "reminders", "outcomes"):
        cli.add_argument(f"--{service}-url", help=f"{service}'s own URL (overrides the above)")
    cli.add_argument("--patients", type=int, default=200, help="Demo Spine Clinic's patients")
    cli.add_argument(
        "--second-clinic-patients",
        type=int,
        default=None,
        help="Riverside Pain Clinic's patients (default: a tenth of --patients; 0: none)",
    )
    cli.add_argument("--months", type=int, default=18, help="how much history")
    cli.add_argument("--seed", type=int, default=DEFAULT_SEED)
    cli.add_argument("--now", type=_moment, default=None, help="when the story ends (default: now)")
    cli.add_argument("--clinician", default="clinician@demo.example")
    cli.add_argument("--password", default="recovery-demo-2026", help="the demo accounts'")
    cli.add_argument("--workers", type=int, default=4, help="patients handled at once")
    cli.add_argument(
        "--wait", type=float, default=900.0, help="seconds to wait for the workers to catch up"
    )
    return cli


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    ports = {
        name: args.base_port + offset
        for offset, name in enumerate(("identity", "diary", "reminders", "outcomes"), start=1)
    }
    urls = ServiceUrls(
        **{
            name: getattr(args, f"{name}_url") or f"{args.base_url}:{port}"
            for name, port in ports.items()
        }
    )
    try:
        summary = simulate(
            urls,
            patients=args.patients,
            second_clinic_patients=args.second_clinic_patients,
            months=args.months,
            seed=args.seed,
            now=args.now,
            clinician_email=args.clinician,
            password=args.password,
            workers=args.workers,
            wait_seconds=args.wait,
            progress=lambda line: print(line, flush=True),
        )
    except SimulationFailed as exc:
        for line in exc.summary.lines():
            print(line)
        print(f"not complete: {exc}", file=sys.stderr)
        return 1
    for line in summary.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
