"""Tests of manage.py shadow_model and the comparison behind it, on factory studies (no model run)."""
import io

import pytest
from django.core.management import CommandError, call_command

from tests.unit.monitoring.factories import SHADOW_CASES, SHIPPED_3D, hidden_result, make_case
from triage.audit.models import AuditEvent
from triage.core.exceptions import NotFound
from triage.monitoring.shadow import candidate_comparison
from triage.results.models import Candidate, ModelVersion
from triage.results.services import mark_candidate

pytestmark = pytest.mark.django_db


@pytest.fixture
def compared(hospital_a, platform_admin, admin_a):
    call_command("shadow_model", "mark", SHIPPED_3D, user=platform_admin.username, hospital="a", stdout=io.StringIO())
    candidate = Candidate.objects.get()
    for shown_p, hidden_p, pcr in SHADOW_CASES:
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


def test_candidate_comparison__small_classes_are_flagged_too_few_and_curves_come_along(compared, admin_a):
    evidence = candidate_comparison(user=admin_a, candidate=compared, n_boot=200)
    assert (evidence["n_positive"], evidence["n_negative"], evidence["too_few"]) == (2, 2, True)
    # both rank every positive above every negative (AUC 1); they differ only at the 0.5 threshold
    assert evidence["difference"]["auc"]["value"] == 0.0 and evidence["a"]["auc"]["value"] == 1.0
    assert evidence["roc"]["candidate"][-1] == (1.0, 1.0) and len(evidence["roc"]["shown"]) >= 3


def test_candidate_comparison__signed_radiologist_labels_as_reference(hospital_a, platform_admin, admin_a):
    candidate = mark_candidate(actor=platform_admin, reference=SHIPPED_3D, hospital=hospital_a)
    for shown_p, hidden_p, read in [(0.9, 0.2, "covid"), (0.2, 0.9, "normal"), (0.8, 0.7, None)]:
        study = make_case(hospital=hospital_a, probability=shown_p, radiologist=read, signer=admin_a, pcr="negative")
        hidden_result(study, candidate.model_version, hidden_p)
    evidence = candidate_comparison(user=admin_a, candidate=candidate, label_source="radiologist", n_boot=100)
    # the unsigned study is left out; the signed "covid" read is the positive class of the shown model's card
    assert (evidence["n"], evidence["n_positive"], evidence["label_source"]) == (2, 1, "radiologist")
    assert evidence["a"]["sensitivity"]["value"] == 1.0 and evidence["b"]["sensitivity"]["value"] == 0.0
    assert candidate_comparison(user=admin_a, candidate=candidate, n_boot=100)["n_positive"] == 0  # PCR: all negative


def test_candidate_comparison__another_hospital_scope_of_a_hospital_candidacy_is_not_found(compared, platform_admin,
                                                                                          hospital_b):
    with pytest.raises(NotFound):
        candidate_comparison(user=platform_admin, candidate=compared, hospital=hospital_b)
