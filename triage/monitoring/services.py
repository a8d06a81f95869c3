"""Writes of the monitoring app: the operating threshold and the PCR outcome CSV import. Each audited."""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, require_role
from triage.audit.services import record_event
from triage.core.exceptions import DomainError
from triage.decisions.exceptions import InvalidPcrDates, PcrOutcomeConflict
from triage.decisions.models import PcrOutcome
from triage.decisions.selectors import current_pcr_outcome_for
from triage.decisions.services import record_pcr_outcome
from triage.monitoring import exceptions as errors
from triage.monitoring.audit_actions import MonitoringAction
from triage.monitoring.models import MonitoringSettings
from triage.studies.models import Study

CSV_MAX_BYTES = 2 * 1024**2
REQUIRED_COLUMNS = ("accession_number", "result", "sample_taken_on")
OPTIONAL_COLUMNS = ("resulted_on", "note")

# Row error codes and their messages. Messages never repeat the row's values (they may identify a patient).
MISSING_COLUMN = "missing_column"
MISSING_VALUE = "missing_value"
BAD_RESULT = "bad_result"
BAD_DATE = "bad_date"
DUPLICATE_ROW = "duplicate_row"
UNKNOWN_ACCESSION = "unknown_accession"
AMBIGUOUS_ACCESSION = "ambiguous_accession"
CONFLICT = "conflict"
REJECTED = "rejected"
MESSAGES = {
    MISSING_COLUMN: "Required column is missing from the header.",
    MISSING_VALUE: "Required value is empty.",
    BAD_RESULT: "Result must be positive, negative or inconclusive.",
    BAD_DATE: "Date must be YYYY-MM-DD.",
    DUPLICATE_ROW: "Same accession number as line {first_line}; give each study one row.",
    UNKNOWN_ACCESSION: "No study with this accession number at this hospital.",
    AMBIGUOUS_ACCESSION: "Several studies at this hospital have this accession number; enter this one by hand.",
    CONFLICT: "The study already has a different PCR outcome; correct it on the study page with a reason.",
}


@transaction.atomic
def update_operating_threshold(*, hospital: Hospital, actor: User, operating_threshold: float) -> MonitoringSettings:
    """Set the hospital's operating threshold (hospital or platform admin); audit old/new; no-op if unchanged."""
    require_role(user=actor, hospital=hospital, roles=ADMIN_ROLES)
    if not 0.0 <= operating_threshold <= 1.0:
        raise errors.InvalidThreshold()
    row = (MonitoringSettings.objects.select_for_update().filter(hospital=hospital).first()
           or MonitoringSettings(hospital=hospital))
    old = row.operating_threshold
    if row.pk is not None and old == operating_threshold:
        return row
    row.operating_threshold, row.updated_by = operating_threshold, actor
    row.full_clean()
    row.save()
    record_event(actor=actor, action=MonitoringAction.THRESHOLD_UPDATED, hospital=hospital, target=row,
                 extra={"operating_threshold": {"old": old, "new": operating_threshold}})
    return row


@dataclass(frozen=True)
class RowError:
    line: int
    code: str
    message: str
    column: str = ""


@dataclass
class ImportReport:
    """What an import did or would do. ``committed`` is true only when every row was valid."""

    dry_run: bool
    rows: int = 0
    created: int = 0
    unchanged: int = 0
    committed: bool = False
    errors: list[RowError] = field(default_factory=list)

    def add_error(self, *, line: int, code: str, column: str = "", message: str = "", **fmt) -> None:
        self.errors.append(RowError(line=line, code=code, column=column,
                                    message=message or MESSAGES[code].format(**fmt)))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Row:
    line: int
    accession_number: str
    result: str
    sample_taken_on: date
    resulted_on: date | None
    note: str


def _parse_date(value: str) -> date:
    if len(value) != 10:
        raise ValueError(value)
    return date.fromisoformat(value)


def _decode(data: bytes) -> str:
    if len(data) > CSV_MAX_BYTES:
        raise errors.CsvRejected(errors.CSV_TOO_LARGE_MSG.format(limit_kb=CSV_MAX_BYTES // 1024))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise errors.CsvRejected(errors.CSV_NOT_TEXT_MSG) from None


def _parse_rows(text: str, report: ImportReport) -> list[_Row]:
    """Check the header and every row's format and duplicates; return the rows that passed."""
    reader = csv.DictReader(io.StringIO(text))
    header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    reader.fieldnames = header
    for column in REQUIRED_COLUMNS:
        if column not in header:
            report.add_error(line=1, code=MISSING_COLUMN, column=column)
    if report.errors:
        return []
    rows, first_line = [], {}
    for record in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in record.items() if k in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
        if not any(values.values()):
            continue  # blank line
        report.rows += 1
        before = len(report.errors)
        for column in REQUIRED_COLUMNS:
            if not values.get(column):
                report.add_error(line=line, code=MISSING_VALUE, column=column)
        result = values.get("result", "").lower()
        if result and result not in PcrOutcome.Result.values:
            report.add_error(line=line, code=BAD_RESULT, column="result")
        parsed: dict[str, date | None] = {}
        for column in ("sample_taken_on", "resulted_on"):
            try:
                parsed[column] = _parse_date(values[column]) if values.get(column) else None
            except ValueError:
                report.add_error(line=line, code=BAD_DATE, column=column)
        accession = values.get("accession_number", "")
        if accession in first_line:
            report.add_error(line=line, code=DUPLICATE_ROW, column="accession_number", first_line=first_line[accession])
        elif accession:
            first_line[accession] = line
        if len(report.errors) == before:
            rows.append(_Row(line=line, accession_number=accession, result=result,
                             sample_taken_on=parsed["sample_taken_on"], resulted_on=parsed["resulted_on"],
                             note=values.get("note", "")))
    return rows


def _record_row(row: _Row, *, hospital: Hospital, actor: User, now: datetime, report: ImportReport) -> None:
    studies = list(Study.objects.filter(hospital=hospital, accession_number=row.accession_number)[:2])
    if len(studies) != 1:
        code = UNKNOWN_ACCESSION if not studies else AMBIGUOUS_ACCESSION
        report.add_error(line=row.line, code=code, column="accession_number")
        return
    existing = current_pcr_outcome_for(study=studies[0])
    try:
        outcome = record_pcr_outcome(study=studies[0], actor=actor, result=row.result,
                                     sample_taken_on=row.sample_taken_on, resulted_on=row.resulted_on,
                                     source=PcrOutcome.Source.CSV, note=row.note, now=now)
    except PcrOutcomeConflict:
        report.add_error(line=row.line, code=CONFLICT, column="result")
    except InvalidPcrDates as exc:
        report.add_error(line=row.line, code=BAD_DATE, column=exc.extra.get("field", ""), message=exc.message)
    except DomainError as exc:
        report.add_error(line=row.line, code=REJECTED, message=exc.message)
    else:
        if existing is not None and outcome.pk == existing.pk:
            report.unchanged += 1
        else:
            report.created += 1


def import_pcr_outcomes(*, hospital: Hospital, actor: User, data: bytes, dry_run: bool,
                        now: datetime | None = None) -> ImportReport:
    """Validate a PCR outcome CSV and, unless ``dry_run``, import it: all rows or none.

    Columns: ``accession_number``, ``result`` (positive/negative/inconclusive) and
    ``sample_taken_on`` (YYYY-MM-DD) are required; ``resulted_on`` and ``note`` are optional.
    Every row goes through ``record_pcr_outcome`` inside one transaction, so a dry run reports
    exactly what an import would do (conflicts and date rules included) and is then rolled back.
    A file with any error imports nothing and raises ``PcrImportHasErrors`` with the report;
    rows identical to a study's current outcome are counted as unchanged (re-importing is safe).
    """
    require_role(user=actor, hospital=hospital, roles=ADMIN_ROLES)
    now = now or timezone.now()
    report = ImportReport(dry_run=dry_run)
    rows = _parse_rows(_decode(data), report)
    with transaction.atomic():
        for row in rows:
            _record_row(row, hospital=hospital, actor=actor, now=now, report=report)
        report.errors.sort(key=lambda e: (e.line, e.column))
        if dry_run or report.errors:
            transaction.set_rollback(True)
        else:
            report.committed = True
            record_event(actor=actor, action=MonitoringAction.PCR_IMPORTED, hospital=hospital,
                         extra={"rows": report.rows, "created": report.created, "unchanged": report.unchanged})
    if report.errors and not dry_run:
        raise errors.PcrImportHasErrors(report=report.as_dict())
    return report
