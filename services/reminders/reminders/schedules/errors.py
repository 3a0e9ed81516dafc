from __future__ import annotations

from shared.api.errors import ProblemError


class TemplateInvalid(ProblemError):
    status_code = 400
    problem_type = "validation-error"
    title = "Invalid input"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first['field']}: {first['message']}{more}", errors=errors)


class TemplateConflict(ProblemError):
    status_code = 409
    problem_type = "conflict"
    title = "Conflict"


class TemplateNotEditable(ProblemError):
    status_code = 403
    problem_type = "forbidden"
    title = "Not allowed"
