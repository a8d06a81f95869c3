"""Narrow errors of the monitoring app; messages are constants and never contain patient data."""
from triage.core.exceptions import DomainError

THRESHOLD_RANGE_MSG = "The operating threshold must be between 0 and 1."
CSV_TOO_LARGE_MSG = "The CSV file is larger than {limit_kb} KB; split it into smaller files."
CSV_HAS_ERRORS_MSG = "The CSV file has {count} error(s); nothing was imported. Fix them and upload again."
CSV_NOT_TEXT_MSG = "The file is not UTF-8 text."


class InvalidThreshold(DomainError):
    def __init__(self):
        super().__init__(THRESHOLD_RANGE_MSG, extra={"field": "operating_threshold"})


class CsvRejected(DomainError):
    """The upload cannot be read as a CSV at all (too large, not text)."""

    status_code = 422


class PcrImportHasErrors(DomainError):
    """The import was validated and refused: the report lists every error by line."""

    status_code = 422

    def __init__(self, *, report: dict):
        super().__init__(CSV_HAS_ERRORS_MSG.format(count=len(report["errors"])), extra={"report": report})
