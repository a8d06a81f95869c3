"""Tests of manage.py shadow_model and the comparison behind it, on factory studies (no model run)."""
import io

import pytest
from django.core.management import CommandError, call_command

from tests.unit.monitoring.factories import make_case
from triage.audit.models import AuditEvent
from triage.core.exceptions import NotFound
from triage.monitoring.shadow import candidate_comparison
from triage.results.models import Candidate, ModelVersion, Result

pytestmark = pytest.mark.django_db
SHIPPED_3D = "covidnet3d-shallow/2026-12-01"


def hidden_result(study, model_version, probability):
    return Result.objects.create(study=study, model_version=model_version, is_current=False,
                                 class_probabilities={"covid": probability}, covid_probability=probability,
                                 covid_probability_uncalibrated=probability, predicted_label="covid", slices_scored=0)


@pytest.fixture
def compared(hospital_a, platform_admin, admin_a):
    call_command("shadow_model", "mark", SHIPPED_3D, user=platform_admin.username, hospital="a", stdout=io.StringIO())
    candidate = Candidate.objects.get()
    # shown model: right on 3 of 4; candidate: right on all 4; one PCR-inconclusive study is left out
    for shown_p, hidden_p, pcr in [(0.9, 0.8, "positive"), (0.3, 0.7, "positive"), (0.2, 0.1, "negative"),
                                   (0.1, 0.2, "negative"), (0.9, 0.9, "inconclusive")]:
        study = make_case(hospital=hospital_a, probability=shown_p, pcr=pcr, signer=admin_a)
        hidden_result(study, candidate.model_version, hidden_p)
    return candidate


def test_candidate_comparison__pairs_shown_and_hidden_results_on_definite_pcr(compared, admin_a):
    evidence = candidate_comparison(user=admin_a, candidate=compared, n_boot=200)
    assert evidence["n"] == 4 and evidence["shown_models"] == ["test-model/1"]
    assert evidence["a"]["sensitivity"]["value"] == 0.5 and evidence["b"]["sensitivity"]["value"] == 1.0
    assert evidence["difference"]["sensitivity"]["value"] == 0.5 and len(evidence["disagreeing_studies"]) == 1
    assert AuditEvent.objects.filter(action="monitoring.candidate_compared", actor=admin_a).count() == 1


def test_candidate_comparison__other_hospitals_admin_gets_not_found(compared, admin_b):
    with pytest.raises(NotFound):
        candidate_comparison(user=admin_b, candidate=compared)


def test_shadow_model_promote__shows_evidence_and_changes_nothing_without_yes(compared, platform_admin):
    out = io.StringIO()
    call_command("shadow_model", "promote", SHIPPED_3D, user=platform_admin.username, hospital="a", stdout=out)
    assert "AUC difference" in out.getvalue() and "Nothing changed" in out.getvalue()
    assert not ModelVersion.objects.get(name="covidnet3d-shallow").is_active
    call_command("shadow_model", "promote", SHIPPED_3D, user=platform_admin.username, hospital="a", yes=True,
                 stdout=io.StringIO())
    assert ModelVersion.objects.get(name="covidnet3d-shallow").is_active
    assert Candidate.objects.get().ended_at is not None
    assert AuditEvent.objects.get(action="model.candidate_promoted").extra["evidence"]["n"] == 4


def test_shadow_model_mark__hospital_admin_is_refused(hospital_a, admin_a):
    with pytest.raises(CommandError, match="platform"):
        call_command("shadow_model", "mark", SHIPPED_3D, user=admin_a.username, stdout=io.StringIO())
    assert not Candidate.objects.exists()
