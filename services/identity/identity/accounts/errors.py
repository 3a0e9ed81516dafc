from __future__ import annotations

from shared.api.errors import ProblemError


class EmailTaken(ProblemError):
    status_code = 409
    problem_type = "email-taken"
    title = "E-mail address in use"

    def __init__(self) -> None:
        super().__init__("An account with this e-mail address exists already.")


class InvitationInvalid(ProblemError):
    status_code = 400
    problem_type = "invalid-invitation"
    title = "Invalid invitation code"

    def __init__(self) -> None:
        super().__init__("This invitation code is not valid. Check it and try again.")


class InvitationGone(ProblemError):
    status_code = 410
    problem_type = "invitation-gone"
    title = "Invitation no longer valid"

    def __init__(self, state: str) -> None:
        super().__init__(
            f"This invitation has been {state}; ask the clinic for a new one.",
        )


class RoleNotAllowed(ProblemError):
    status_code = 403
    problem_type = "forbidden"
    title = "Not allowed"


class AccountConflict(ProblemError):
    status_code = 409
    problem_type = "conflict"
    title = "Conflict"


class PasswordResetInvalid(ProblemError):
    status_code = 400
    problem_type = "invalid-reset-code"
    title = "Invalid reset code"

    def __init__(self) -> None:
        super().__init__("This reset code is not valid. Check it and try again.")


class PasswordResetGone(ProblemError):
    status_code = 410
    problem_type = "reset-code-gone"
    title = "Reset code no longer valid"

    def __init__(self, state: str) -> None:
        super().__init__(f"This reset code has been {state}; ask the clinic for a new one.")
