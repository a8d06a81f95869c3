"""Follow-up studies in a real browser: the patient's earlier studies, their trend, and the prior beside this one."""
from datetime import date, timedelta

import numpy as np
import pytest
from django.utils import timezone

from tests.unit.worklist.factories import add_result, ct_dicom, make_study, store_series
from triage.accounts.models import Role
from triage.studies.models import Study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SLICES = 10


def _series(*, step_mm: float) -> list[bytes]:
    return [ct_dicom(np.full((64, 64), 1024 + 10 * i, np.int16), z_mm=i * step_mm, number=i + 1) for i in range(SLICES)]


@pytest.fixture
def patient(hospital_a, hospital_b, study_storage):
    now = timezone.now()
    studies = []
    for days_ago, probability, lesion, severity, step in ((20, 0.9, 0.25, 12, 2.0), (10, 0.7, 0.15, 8, 1.0),
                                                          (0, 0.4, 0.05, 3, 1.0)):
        study = make_study(hospital=hospital_a, received_at=now - timedelta(days=days_ago), patient_id="PAT-7",
                           accession=f"ACC-D{days_ago}")
        Study.objects.filter(pk=study.pk).update(study_date=date.today() - timedelta(days=days_ago))
        store_series(study=study, files=_series(step_mm=step))
        add_result(study=study, probability=probability, lesion_fraction=lesion, severity=severity,
                   slice_probabilities=[probability] * SLICES)
        studies.append(study)
    make_study(hospital=hospital_b, received_at=now, probability=0.5, patient_id="PAT-7")  # another hospital's PAT-7
    return studies


def test_follow_up__viewer_and_report_show_the_trend_and_the_prior_at_matching_z(page, live_server, log_in, patient,
                                                                                 hospital_a, make_user, screenshot):
    oldest, _, latest = patient
    log_in(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))
    page.goto(f"{live_server.url}/studies/{latest.uuid}/view/")
    panel = page.locator("[data-follow-up]")
    assert panel.locator("h2").inner_text() == "Follow-up: 3 studies of this patient"
    rows = panel.locator(".follow-up-studies tbody tr").all_inner_texts()
    assert [r.split("\t")[1] for r in rows] == ["ACC-D20", "ACC-D10", "ACC-D0"]
    assert "90 %" in rows[0] and "12 / 30" in rows[0] and "this study" in rows[2]
    assert panel.locator("svg.trend path").count() == 3 and panel.locator("svg.trend circle.current").count() == 3

    page.wait_for_function("document.getElementById('slice-canvas').dataset.index === '9'")
    page.select_option("#prior-select", label=f"{oldest.study_date:%Y-%m-%d} ACC-D20")
    page.locator("#stage").focus()
    for _ in range(3):
        page.keyboard.press("ArrowDown")  # slice index 6 at z 6 mm
    page.wait_for_function("document.getElementById('slice-canvas').dataset.index === '6'")
    page.wait_for_function("document.getElementById('prior-canvas').dataset.index === '3'")  # the prior's z 6 mm
    assert "z 6.0 mm (here 6.0 mm)" in page.inner_text("#prior-caption")
    screenshot("viewer-follow-up")

    page.goto(f"{live_server.url}/studies/{oldest.uuid}/report/")
    assert page.locator("[data-follow-up] .follow-up-studies tr.current").inner_text().startswith(
        f"{oldest.study_date:%Y-%m-%d}")
