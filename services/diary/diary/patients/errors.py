from __future__ import annotations

from shared.api.errors import ProblemError


class PatientNotEnrolled(ProblemError):
    status_code = 403
    problem_type = "not-enrolled"
    title = "Not enrolled"

    def __init__(self) -> None:
        super().__init__("Your sign-in names no clinic; the diary needs one to keep your data.")
