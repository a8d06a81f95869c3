"""A study flows from upload to a stored 3D result through a real worker when a volume model is active."""
import pytest
from django.test import Client

from tests.integration.helpers import upload_phantom, wait_for
from triage.accounts.models import Role
from triage.results.models import Overlay, Result, SliceScore
from triage.results.services import activate_model_version
from triage.studies.models import Study

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHIPPED_VOLUME_MODEL = "covidnet3d-shallow"


def test_analyse_study__active_volume_model_gives_a_3d_result(celery_worker_process, hospital_a, make_user,
                                                              api_client_for, phantom_series):
    from inference.registry import WEIGHTS_ROOT, model_directory

    reference = str(model_directory(SHIPPED_VOLUME_MODEL).relative_to(WEIGHTS_ROOT))
    version = activate_model_version(actor=None, reference=reference)
    radiologist = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    uploader = api_client_for(radiologist)
    study = upload_phantom(uploader, hospital_a, phantom_series(slices=24, size_px=128, severity="moderate"))
    wait_for(lambda: Study.objects.values_list("status", flat=True).get(id=study.id) in {"ready", "failed"},
             timeout_s=240, interval_s=0.5)
    study.refresh_from_db()
    assert study.status == "ready", study.failure_reason
    result = Result.objects.get(study=study)
    assert result.model_version == version and result.model_version.card["kind"] == "volume"
    assert 0 < result.covid_probability < 1 and set(result.class_probabilities) == {"covid", "non-covid"}
    assert result.slices_scored == 0 and not SliceScore.objects.filter(result=result).exists()
    gradcams = Overlay.objects.filter(result=result, kind="gradcam")
    assert sorted(gradcams.values_list("slice_index", flat=True)) == sorted(result.key_slice_indices)
    assert len(result.key_slice_indices) > 0 and all(0 <= i < 24 for i in result.key_slice_indices)
    assert set(result.stage_seconds) == {"decode", "classify", "aggregate", "quantify", "explain"}
    browser = Client()
    browser.force_login(radiologist)
    report = browser.get(f"/studies/{study.uuid}/report/")
    assert report.status_code == 200 and "the whole volume read at once by a 3D model" in report.content.decode()
