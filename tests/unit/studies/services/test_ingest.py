import pytest

from tests.corpus.make_bad_inputs import ct_series
from tests.unit.studies.helpers import actions_for, make_queued_study, read_paths, receive
from triage.audit.models import AuditEvent
from triage.studies.exceptions import NoUsableSeries
from triage.studies.models import Instance, Study
from triage.studies.services import ingest

pytestmark = pytest.mark.django_db
Status = Study.Status


def test_ingest_study__selects_axial_series_orders_slices_and_queues(hospital_a, radiologist, phantom_series):
    receive(hospital=hospital_a, user=radiologist, files=read_paths(phantom_series(slices=12)))
    study = Study.objects.get()
    outcome = ingest.ingest_study(study_id=study.id)
    study.refresh_from_db()
    series = study.series.get()
    assert outcome.next_step == ingest.AfterIngest.ANALYSE and outcome.study.id == study.id
    assert study.status == Status.QUEUED and study.selected_series == series and series.is_selected
    assert series.spacing_between_slices_mm == pytest.approx(320 / 12, abs=1e-3)
    z = list(series.instances.order_by("z_position_mm").values_list("instance_number", flat=True))
    assert z == list(range(12, 0, -1))  # instance 1 is the most superior (largest z)
    assert actions_for(study)[-1] == "study.queued"


def test_ingest_study__falls_back_to_instance_number_without_positions(hospital_a, radiologist):
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=9, with_position=False))
    study = ingest.ingest_study(study_id=Study.objects.get().id).study
    assert study.status == Status.QUEUED
    event = AuditEvent.objects.filter(action="study.queued").get()
    assert event.extra["ordered_by"] == "instance_number"
    assert study.selected_series.spacing_between_slices_mm == 5.0


def test_ingest_study__runs_twice_safely(hospital_a, radiologist, phantom_series):
    study = make_queued_study(hospital_a, radiologist, phantom_series)
    assert ingest.ingest_study(study_id=study.id).next_step == ingest.AfterIngest.NOTHING
    assert AuditEvent.objects.filter(action="study.queued").count() == 1


def test_ingest_study__corrupt_pixels_rejects_instance_and_fails_without_series(hospital_a, radiologist,
                                                                                study_storage):
    receive(hospital=hospital_a, user=radiologist, files=ct_series(slices=3))
    study = Study.objects.get()
    with pytest.raises(NoUsableSeries, match="No usable axial CT series: no axial CT series with at least 8"):
        ingest.ingest_study(study_id=study.id)
    path = study_storage / Instance.objects.first().storage_path
    path.write_bytes(path.read_bytes()[:400])
    study.refresh_from_db()
    assert study.lease_until is None
    with pytest.raises(NoUsableSeries):
        ingest.ingest_study(study_id=study.id)
    assert Instance.objects.exclude(decode_error="").count() == 1
