"""Shadow mode end to end on generated studies: export -> train -> register -> candidate -> comparison -> promotion.

Real models run in-process (the shipped 2D model is active; the candidate is a 3D model trained here on
the exported studies); only the broker is stood in for (``apply_async`` recorded).
"""
import contextlib
import shutil
import uuid
from datetime import date
from unittest import mock

import pytest
from django.utils import timezone

from tests.unit.pipeline.helpers import analyse_in_process
from tests.unit.studies.helpers import read_paths, receive
from triage.audit.models import AuditEvent
from triage.decisions.models import PcrOutcome
from triage.monitoring.shadow import candidate_comparison
from triage.monitoring.training_export import export_training_set
from triage.pipeline import services, tasks
from triage.results import selectors as result_selectors
from triage.results.models import Result
from triage.results.services import mark_candidate
from triage.studies.models import Study
from triage.studies.services import ingest as study_ingest

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@contextlib.contextmanager
def stage_messages_dropped():
    """Send no analysis message: the test runs the stages itself (:func:`analyse_in_process`)."""
    with mock.patch.object(tasks.analyse_study, "apply_async"), mock.patch.object(tasks.classify_study, "apply_async"), \
            mock.patch.object(tasks.finish_study, "apply_async"):
        yield


def analysed_study(hospital, user, paths, pcr: str) -> Study:
    report = receive(hospital=hospital, user=user, files=read_paths(paths))
    study_id = report.studies_to_ingest[0]
    study_ingest.ingest_study(study_id=study_id)
    analyse_in_process(study_id=study_id)
    PcrOutcome.objects.create(study_id=study_id, result=pcr, sample_taken_on=date(2026, 1, 5), entered_by=user,
                              entered_at=timezone.now(), source=PcrOutcome.Source.FORM)
    return Study.objects.get(id=study_id)


@pytest.fixture
def trained_candidate(tmp_path):
    """Yield a function that trains a tiny 3D model on a folder and publishes it under inference/weights."""
    from inference import train_volume
    from inference.registry import WEIGHTS_ROOT, publish_run

    name = f"test-shadow-{uuid.uuid4().hex[:8]}"

    def train(folder) -> str:
        train_volume.main(["--data", str(folder), "--out", str(tmp_path / "run"), "--slices", "8", "--resize-px", "32",
                           "--crop-px", "24", "--batch-size", "4", "--epochs", "1"])
        publish_run(tmp_path / "run", name=name, version="v1", activate=False)
        return f"{name}/v1"

    yield train
    shutil.rmtree(WEIGHTS_ROOT / name, ignore_errors=True)


def test_shadow_mode__export_train_candidate_compare_promote(hospital_a, admin_a, platform_admin, phantom_series,
                                                             trained_candidate, tmp_path,
                                                             django_capture_on_commit_callbacks):
    with stage_messages_dropped():
        studies = [analysed_study(hospital_a, admin_a, phantom_series(slices=8, size_px=64, severity=severity,
                                                                      seed=i, patient_id=f"P{i}"), pcr)
                   for i, (severity, pcr) in enumerate([("moderate", "positive"), ("severe", "positive"),
                                                        ("mild", "positive"), ("moderate", "positive"),
                                                        *[("none", "negative")] * 4])]
    shown = {s.id: result_selectors.current_result_for(study=s) for s in studies}

    export = export_training_set(user=admin_a, hospital=hospital_a, label_source="pcr", out=tmp_path / "export")
    assert export.studies == 8
    reference = trained_candidate(tmp_path / "export")
    candidate = mark_candidate(actor=platform_admin, reference=reference, hospital=hospital_a)
    assert mark_candidate(actor=platform_admin, reference=reference, hospital=hospital_a) == candidate  # no-op

    # A new study is analysed by the active model and, after commit, queued for the candidate.
    with mock.patch.object(tasks.analyse_shadow, "apply_async") as shadow_sent, \
            stage_messages_dropped(), django_capture_on_commit_callbacks(execute=True):
        new = analysed_study(hospital_a, admin_a, phantom_series(slices=8, size_px=64, severity="mild", seed=9,
                                                                 patient_id="P9"), "negative")
    assert shadow_sent.call_args.kwargs["kwargs"] == {"study_id": new.id, "model_version_id": candidate.model_version_id}
    for study in [*studies, new]:
        hidden = services.analyse_shadow(study_id=study.id, model_version_id=candidate.model_version_id)
        assert hidden is not None and not hidden.is_current
        assert services.analyse_shadow(study_id=study.id, model_version_id=candidate.model_version_id) == hidden
    # Never shown: the current result is still the active model's.
    assert all(result_selectors.current_result_for(study=s).id == shown[s.id].id for s in studies)

    evidence = candidate_comparison(user=admin_a, candidate=candidate, n_boot=500)
    assert evidence["n"] == 9 and evidence["shown_models"] == [shown[studies[0].id].model_version.reference]
    assert set(evidence["difference"]) >= {"auc", "sensitivity", "specificity", "ppv", "npv"}
    assert evidence["threshold"] == 0.5 and -1 <= (evidence["kappa"] or 0) <= 1
    assert set(evidence["disagreeing_studies"]) <= {str(s.uuid) for s in [*studies, new]}
    assert AuditEvent.objects.filter(action="monitoring.candidate_compared", actor=admin_a).exists()

    with mock.patch.object(tasks.analyse_study, "apply_async"), django_capture_on_commit_callbacks(execute=True):
        promoted = services.promote_candidate(actor=platform_admin, candidate_uuid=candidate.uuid, evidence=evidence,
                                              reanalyse=True)
    assert promoted.is_active and result_selectors.open_candidate_versions(hospital=hospital_a) == []
    event = AuditEvent.objects.get(action="model.candidate_promoted")
    assert event.actor == platform_admin and event.extra["evidence"]["n"] == 9
    # Re-analysis makes the stored shadow result current without running the model again; old results stay.
    analyse_in_process(study_id=studies[0].id)
    current = result_selectors.current_result_for(study=studies[0])
    assert current.model_version == promoted and Result.objects.filter(study=studies[0]).count() == 2
