"""SIGKILL of the pool process mid-analysis: in the prepare stage (a CPU worker) with the production
lease settings, and in the classify stage (the gpu worker) with short ones.

The worker is held mid-analysis deterministically (one stored slice, or the prepared blob,
replaced by a FIFO, so its read blocks), its heartbeat is seen renewing the claim, then the pool process is SIGKILLed as
an OOM kill would. Beat's stuck-study sweep runs at its production interval (short settings: every
second). The study must be ``ready`` with exactly one Result within 90 s of the kill; the test
prints the recovery time. That the production lease and sweep interval recover within 90 s needs
proving once (the prepare stage); the classify stage proves its own hand-over (its claim, its
heartbeat, its resumption from the prepared blob), which does not depend on how long the lease is.
"""
import os
import signal
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import WorkerProcess, _worker_env
from tests.faults.conftest import wait_until
from tests.integration.helpers import reads_block, stored_file_blocks
from tests.unit.studies.helpers import read_paths, receive
from triage.results.models import Result
from triage.pipeline.enqueue import enqueue_analysis
from triage.studies.services import ingest
from triage.studies.leases import CLAIM_LEASE
from triage.studies.models import Instance, Study

pytestmark = [pytest.mark.integration, pytest.mark.slow]
RECOVERY_LIMIT_S = 90.0
SLICE_CNN = "covidnet-ct-hu/2026-12-01.1"  # a pixel model: prepare → classify (gpu) → finish
SHORT_LEASE_S, SHORT_HEARTBEAT_S, SHORT_SWEEP_S = 4, 1, 1.0  # the classify-stage test's settings


def pool_children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def production_lease_env(study_storage) -> dict[str, str]:
    """A worker's environment with the production lease settings (skips without Redis)."""
    from django.db import connection

    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        pytest.skip("needs Redis: run the suite through tests/run.sh")
    env = _worker_env(connection.settings_dict["NAME"]) | {"TRIAGE_STORAGE_ROOT": str(study_storage)}
    for name in ("TRIAGE_CLAIM_LEASE_SECONDS", "TRIAGE_HEARTBEAT_SECONDS"):
        env.pop(name, None)  # the production defaults
    return env


def kill_while_renewing(worker: WorkerProcess, study_id: int, *, lease_s: int = CLAIM_LEASE.seconds, **claim) -> float:
    """Wait for the worker's claim on the study (``claim``: extra filters), see its heartbeat renew it, SIGKILL its pool process."""
    claimed = wait_until(lambda: Study.objects.filter(id=study_id, status="processing", **claim)
                         .values_list("lease_until", flat=True).first(), timeout_s=120)
    # Held on the FIFO, the worker's heartbeat keeps moving its claim forward.
    wait_until(lambda: Study.objects.get(id=study_id).lease_until > claimed, timeout_s=3 * lease_s)
    (child,) = pool_children(worker.proc.pid)
    os.kill(child, signal.SIGKILL)
    return time.monotonic()


def seconds_until_ready(study_id: int, *, killed_at: float, sweep_every_s: float | None = None) -> float:
    """Run beat's stuck-study sweep every ``sweep_every_s`` (default: its production interval) until the
    study is ready; return seconds since the kill."""
    from triage.pipeline.services import requeue_stuck_analyses

    if sweep_every_s is None:
        sweep_every_s = settings.CELERY_BEAT_SCHEDULE["results-requeue-stuck-analyses"]["schedule"]
    next_sweep = [killed_at + sweep_every_s]

    def beat():
        if time.monotonic() >= next_sweep[0]:
            next_sweep[0] += sweep_every_s
            requeue_stuck_analyses()

    wait_until(lambda: Study.objects.filter(id=study_id, status="ready").exists(), timeout_s=RECOVERY_LIMIT_S,
               interval_s=0.25, on_tick=beat)
    return time.monotonic() - killed_at


def queued_study(hospital, user, phantom_series) -> Study:
    receive(hospital=hospital, user=user, files=read_paths(phantom_series(slices=16)))
    return ingest.ingest_study(study_id=Study.objects.get().id).study  # the ingest step: queued, no message yet


def test_analyse_study__sigkill_mid_analysis_is_ready_once_within_90_s(transactional_db, study_storage, tmp_path,
                                                                     hospital_a, radiologist, phantom_series):
    env = production_lease_env(study_storage)
    study = queued_study(hospital_a, radiologist, phantom_series)
    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    try:
        with reads_block(Instance.objects.filter(series_id=study.selected_series_id).order_by("z_position_mm")[5]):
            assert enqueue_analysis(study_id=study.id)
            killed_at = kill_while_renewing(worker, study.id)
        assert not Result.objects.exists()
        recovered_s = seconds_until_ready(study.id, killed_at=killed_at)
    finally:
        worker.stop()
    print(f"\nrecovery after SIGKILL: {recovered_s:.1f} s (lease {CLAIM_LEASE.seconds} s)")
    assert recovered_s < RECOVERY_LIMIT_S
    assert Result.objects.filter(study_id=study.id).count() == 1
    assert Result.objects.filter(study_id=study.id, is_current=True).count() == 1


def test_classify_study__sigkill_of_the_gpu_worker_is_ready_once_within_90_s(transactional_db, study_storage, tmp_path,
                                                                            hospital_a, radiologist, phantom_series):
    """The GPU stage: a CPU worker prepares, the gpu worker is held reading the prepared blob and killed."""
    from triage.results.services import activate_model_version

    activate_model_version(actor=None, reference=SLICE_CNN)  # a model that runs in stages
    env = production_lease_env(study_storage) | {"TRIAGE_CLAIM_LEASE_SECONDS": str(SHORT_LEASE_S),
                                                 "TRIAGE_HEARTBEAT_SECONDS": str(SHORT_HEARTBEAT_S)}
    study = queued_study(hospital_a, radiologist, phantom_series)
    cpu = WorkerProcess(env | {"TRIAGE_PRELOAD_MODEL": "0"}, tmp_path / "cpu.log", queues="prepare,finish", name="cpu")
    gpu = WorkerProcess(env, tmp_path / "gpu.log", queues="gpu", name="gpu")
    cpu.start()
    try:
        assert enqueue_analysis(study_id=study.id)
        blob = wait_until(lambda: Study.objects.filter(id=study.id, analysis_stage="prepared")
                          .values_list("analysis_blob", flat=True).first(), timeout_s=120)
        with stored_file_blocks(blob):
            gpu.start()
            killed_at = kill_while_renewing(gpu, study.id, lease_s=SHORT_LEASE_S, analysis_stage="classify")
        recovered_s = seconds_until_ready(study.id, killed_at=killed_at, sweep_every_s=SHORT_SWEEP_S)
    finally:
        gpu.stop(), cpu.stop()
    print(f"\nrecovery after SIGKILL of the gpu worker: {recovered_s:.1f} s (lease {SHORT_LEASE_S} s)")
    assert recovered_s < RECOVERY_LIMIT_S
    assert Result.objects.filter(study_id=study.id).count() == 1
