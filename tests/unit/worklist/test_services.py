from datetime import timedelta

import pytest
from django.utils import timezone

from tests.unit.worklist.conftest import NOW
from tests.unit.worklist.factories import add_result, make_study
from triage.reports.services import sign_report
from triage.studies.models import Study
from triage.worklist.models import WorklistEntry, WorklistVersion
from triage.worklist.services import refresh_worklist_entry

pytestmark = pytest.mark.django_db


def test_refresh_worklist_entry__copies_status_result_and_quantification(hospital_a):
    study = make_study(hospital=hospital_a, received_at=NOW, status=Study.Status.PROCESSING, accession="A1")
    entry = WorklistEntry.objects.get(study=study)
    assert (entry.status, entry.covid_probability, entry.sort_probability, entry.accession_number) == (
        "processing", None, -1.0, "A1")
    Study.objects.filter(pk=study.pk).update(status=Study.Status.READY)
    add_result(study=study, probability=0.42, label="pneumonia", lesion_fraction=0.3, severity=12)
    entry = refresh_worklist_entry(study=study)
    assert (entry.status, entry.covid_probability, entry.sort_probability, entry.predicted_label) == (
        "ready", 0.42, 0.42, "pneumonia")
    assert (entry.lesion_fraction_both, entry.severity_total, entry.received_at) == (0.3, 12, NOW)


def test_refresh_worklist_entry__is_idempotent_and_bumps_the_hospital_version(hospital_a):
    study = make_study(hospital=hospital_a, received_at=NOW, probability=0.5)
    before = WorklistVersion.objects.get(hospital=hospital_a).version
    refresh_worklist_entry(study=study)
    refresh_worklist_entry(study=study)
    assert WorklistEntry.objects.filter(study=study).count() == 1
    assert WorklistVersion.objects.get(hospital=hospital_a).version == before + 2


def test_refresh_worklist_entry__signed_report_marks_reviewed(hospital_a, radiologist):
    study = make_study(hospital=hospital_a, received_at=NOW, probability=0.9, label="covid19")
    assert WorklistEntry.objects.get(study=study).reviewed is False
    report = sign_report(study=study, actor=radiologist, label="covid19", expected_version=0)
    entry = refresh_worklist_entry(study=study)
    assert (entry.reviewed, entry.reviewed_at) == (True, report.signed_at)


def test_rebuild_worklist__backfills_missing_rows(hospital_a):
    from django.core.management import call_command

    study = make_study(hospital=hospital_a, received_at=NOW, probability=0.3)
    WorklistEntry.objects.filter(study=study).delete()
    call_command("rebuild_worklist", "--missing")
    assert WorklistEntry.objects.get(study=study).covid_probability == 0.3


def test_sync_worklist_entries__heals_missed_refreshes_and_is_idempotent(hospital_a, radiologist):
    from triage.worklist.services import stale_worklist_studies, sync_worklist_entries

    missing = make_study(hospital=hospital_a, received_at=NOW, probability=0.3)
    WorklistEntry.objects.filter(study=missing).delete()
    transitioned = make_study(hospital=hospital_a, received_at=NOW, status=Study.Status.PROCESSING)
    Study.objects.filter(pk=transitioned.pk).update(status=Study.Status.READY, status_changed_at=timezone.now())
    signed = make_study(hospital=hospital_a, received_at=NOW, probability=0.9, label="covid19")
    sign_report(study=signed, actor=radiologist, label="covid19", expected_version=0)
    # As if the signing service had not refreshed the row:
    WorklistEntry.objects.filter(study=signed).update(reviewed=False, updated_at=NOW - timedelta(days=1))

    assert sorted(s.pk for s in stale_worklist_studies()) == sorted([missing.pk, transitioned.pk, signed.pk])
    assert sync_worklist_entries() == 3
    assert WorklistEntry.objects.get(study=missing).covid_probability == 0.3
    assert WorklistEntry.objects.get(study=transitioned).status == "ready"
    assert WorklistEntry.objects.get(study=signed).reviewed is True
    assert sync_worklist_entries() == 0
