"""A series with missing slices in a real browser: flagged on worklist, viewer and report; signing needs an explicit tick."""
import numpy as np
import pytest
from django.utils import timezone

from tests.unit.worklist.factories import add_result, ct_dicom, make_study, store_series
from triage.accounts.models import Role
from triage.audit.models import AuditEvent
from triage.reports.models import Report
from triage.worklist.services import refresh_worklist_entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_incomplete_series__flagged_and_signing_asks_for_confirmation(page, live_server, log_in, hospital_a,
                                                                      make_user, study_storage):
    study = make_study(hospital=hospital_a, received_at=timezone.now(), accession="ACC-HOLE")
    kept = [z for z in range(12) if z not in (5, 6, 7)]  # slices 6-8 (z 5-7 mm) never arrived
    store_series(study=study, files=[ct_dicom(np.full((64, 64), 1000, np.int16), z_mm=float(z), number=z + 1)
                                     for z in kept])
    add_result(study=study, probability=0.6, slice_probabilities=[0.6] * len(kept))
    refresh_worklist_entry(study=study)
    log_in(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    page.goto(f"{live_server.url}/worklist/")
    assert page.inner_text("#worklist-rows .incomplete") == "Incomplete: 3 missing"
    page.goto(f"{live_server.url}/studies/{study.uuid}/view/")
    notice = page.inner_text("[data-incomplete]")
    assert "about 3 slices missing after slice 5 (a 4.0 mm step), Instance Numbers 6–8" in notice

    page.click("text=Sign report")  # without the tick the sign API refuses, and the form says why
    error = page.locator("[data-form-error]")
    error.wait_for(state="visible")
    assert "This series is incomplete (about 3 slices missing after slice 5)" in error.inner_text()
    assert not Report.objects.filter(study=study).exists()
    page.check("[data-confirm-incomplete]")
    page.click("text=Sign report")
    page.wait_for_function("document.querySelector('[data-signoff]').textContent.includes('Signed by')")
    assert Report.objects.filter(study=study).count() == 1
    assert AuditEvent.objects.get(action="report.signed").extra["incomplete"]["missing_slices"] == 3

    page.goto(f"{live_server.url}/studies/{study.uuid}/report/")
    assert "Incomplete series" in page.inner_text("[data-incomplete]")
