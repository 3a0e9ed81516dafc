"""The offline sync's refusals of a whole request."""

from __future__ import annotations

from shared.api.errors import ProblemError


class TooManyItems(ProblemError):
    status_code = 413
    problem_type = "too-many-items"
    title = "Too many items"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"A sync carries at most {limit} items; send the rest in further requests."
        )
