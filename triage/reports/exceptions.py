"""Narrow errors of the reports app; messages are constants and never contain patient data."""
from triage.core.exceptions import Conflict, DomainError

SIGNED_BY_OTHER_MSG = "Another radiologist signed this study at {time}; reload to see their report."
CHANGED_SINCE_READ_MSG = "This report changed at {time} (now version {version}); reload to see the latest version."
STALE_VERSION_MSG = "The report version you saw is not the latest; reload to see the current report."
ALREADY_SIGNED_MSG = "This study already has a signed report; add an addendum instead."
NOT_SIGNED_YET_MSG = "This study has no signed report yet; sign the report first."
STUDY_NOT_READY_MSG = "Only a study whose AI analysis is ready can be signed (this one is {status})."
NO_CURRENT_RESULT_MSG = "This study has no current AI result to review."
UNKNOWN_LABEL_MSG = "Unknown label {label!r}; expected one of: {labels}."
ADDENDUM_NEEDS_COMMENT_MSG = "An addendum needs a comment saying what it adds or corrects."
INCOMPLETE_UNCONFIRMED_MSG = ("This series is incomplete ({missing}); the AI numbers cover only the slices received. "
                              "Confirm that you have seen the missing slices (confirmed_incomplete=true) to sign anyway.")


class ReportConflict(Conflict):
    """The study's report changed since the radiologist read it (someone else signed first)."""

    def __init__(self, message: str, *, current_version: int, signed_at):
        super().__init__(message, extra={"current_version": current_version,
                                         "signed_at": signed_at.isoformat() if signed_at else None})


class StudyNotReviewable(Conflict):
    """The study has no ready, current AI result to review."""


class InvalidLabel(DomainError):
    def __init__(self, *, label: str, labels: list[str]):
        super().__init__(UNKNOWN_LABEL_MSG.format(label=label, labels=", ".join(labels)),
                         extra={"field": "label", "labels": labels})


class IncompleteNotConfirmed(DomainError):
    """Signing a study with missing slices without saying so: the reader must have seen the hole."""

    def __init__(self, *, incomplete: dict):
        missing = "; ".join(f"about {gap['missing']} slice{'s' if gap['missing'] != 1 else ''} missing after slice "
                            f"{gap['after_slice']}" for gap in incomplete["gaps"])
        super().__init__(INCOMPLETE_UNCONFIRMED_MSG.format(missing=missing),
                         extra={"field": "confirmed_incomplete", **incomplete})
