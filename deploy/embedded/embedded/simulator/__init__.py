"""The demo's data, made the way real data is: a phone-app and clinician simulator that drives the
services' public HTTP APIs (invitations, sign-in, injections, diary entries online and offline,
questionnaires, answers to prompts) for a clinic's last months. See docs/demo.md."""

from embedded.simulator.engine import (
    ServiceUrls,
    SimulationFailed,
    SimulationSummary,
    simulate,
)

__all__ = ["ServiceUrls", "SimulationFailed", "SimulationSummary", "simulate"]
