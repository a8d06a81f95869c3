"""Claims on the stages of a study's analysis: prepare (CPU) → classify (GPU) → finish (CPU).

The study stays ``processing`` from the first claim to ``ready``; ``Study.analysis_stage`` says
where it stands and ``lease_until`` who may move it on::

    queued ──claim──> prepare ──hand off──> prepared ──claim──> classify ──hand off──> classified
                         ▲ lease expired ─┘     │                  ▲ lease expired ─┘     │
                                                └── HANDOFF_WAIT ──┴── (message lost) ────┘
    classified ──claim──> finish ──> ready  (triage.studies.services.states.mark_study_ready)

A working stage (prepare, classify, finish) holds a heartbeat lease (triage/studies/leases.py):
a dead worker's stage is claimable again when its lease runs out. A waiting state (prepared,
classified) is claimable at once by the next stage, and its ``lease_until`` is only the time after
which the sweep presumes the next stage's message lost and sends it again (``HANDOFF_WAIT``).
Every claim and hand-off is a conditional UPDATE, so a duplicated message does its stage once.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from triage.studies.models import Study

logger = logging.getLogger(__name__)

Stage = Study.AnalysisStage
# A study can wait this long in the next stage's queue (a busy GPU queue) before the sweep re-sends
# its message; a message sent twice is harmless (the claims), only wasted work.
HANDOFF_WAIT = timedelta(seconds=int(os.environ.get("TRIAGE_HANDOFF_WAIT_SECONDS", "600")))
# The waiting state each later stage is claimed from, and the one each stage's hand-off leaves.
WAITS_FOR = {Stage.CLASSIFY: Stage.PREPARED, Stage.FINISH: Stage.CLASSIFIED}
HANDS_OFF_TO = {Stage.PREPARE: Stage.PREPARED, Stage.CLASSIFY: Stage.CLASSIFIED}
# The working stage a study in each state is moved on by ("" is a study claimed before stages existed).
NEXT_WORK = {"": Stage.PREPARE, Stage.PREPARE: Stage.PREPARE, Stage.PREPARED: Stage.CLASSIFY,
             Stage.CLASSIFY: Stage.CLASSIFY, Stage.CLASSIFIED: Stage.FINISH, Stage.FINISH: Stage.FINISH}


def claim_analysis_stage(*, study_id: int, stage: str, lease: timedelta, now: datetime | None = None) -> Study | None:
    """Claim a ``processing`` study for ``stage`` (classify or finish) for ``lease``; None if not claimable.

    Claimable when the previous stage handed it off, or when a worker of ``stage`` died
    (its lease expired).
    """
    now = now or timezone.now()
    claimable = Q(status=Study.Status.PROCESSING) & (Q(analysis_stage=WAITS_FOR[stage])
                                                     | Q(analysis_stage=stage, lease_until__lt=now))
    if not Study.objects.filter(claimable, id=study_id).update(analysis_stage=stage, lease_until=now + lease):
        return None
    logger.info("studies.stage_claimed", extra={"study_id": study_id, "stage": stage})
    return Study.objects.select_related("hospital").get(id=study_id)


def hand_off_analysis_stage(*, study_id: int, stage: str, lease_until: datetime, blob: str,
                            now: datetime | None = None) -> bool:
    """End this worker's ``stage`` (its lease is ``lease_until``): the study waits for the next stage, which reads ``blob``.

    False when the claim is no longer this worker's (taken over after a lost lease, or the
    study reopened by new instances): then the next stage must not be sent.
    """
    now = now or timezone.now()
    mine = Study.objects.filter(id=study_id, status=Study.Status.PROCESSING, analysis_stage=stage,
                                lease_until=lease_until)
    handed = mine.update(analysis_stage=HANDS_OFF_TO[stage], analysis_blob=blob, lease_until=now + HANDOFF_WAIT)
    logger.info("studies.stage_handed_off" if handed else "studies.stage_hand_off_lost",
                extra={"study_id": study_id, "stage": stage})
    return bool(handed)
