"""Narrow errors of the decisions app; messages are constants and never contain patient data."""
from triage.core.exceptions import Conflict, DomainError

UNKNOWN_CHOICE_MSG = "Unknown value {value!r}; expected one of: {choices}."
REASON_REQUIRED_MSG = "Give a reason when the decision differs from the suggestion ({suggested})."
PCR_CONFLICT_MSG = ("This study already has an RT-PCR result ({result}, sample taken {sampled}). "
                    "To change it, enter a correction with a reason.")
SAMPLE_IN_FUTURE_MSG = "The sample date cannot be in the future."
RESULTED_BEFORE_SAMPLE_MSG = "The result date cannot be before the sample date."
RESULTED_IN_FUTURE_MSG = "The result date cannot be in the future."
THRESHOLDS_ORDER_MSG = ("Thresholds must satisfy 0 ≤ test probability ≤ care probability ≤ 1 and "
                        "care severity ≤ critical severity ≤ {max_total}.")


class PcrOutcomeConflict(Conflict):
    """A different PCR result was entered for a study that has one, without a correction reason."""

    def __init__(self, *, current):
        super().__init__(PCR_CONFLICT_MSG.format(result=current.result, sampled=current.sample_taken_on.isoformat()),
                         extra={"current": {"uuid": str(current.uuid), "result": current.result,
                                            "sample_taken_on": current.sample_taken_on.isoformat()}})


class InvalidPcrDates(DomainError):
    def __init__(self, message: str, *, field: str):
        super().__init__(message, extra={"field": field})
