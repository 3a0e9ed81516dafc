from __future__ import annotations

from shared.api.errors import ProblemError


class DeviceNotFound(ProblemError):
    status_code = 404
    problem_type = "not-found"
    title = "Not found"

    def __init__(self) -> None:
        super().__init__("No such device of yours.")


class PatientUnknown(ProblemError):
    status_code = 404
    problem_type = "not-found"
    title = "Not found"

    def __init__(self) -> None:
        super().__init__("Reminders does not know this patient yet.")
