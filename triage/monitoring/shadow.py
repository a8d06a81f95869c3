"""Candidate against shown model on the same PCR-labelled studies: the evidence a promotion rests on."""
from __future__ import annotations

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, require_platform_admin, require_role
from triage.audit.services import record_event
from triage.decisions.models import PcrOutcome
from triage.monitoring.audit_actions import MonitoringAction
from triage.monitoring.models import DEFAULT_OPERATING_THRESHOLD
from triage.monitoring.selectors import operating_threshold_for
from triage.results.models import Candidate, Result
from triage.studies.selectors import studies_visible_to

PCR_POSITIVE = {PcrOutcome.Result.POSITIVE: 1, PcrOutcome.Result.NEGATIVE: 0}


def candidate_comparison(*, user: User, candidate: Candidate, hospital: Hospital | None = None,
                         n_boot: int = 10000) -> dict:
    """Compare the candidate's hidden results with the shown (current) ones on studies with a definite PCR.

    Scope: ``hospital`` (default: the candidacy's hospital; all visible hospitals for an all-hospital
    candidacy). Threshold: that hospital's operating threshold (the default one when pooled). Returns
    :func:`inference.metrics.paired_comparison` (``a`` = shown model, ``b`` = candidate) plus the
    studies where the two disagree, by UUID, and the shown model versions involved. The read is audited.
    """
    from inference.metrics import paired_comparison

    hospital = hospital or candidate.hospital
    if hospital is None:
        require_platform_admin(user=user)
    else:
        require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    studies = studies_visible_to(user=user)
    if hospital is not None:
        studies = studies.filter(hospital=hospital)
    pcr = dict(PcrOutcome.objects.filter(is_current=True, study__in=studies, result__in=PCR_POSITIVE)
               .values_list("study_id", "result"))
    shown = {r.study_id: r for r in Result.objects.filter(is_current=True, study_id__in=pcr)
             .exclude(model_version=candidate.model_version).select_related("model_version")}
    hidden = dict(Result.objects.filter(model_version=candidate.model_version, is_current=False, study_id__in=shown)
                  .values_list("study_id", "covid_probability"))
    study_ids = sorted(hidden)
    threshold = operating_threshold_for(hospital=hospital) if hospital else DEFAULT_OPERATING_THRESHOLD
    uuids = dict(studies.filter(id__in=study_ids).values_list("id", "uuid"))
    evidence = {"candidate": candidate.model_version.reference, "hospital": hospital.code if hospital else "all",
                "shown_models": sorted({shown[i].model_version.reference for i in study_ids}), "n": len(study_ids)}
    if study_ids:
        comparison = paired_comparison([PCR_POSITIVE[pcr[i]] for i in study_ids],
                                       [shown[i].covid_probability for i in study_ids],
                                       [hidden[i] for i in study_ids], threshold=threshold, n_boot=n_boot)
        comparison["disagreeing_studies"] = [str(uuids[study_ids[i]]) for i in comparison.pop("disagreements")]
        evidence |= comparison
    for scope in ([hospital] if hospital else list({s.hospital for s in studies.filter(id__in=study_ids)
                                                     .select_related("hospital")})):
        record_event(actor=user, action=MonitoringAction.CANDIDATE_COMPARED, hospital=scope,
                     extra={"candidate": evidence["candidate"], "n": evidence["n"]})
    return evidence
