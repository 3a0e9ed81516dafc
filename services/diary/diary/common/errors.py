"""The diary's domain errors, each answered as one problem-details shape."""

from __future__ import annotations

from diary.common.validation import Error
from shared.api.errors import ProblemError


class InvalidInput(ProblemError):
    status_code = 400
    problem_type = "validation-error"
    title = "Invalid input"

    def __init__(self, errors: list[Error]) -> None:
        first = errors[0] if errors else {"field": "", "message": "The request is not valid."}
        where = f"{first['field']}: " if first["field"] else ""
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{where}{first['message']}{more}", errors=errors)


class VersionRequired(ProblemError):
    status_code = 428
    problem_type = "precondition-required"
    title = "Version required"

    def __init__(self) -> None:
        super().__init__(
            'Say which version you are changing: an If-Match: "<version>" header (the ETag of '
            "the GET) or a version field."
        )


class VersionMismatch(ProblemError):
    status_code = 412
    problem_type = "precondition-failed"
    title = "Changed since you read it"

    def __init__(self, current: int) -> None:
        super().__init__(
            f"It has been changed since; the current version is {current}. "
            "Read it again and re-apply your change."
        )
        self.current = current


class IdConflict(ProblemError):
    status_code = 409
    problem_type = "id-conflict"
    title = "Id already used"

    def __init__(self, what: str) -> None:
        super().__init__(
            f"A {what} with this id exists already with different content. "
            "Send a correction with its version instead, or use a new id."
        )


class AlreadyDeleted(ProblemError):
    status_code = 410
    problem_type = "deleted"
    title = "Deleted"

    def __init__(self, what: str) -> None:
        super().__init__(f"The {what} with this id has been deleted.")


class PatientErased(ProblemError):
    status_code = 403
    problem_type = "patient-erased"
    title = "Account erased"

    def __init__(self) -> None:
        super().__init__("This patient's data has been erased; the diary accepts nothing more.")
