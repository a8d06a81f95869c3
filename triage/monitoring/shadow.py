"""Candidate against shown model on the same labelled studies: the evidence a promotion rests on."""
from __future__ import annotations

import numpy as np

from triage.accounts.models import Hospital, User
from triage.accounts.permissions import ADMIN_ROLES, require_platform_admin, require_role
from triage.audit.services import record_event
from triage.core.exceptions import NotFound
from triage.decisions.models import PcrOutcome
from triage.monitoring import evaluation as ev
from triage.monitoring.audit_actions import MonitoringAction
from triage.monitoring.models import DEFAULT_OPERATING_THRESHOLD
from triage.monitoring.selectors import POSITIVE_CLASS_FALLBACK, operating_threshold_for
from triage.monitoring.training_export import LabelSource
from triage.reports.selectors import annotate_review_state
from triage.results.models import Candidate, Result
from triage.studies.selectors import studies_visible_to

PCR_POSITIVE = {PcrOutcome.Result.POSITIVE: 1, PcrOutcome.Result.NEGATIVE: 0}


def _reference_labels(*, studies, label_source: str, shown: dict[int, Result] | None = None) -> dict[int, int]:
    """Return study id -> 1/0: a definite current PCR result, or a signed report's label (1 = the shown
    model's positive class). Inconclusive PCR and unsigned studies are left out."""
    if label_source == LabelSource.PCR:
        return {study_id: PCR_POSITIVE[result] for study_id, result in PcrOutcome.objects.filter(
            is_current=True, study__in=studies, result__in=PCR_POSITIVE).values_list("study_id", "result")}
    signed = annotate_review_state(studies).filter(report_version__isnull=False).values_list("id", "report_label")
    positive = {study_id: str(r.model_version.card.get("positive_class", POSITIVE_CLASS_FALLBACK)).lower()
                for study_id, r in (shown or {}).items()}
    return {study_id: int((label or "").lower() == positive[study_id]) for study_id, label in signed
            if study_id in positive}


def candidate_comparison(*, user: User, candidate: Candidate, hospital: Hospital | None = None,
                         label_source: str = LabelSource.PCR, n_boot: int = ev.N_BOOT) -> dict:
    """Compare the candidate's hidden results with the shown (current) ones on studies with a definite label.

    Scope: ``hospital`` (default: the candidacy's hospital; all visible hospitals for an all-hospital
    candidacy, platform admins only). Reference: current RT-PCR (``pcr``) or the signed radiologist
    label (``radiologist``). Threshold: that hospital's operating threshold (the default one when pooled).
    Returns :func:`inference.metrics.paired_comparison` (``a`` = shown model, ``b`` = candidate) plus the
    studies where the two disagree, by UUID, both ROC curves, the class sizes and ``too_few`` when a class
    has fewer than :data:`~triage.monitoring.evaluation.MIN_CASES_PER_CLASS` cases. The read is audited.
    """
    from inference.metrics import paired_comparison

    label_source = LabelSource(label_source)
    if hospital is not None and candidate.hospital_id not in (None, hospital.id):
        raise NotFound()  # a candidacy of one hospital has no results elsewhere
    hospital = hospital or candidate.hospital
    if hospital is None:
        require_platform_admin(user=user)
    else:
        require_role(user=user, hospital=hospital, roles=ADMIN_ROLES)
    studies = studies_visible_to(user=user)
    if hospital is not None:
        studies = studies.filter(hospital=hospital)
    shown = {r.study_id: r for r in Result.objects.filter(is_current=True, study__in=studies)
             .exclude(model_version=candidate.model_version).select_related("model_version")}
    hidden = dict(Result.objects.filter(model_version=candidate.model_version, is_current=False, study_id__in=shown)
                  .values_list("study_id", "covid_probability"))
    truth = _reference_labels(studies=studies.filter(id__in=list(hidden)), label_source=label_source, shown=shown)
    study_ids = sorted(truth)
    threshold = operating_threshold_for(hospital=hospital) if hospital else DEFAULT_OPERATING_THRESHOLD
    labels = np.array([truth[i] for i in study_ids], dtype=np.int64)
    n_positive = int(labels.sum())
    evidence = {"candidate": candidate.model_version.reference, "hospital": hospital.code if hospital else "all",
                "label_source": label_source.value, "threshold": threshold,
                "shown_models": sorted({shown[i].model_version.reference for i in study_ids}), "n": len(study_ids),
                "n_positive": n_positive, "n_negative": len(study_ids) - n_positive,
                "min_cases": ev.MIN_CASES_PER_CLASS,
                "too_few": min(n_positive, len(study_ids) - n_positive) < ev.MIN_CASES_PER_CLASS}
    if study_ids:
        shown_scores = np.array([shown[i].covid_probability for i in study_ids], dtype=np.float64)
        hidden_scores = np.array([hidden[i] for i in study_ids], dtype=np.float64)
        comparison = paired_comparison(labels, shown_scores, hidden_scores, threshold=threshold, n_boot=n_boot)
        uuids = dict(studies.filter(id__in=study_ids).values_list("id", "uuid"))
        comparison["disagreeing_studies"] = [str(uuids[study_ids[i]]) for i in comparison.pop("disagreements")]
        evidence |= comparison
        evidence["roc"] = {"shown": ev.roc_points(labels, shown_scores), "candidate": ev.roc_points(labels, hidden_scores)}
    for scope in ([hospital] if hospital else list({s.hospital for s in studies.filter(id__in=study_ids)
                                                     .select_related("hospital")})):
        record_event(actor=user, action=MonitoringAction.CANDIDATE_COMPARED, hospital=scope,
                     extra={"candidate": evidence["candidate"], "n": evidence["n"],
                            "label_source": label_source.value})
    return evidence
