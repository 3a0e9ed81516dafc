from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.conf import LazySettings

# Test modules import their helpers (helpers, workers) from this directory.
sys.path.insert(0, str(Path(__file__).parent))

RECORDING = "reminders.channels.recording.RecordingChannel"


@pytest.fixture(autouse=True)
def _test_signing_keys(settings: LazySettings) -> None:
    """Tokens in these tests are signed by a throwaway key that only the test provider knows."""
    settings.JWT_KEY_PROVIDER = "shared.testing.tokens.TestKeyProvider"


@pytest.fixture(autouse=True)
def _recording_channels(settings: LazySettings) -> None:
    """Every channel records its sends in the database instead of reaching anyone."""
    settings.REMINDERS_CHANNELS = {name: RECORDING for name in ("push", "sms", "email", "console")}
    settings.REMINDERS_CONSOLE_WHEN_UNCONFIGURED = False
    settings.REMINDERS_RECORDING_DELAY_MS = 0
