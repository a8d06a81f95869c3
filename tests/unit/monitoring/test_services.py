"""Operating threshold and PCR CSV import: audit, no-ops, all-or-nothing, a bad-input corpus."""
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied

from triage.audit.models import AuditEvent
from triage.decisions.models import PcrOutcome
from triage.monitoring import services
from triage.monitoring.audit_actions import MonitoringAction
from triage.monitoring.exceptions import CsvRejected, InvalidThreshold, PcrImportHasErrors
from triage.monitoring.selectors import operating_threshold_for
from tests.unit.monitoring.factories import make_case

pytestmark = pytest.mark.django_db
HEADER = "accession_number,result,sample_taken_on,resulted_on\n"


def test_update_operating_threshold__saves_and_audits_old_and_new(hospital_a, admin_a):
    services.update_operating_threshold(hospital=hospital_a, actor=admin_a, operating_threshold=0.35)
    assert operating_threshold_for(hospital=hospital_a) == 0.35
    event = AuditEvent.objects.get(action=MonitoringAction.THRESHOLD_UPDATED)
    assert event.extra == {"operating_threshold": {"old": 0.5, "new": 0.35}} and event.actor == admin_a


def test_update_operating_threshold__same_value_writes_nothing(hospital_a, admin_a):
    services.update_operating_threshold(hospital=hospital_a, actor=admin_a, operating_threshold=0.4)
    services.update_operating_threshold(hospital=hospital_a, actor=admin_a, operating_threshold=0.4)
    assert AuditEvent.objects.filter(action=MonitoringAction.THRESHOLD_UPDATED).count() == 1


@pytest.mark.parametrize("value", [-0.01, 1.01])
def test_update_operating_threshold__rejects_out_of_range(hospital_a, admin_a, value):
    with pytest.raises(InvalidThreshold):
        services.update_operating_threshold(hospital=hospital_a, actor=admin_a, operating_threshold=value)


def test_update_operating_threshold__needs_admin_role(hospital_a, clinician):
    with pytest.raises(PermissionDenied):
        services.update_operating_threshold(hospital=hospital_a, actor=clinician, operating_threshold=0.4)


@pytest.fixture
def accessions(hospital_a, hospital_b, admin_a):
    """ACC-1..ACC-3 at hospital A (ACC-3 already PCR negative), ACC-B at hospital B."""
    make_case(hospital=hospital_a, accession_number="ACC-1")
    make_case(hospital=hospital_a, accession_number="ACC-2")
    make_case(hospital=hospital_a, accession_number="ACC-3", pcr="negative", signer=admin_a)
    make_case(hospital=hospital_b, accession_number="ACC-B")


def _csv(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(row + "\n" for row in rows)).encode()


def test_import_pcr_outcomes__dry_run_reports_and_saves_nothing(hospital_a, admin_a, accessions):
    report = services.import_pcr_outcomes(hospital=hospital_a, actor=admin_a, dry_run=True,
                                          data=_csv("ACC-1,positive,2026-01-02,2026-01-03", "ACC-2,NEGATIVE,2026-01-02,"))
    assert (report.rows, report.created, report.errors, report.committed) == (2, 2, [], False)
    assert PcrOutcome.objects.count() == 1
    assert not AuditEvent.objects.filter(action__startswith="pcr_outcome.").exists()


def test_import_pcr_outcomes__commits_every_row_and_audits(hospital_a, admin_a, accessions):
    report = services.import_pcr_outcomes(hospital=hospital_a, actor=admin_a, dry_run=False,
                                          data=_csv("ACC-1,positive,2026-01-02,", "ACC-2,inconclusive,2026-01-02,"))
    assert report.committed and report.created == 2
    assert set(PcrOutcome.objects.filter(source="csv").values_list("study__accession_number", "result")) == {
        ("ACC-1", "positive"), ("ACC-2", "inconclusive")}
    assert AuditEvent.objects.get(action=MonitoringAction.PCR_IMPORTED).extra["created"] == 2


def test_import_pcr_outcomes__same_outcome_again_is_unchanged(hospital_a, admin_a, accessions):
    data = _csv("ACC-3,negative,2026-01-05,")
    report = services.import_pcr_outcomes(hospital=hospital_a, actor=admin_a, dry_run=False, data=data)
    assert (report.created, report.unchanged, report.committed) == (0, 1, True)
    assert PcrOutcome.objects.count() == 1


def test_import_pcr_outcomes__any_error_imports_nothing(hospital_a, admin_a, accessions):
    with pytest.raises(PcrImportHasErrors) as raised:
        services.import_pcr_outcomes(hospital=hospital_a, actor=admin_a, dry_run=False,
                                     data=_csv("ACC-1,positive,2026-01-02,", "ACC-404,positive,2026-01-02,"))
    assert [(e["line"], e["code"]) for e in raised.value.extra["report"]["errors"]] == [(3, "unknown_accession")]
    assert PcrOutcome.objects.count() == 1
    assert not AuditEvent.objects.filter(action=MonitoringAction.PCR_IMPORTED).exists()


def test_import_pcr_outcomes__needs_admin_role(hospital_a, clinician, accessions):
    with pytest.raises(PermissionDenied):
        services.import_pcr_outcomes(hospital=hospital_a, actor=clinician, dry_run=True, data=_csv())


def _bad_inputs() -> list[tuple[str, bytes, list[tuple[int, str, str]]]]:
    """Each bad CSV with the (line, code, column) errors the dry run must list, generated here."""
    future = date(2099, 1, 1).isoformat()
    return [
        ("missing_column", b"accession_number,sample_taken_on\nACC-1,2026-01-02\n",
         [(1, "missing_column", "result")]),
        ("empty_file", b"", [(1, "missing_column", c) for c in ("accession_number", "result", "sample_taken_on")]),
        ("unknown_accession", _csv("ACC-404,positive,2026-01-02,"), [(2, "unknown_accession", "accession_number")]),
        ("other_hospitals_accession", _csv("ACC-B,positive,2026-01-02,"), [(2, "unknown_accession", "accession_number")]),
        ("duplicate_row", _csv("ACC-1,positive,2026-01-02,", "ACC-2,negative,2026-01-02,", "ACC-1,positive,2026-01-02,"),
         [(4, "duplicate_row", "accession_number")]),
        ("conflict_with_existing", _csv("ACC-3,positive,2026-01-05,"), [(2, "conflict", "result")]),
        ("bad_date", _csv("ACC-1,positive,02/01/2026,"), [(2, "bad_date", "sample_taken_on")]),
        ("impossible_date", _csv("ACC-1,positive,2026-02-30,"), [(2, "bad_date", "sample_taken_on")]),
        ("bad_resulted_on", _csv("ACC-1,positive,2026-01-02,tomorrow"), [(2, "bad_date", "resulted_on")]),
        ("sample_in_future", _csv(f"ACC-1,positive,{future},"), [(2, "bad_date", "sample_taken_on")]),
        ("resulted_before_sample", _csv("ACC-1,positive,2026-01-05,2026-01-01"), [(2, "bad_date", "resulted_on")]),
        ("bad_result", _csv("ACC-1,maybe,2026-01-02,"), [(2, "bad_result", "result")]),
        ("missing_value", _csv(",positive,2026-01-02,"), [(2, "missing_value", "accession_number")]),
        ("several_errors", _csv("ACC-1,positive,2026-01-02,", "ACC-2,?,2026-13-01,", "ACC-404,negative,2026-01-02,"),
         [(3, "bad_result", "result"), (3, "bad_date", "sample_taken_on"), (4, "unknown_accession", "accession_number")]),
    ]


@pytest.mark.parametrize("name, data, expected", _bad_inputs(), ids=[case[0] for case in _bad_inputs()])
def test_import_pcr_outcomes__bad_input_corpus_lists_each_error_by_line(hospital_a, admin_a, accessions, name, data,
                                                                         expected):
    report = services.import_pcr_outcomes(hospital=hospital_a, actor=admin_a, data=data, dry_run=True)
    assert sorted((e.line, e.code, e.column) for e in report.errors) == sorted(expected)
    assert all("ACC" not in e.message for e in report.errors)  # messages never repeat identifiers
    with pytest.raises(PcrImportHasErrors):
        services.import_pcr_outcomes(hospital=hospital_a, actor=admin_a, data=data, dry_run=False)
    assert PcrOutcome.objects.count() == 1


@pytest.mark.parametrize("data", [b"\xff\xfe\x00bad", b"x" * (services.CSV_MAX_BYTES + 1)], ids=["not_utf8", "too_large"])
def test_import_pcr_outcomes__unreadable_file_is_rejected(hospital_a, admin_a, data):
    with pytest.raises(CsvRejected):
        services.import_pcr_outcomes(hospital=hospital_a, actor=admin_a, data=data, dry_run=True)
