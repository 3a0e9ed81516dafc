"""The dashboard in a real browser: every service under gunicorn with its Celery worker on fresh
PostgreSQL databases and Redis, a clinic's months of data made through the public APIs by the
demo simulator, and Debian's Chromium driven headless by Playwright.

Redis: the broker is this suite's database (scripts/suites.txt, 9); each service's cache is its
own database from the next four (10-13), as each service has its own in a deployment.
Screenshots of every page go to var/screenshots/browser/ (git ignores var/).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest
import redis
import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "deploy" / "embedded"))

from embedded.stack import Service  # noqa: E402
from livestack import add_transcripts_to, running_stack  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "var" / "screenshots" / "browser"
BROKER_URL = os.environ.get("BROKER_URL", "redis://127.0.0.1:6379/9")
DEMO_PASSWORD = "recovery-demo-2026"
CLINICIAN = "clinician@demo.example"
SECOND_CLINICIAN = "clinician2@demo.example"
ADMIN = "admin@demo.example"
# Small enough to make in a few minutes, big enough for cohorts of more than ten patients.
PATIENTS = 36
SECOND_CLINIC_PATIENTS = 6
MONTHS = 12
SEED = 2026
# How long the simulator waits for reminders and outcomes to take in its events.
WAIT_SECONDS = 240.0
# A tablet in landscape.
VIEWPORT = {"width": 1180, "height": 820}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    add_transcripts_to(outcome.get_result())  # type: ignore[attr-defined]


def _redis_db(url: str, offset: int) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(path=f"/{int(parsed.path.strip('/') or 0) + offset}"))


def ensure_chromium() -> Path:
    """Debian's Chromium, installed from the distribution when missing (never a download of
    Playwright's own browsers)."""
    if not CHROMIUM.exists():
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, env=env, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(install, env=env, check=True)
    assert CHROMIUM.exists(), "Chromium is not installed and could not be"
    return CHROMIUM


# --- The services and their data ------------------------------------------------------------------


@dataclass
class Demo:
    services: dict[str, Service]
    # Names of the second clinic's patients: none may show on the first clinic's pages.
    second_clinic_names: list[str] = field(default_factory=list)

    def url(self, name: str, path: str = "") -> str:
        return self.services[name].url + path

    def token(self, email: str = CLINICIAN) -> str:
        """An access token of a demo account, for reading the API beside the pages."""
        response = requests.post(
            self.url("identity", "/api/identity/v1/auth/token/"),
            json={"email": email, "password": DEMO_PASSWORD},
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["access"])

    def api(self, service: str, path: str, email: str = CLINICIAN, **params: Any) -> Any:
        response = requests.get(
            self.url(service, f"/api/{service}/v1/{path}"),
            params=params,
            headers={"Authorization": f"Bearer {self.token(email)}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


def _second_clinic(identity: str) -> None:
    """The second clinic and its clinician, made through identity's administration API when the
    demo seed does not make them."""
    signed_in = requests.post(
        f"{identity}/api/identity/v1/auth/token/",
        json={"email": SECOND_CLINICIAN, "password": DEMO_PASSWORD},
        timeout=10,
    )
    if signed_in.status_code == 200:
        return
    admin = requests.post(
        f"{identity}/api/identity/v1/auth/token/",
        json={"email": ADMIN, "password": DEMO_PASSWORD},
        timeout=10,
    )
    admin.raise_for_status()
    headers = {"Authorization": f"Bearer {admin.json()['access']}"}
    clinic = requests.post(
        f"{identity}/api/identity/v1/clinics/",
        json={"name": "Riverside Pain Clinic", "timezone": "Europe/Dublin"},
        headers=headers,
        timeout=10,
    )
    clinic.raise_for_status()
    invitation = requests.post(
        f"{identity}/api/identity/v1/clinics/{clinic.json()['id']}/invitations/",
        json={"email": SECOND_CLINICIAN, "role": "clinician", "full_name": "Dr Riley Quinn"},
        headers=headers,
        timeout=10,
    )
    invitation.raise_for_status()
    accepted = requests.post(
        f"{identity}/api/identity/v1/invitations/accept/",
        json={
            "code": invitation.json()["code"],
            "password": DEMO_PASSWORD,
            "timezone": "Europe/Dublin",
        },
        timeout=10,
    )
    accepted.raise_for_status()


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    names = ("identity", "diary", "reminders", "outcomes")
    caches = {name: _redis_db(BROKER_URL, offset) for offset, name in enumerate(names, start=1)}
    for url in (BROKER_URL, *caches.values()):
        redis.Redis.from_url(url).flushdb()
    with running_stack(
        names=names,
        database_prefix="browser",
        broker_url=BROKER_URL,
        cache_urls=caches,
        workdir=tmp_path_factory.mktemp("stack"),
        workers=True,
        threads=4,
        extra_env={
            "identity": {
                # The simulator signs dozens of patients in from one address.
                "RATE_LIMIT_ANON": "100000/min",
                "RATE_LIMIT_USER_WRITES": "100000/min",
            },
            "diary": {"RATE_LIMIT_USER_WRITES": "100000/min"},
            "reminders": {"RATE_LIMIT_USER_WRITES": "100000/min"},
        },
    ) as stack:
        from embedded.simulator import ServiceUrls, SimulationFailed, simulate

        _second_clinic(stack["identity"].url)
        try:
            simulate(
                ServiceUrls(
                    identity=stack["identity"].url,
                    diary=stack["diary"].url,
                    reminders=stack["reminders"].url,
                    outcomes=stack["outcomes"].url,
                ),
                patients=PATIENTS,
                second_clinic_patients=SECOND_CLINIC_PATIENTS,
                months=MONTHS,
                seed=SEED,
                now=datetime.now(UTC),
                workers=4,
                progress=lambda message: stack.transcript.echo("simulator", message),
                wait_seconds=WAIT_SECONDS,
            )
        except SimulationFailed as exc:
            # A fixture's failure is reported after its processes are gone: show their output.
            raise RuntimeError(f"{exc}\n{stack.transcript.text()}") from exc
        demo = Demo(services=stack.services)
        people = demo.api("identity", "patients/", email=SECOND_CLINICIAN, page_size=200)
        demo.second_clinic_names = [p["full_name"] for p in people["results"] if p["full_name"]]
        yield demo


# --- The browser ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(executable),
            headless=True,
            # The tests run as root in a container, where Chromium's sandbox cannot start.
            args=["--no-sandbox"],
        )
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A browser page with what it logged: console errors, failed requests, uncaught errors."""

    page: Any
    name: str
    errors: list[str] = field(default_factory=list)
    shots: int = 0

    def screenshot(self, what: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = SCREENSHOTS / f"{self.name}-{self.shots:02d}-{what}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def check_accessibility(self, within: str | None = None) -> None:
        """axe-core's rules on the page as it is now (or on the part ``within`` selects): no
        serious or critical violation."""
        self.page.add_script_tag(path=str(AXE))
        result = self.page.evaluate(
            """within => axe.run(within ? {include: [within]} : document,
                                 {resultTypes: ['violations']})""",
            within,
        )
        serious = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(node["target"]) for node in v["nodes"][:3])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not serious, "\n".join(serious)

    def check_no_console_errors(self) -> None:
        assert not self.errors, "\n".join(self.errors)

    def sign_in(self, url: str, email: str = CLINICIAN, password: str = DEMO_PASSWORD) -> None:
        """Open ``url`` and sign in on the page it sends an anonymous visitor to."""
        self.page.goto(url)
        self.page.get_by_label("E-mail address").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state("networkidle")


@contextlib.contextmanager
def _tab(browser: Any, name: str, **options: Any) -> Iterator[Tab]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, **options)
    page = context.new_page()
    tab = Tab(page=page, name=name[:60])

    def on_console(message: Any) -> None:
        url = str(message.location.get("url", ""))
        if message.type == "error":
            tab.errors.append(f"console: {message.text} ({url})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: tab.errors.append(f"uncaught: {error}"))
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def tab(browser: Any, request: pytest.FixtureRequest) -> Iterator[Tab]:
    with _tab(browser, request.node.name.removeprefix("test_")) as opened:
        yield opened


@pytest.fixture
def other_tab(browser: Any, request: pytest.FixtureRequest) -> Iterator[Tab]:
    """A second person's browser, elsewhere: its own cookies, in Chicago's time zone."""
    name = "other-" + request.node.name.removeprefix("test_")
    with _tab(browser, name, timezone_id="America/Chicago") as opened:
        yield opened
