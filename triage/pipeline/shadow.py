"""Shadow mode's orchestration: promote a candidate on the evidence the admin reviewed; catch up missed shadow runs.

Marking and ending a candidacy are ``results`` services and the comparison is ``monitoring``'s;
what spans them (promotion re-analyses through model activation, the sweep enqueues) sits here.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from triage.accounts.models import User
from triage.accounts.permissions import require_platform_admin
from triage.core.exceptions import Conflict
from triage.monitoring import evaluation as ev
from triage.monitoring.shadow import candidate_comparison
from triage.monitoring.training_export import LabelSource
from triage.pipeline.enqueue import enqueue_shadow_analysis
from triage.pipeline.services import promote_candidate
from triage.results import selectors as result_selectors
from triage.results import services as result_services
from triage.results.models import Candidate, ModelVersion, Result
from triage.studies.models import Study

logger = logging.getLogger(__name__)

CANDIDACY_ENDED_MSG = "This candidacy has ended; mark the model again to run it in shadow."
EVIDENCE_CHANGED_MSG = ("The comparison changed since it was reviewed ({reviewed} studies then, {now} now); "
                        "review it again before promoting.")
# A ready study's shadow message normally goes out at once; after this long without a result it was lost.
SHADOW_SWEEP_GRACE = timedelta(minutes=10)
SHADOW_SWEEP_LIMIT = 500


def promote_reviewed_candidate(*, actor: User, candidate: Candidate, reviewed_n: int, reanalyse: bool = False,
                               label_source: str = LabelSource.PCR, n_boot: int = ev.N_BOOT) -> ModelVersion:
    """Promote a candidate on the comparison computed now, provided it rests on the ``reviewed_n`` studies the
    admin was shown (:class:`~triage.core.exceptions.Conflict` otherwise: new outcomes arrived meanwhile).
    ``candidate`` comes from :func:`~triage.results.selectors.candidate_get` for ``actor``."""
    require_platform_admin(user=actor)  # before the comparison, whose read is audited
    if candidate.ended_at is not None:
        raise Conflict(CANDIDACY_ENDED_MSG)
    evidence = candidate_comparison(user=actor, candidate=candidate, label_source=label_source, n_boot=n_boot)
    if evidence["n"] != reviewed_n:
        raise Conflict(EVIDENCE_CHANGED_MSG.format(reviewed=reviewed_n, now=evidence["n"]),
                       extra={"reviewed_n": reviewed_n, "n": evidence["n"]})
    return promote_candidate(actor=actor, candidate_uuid=candidate.uuid, evidence=evidence, reanalyse=reanalyse)


def _missed_studies(candidate: Candidate, *, after: datetime, until: datetime, limit: int) -> list[tuple[int, datetime]]:
    """Return (id, ready time) of studies in the candidacy's scope that became ready in (after, until] and
    have no result of the candidate model, oldest first."""
    studies = Study.objects.filter(status=Study.Status.READY, status_changed_at__gt=after,
                                   status_changed_at__lte=until)
    if candidate.hospital_id is not None:
        studies = studies.filter(hospital_id=candidate.hospital_id)
    analysed = Result.objects.filter(study=OuterRef("pk"), model_version_id=candidate.model_version_id)
    return list(studies.filter(~Exists(analysed)).order_by("status_changed_at", "id")
                .values_list("id", "status_changed_at")[:limit])


def requeue_missed_shadow_analyses(*, now: datetime | None = None, grace: timedelta = SHADOW_SWEEP_GRACE,
                                   limit: int = SHADOW_SWEEP_LIMIT) -> int:
    """Re-send the shadow analysis of studies that became ready under an open candidacy but got no result.

    Covers a broker outage when the study became ready and a lost message. Each candidacy keeps a
    watermark (``swept_until``): every study is looked at once, ``grace`` after it became ready, so a
    candidate that fails on a study is not re-run on it forever; while the broker is down the watermark
    stays and the next run tries again. Sending twice is harmless (one result per study and model).
    """
    until = (now or timezone.now()) - grace
    sent = 0
    for candidate in result_selectors.open_candidacies():
        after = candidate.swept_until or candidate.started_at
        if after >= until:
            continue
        missed = _missed_studies(candidate, after=after, until=until, limit=limit + 1)
        batch = missed[:limit]
        if not all(enqueue_shadow_analysis(study_id=study_id, model_version_id=candidate.model_version_id)
                   for study_id, _ in batch):
            continue  # broker down: keep the watermark, the next run sends them again
        sent += len(batch)
        if len(missed) <= limit:
            result_services.record_shadow_sweep(candidate=candidate, swept_until=until)
        elif missed[limit][1] > batch[-1][1]:  # more left: continue after the last one sent
            result_services.record_shadow_sweep(candidate=candidate, swept_until=batch[-1][1])
        if batch:
            logger.info("shadow.sweep", extra={"candidate": str(candidate.uuid), "requeued": len(batch)})
    return sent
