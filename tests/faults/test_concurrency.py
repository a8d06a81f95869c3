"""The same study arriving twice at the same moment, and two clinicians deciding at once (PostgreSQL).

Each thread has its own database connection and transaction, so the row locks and unique
constraints decide, as with two web processes. Signing races: tests/unit/reports/test_concurrency.py.
"""
import threading
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections

from tests.integration.test_gateway import multipart as stow_body
from tests.integration.test_gateway import stow, token_key
from tests.unit.reports.factories import make_ready_study
from triage.accounts.models import Role
from triage.audit.models import AuditEvent
from triage.decisions import services as decision_services
from triage.decisions.models import Decision
from triage.pipeline import services as pipeline_services
from triage.studies.services import receiving
from triage.studies.models import Instance, Study

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks and concurrent transactions: run through tests/run.sh")


def run_together(*calls) -> list:
    """Start every call at the same barrier in its own thread; return results (or exceptions) in order."""
    barrier, results = threading.Barrier(len(calls), timeout=30), [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each caller got
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def rest_upload(client, hospital, data: list[tuple[str, bytes]]):
    files = [SimpleUploadedFile(name, content) for name, content in data]
    return lambda: client.post("/api/studies/", {"hospital": str(hospital.uuid), "files": files}, format="multipart")


def assert_one_copy(storage_root, slices: int) -> None:
    assert Study.objects.count() == 1
    assert Instance.objects.count() == slices
    assert Instance.objects.values("sop_instance_uid").distinct().count() == slices
    on_disk = {str(p.relative_to(storage_root)) for p in storage_root.rglob("*") if p.is_file()}
    assert on_disk == set(Instance.objects.values_list("storage_path", flat=True))


@mock.patch.object(pipeline_services, "enqueue_ingest", return_value=True)
def test_receive_instances__same_study_from_two_threads_stores_one_copy_other_told_duplicate(
        _enqueue, study_storage, hospital_a, make_user, api_client_for, phantom_series):
    data = [(p.name, p.read_bytes()) for p in phantom_series(slices=12, size_px=64)]
    clients = [api_client_for(make_user(hospital=hospital_a, role=Role.RADIOLOGIST)) for _ in range(2)]
    responses = run_together(*(rest_upload(c, hospital_a, data) for c in clients))
    assert all(not isinstance(r, Exception) for r in responses), responses
    assert sorted(r.status_code for r in responses) == [200, 201] or all(r.status_code == 201 for r in responses)
    outcomes = [f["status"] for r in responses for f in r.json()["files"]]
    assert outcomes.count("accepted") == 12 and outcomes.count("duplicate") == 12, outcomes
    duplicates = [f for r in responses for f in r.json()["files"] if f["status"] == "duplicate"]
    assert {f["reason"] for f in duplicates} == {receiving.DUPLICATE_MSG}
    assert len({f["study"] for r in responses for f in r.json()["files"]}) == 1  # both told the same study
    assert_one_copy(study_storage, 12)


@mock.patch.object(pipeline_services, "enqueue_ingest", return_value=True)
def test_receive_instances__same_study_via_rest_and_stow_at_once_stores_one_copy(
        _enqueue, study_storage, hospital_a, make_user, api_client_for, phantom_series):
    data = [(p.name, p.read_bytes()) for p in phantom_series(slices=12, size_px=64)]
    sender = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    key = token_key(sender, hospital_a)
    rest, dicomweb = run_together(rest_upload(api_client_for(sender), hospital_a, data),
                                  lambda: stow(key, stow_body([content for _, content in data])))
    assert rest.status_code in (200, 201), rest.content
    assert dicomweb.status_code == 200, dicomweb.content  # STOW-RS: a re-sent instance counts as stored
    assert len(dicomweb.json()["00081199"]["Value"]) == 12
    rest_outcomes = [f["status"] for f in rest.json()["files"]]
    assert set(rest_outcomes) <= {"accepted", "duplicate"} and len(rest_outcomes) == 12
    assert_one_copy(study_storage, 12)


def test_record_decision__same_decision_by_two_clinicians_at_once_is_recorded_once(hospital_a, make_user):
    study = make_ready_study(hospital=hospital_a)
    clinicians = [make_user(hospital=hospital_a, role=Role.CLINICIAN) for _ in range(2)]
    kind = "nucleic_acid_test"
    results = run_together(*(lambda c=c: decision_services.record_decision(study=study, actor=c, kind=kind,
                                                                           reason="both agree")
                             for c in clinicians))
    assert all(isinstance(r, Decision) for r in results), results
    assert Decision.objects.filter(study=study).count() == 1  # the second saw the first under the row lock
    assert AuditEvent.objects.filter(action="decision.recorded").count() == 1
