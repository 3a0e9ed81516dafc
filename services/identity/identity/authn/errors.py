from __future__ import annotations

from shared.api.errors import ProblemError


class InvalidCredentials(ProblemError):
    # One answer for an unknown address, a wrong password and a disabled account alike.
    status_code = 401
    problem_type = "invalid-credentials"
    title = "Invalid credentials"

    def __init__(self) -> None:
        super().__init__("The e-mail address or the password is not right.")


class RefreshTokenRejected(ProblemError):
    status_code = 401
    problem_type = "invalid-refresh-token"
    title = "Refresh token refused"

    def __init__(self) -> None:
        super().__init__("The refresh token is not valid any more; sign in again.")


class TooManyAttempts(ProblemError):
    """429 with Retry-After (DRF's handler turns ``wait`` into the header)."""

    status_code = 429
    problem_type = "too-many-attempts"
    title = "Too many attempts"

    def __init__(self, detail: str, *, wait: int) -> None:
        super().__init__(detail)
        self.wait = wait


class InvalidClientCredentials(ProblemError):
    # One answer for an unknown client, a wrong secret and a deactivated client alike.
    status_code = 401
    problem_type = "invalid-client"
    title = "Invalid client credentials"

    def __init__(self) -> None:
        super().__init__("The client id or the client secret is not right.")
