"""Studies per minute through the gpu queue with 1 and then 2 gpu workers, in one run: prints, asserts nothing.

Run: ``bash tests/run.sh tests/benchmarks/bench_gpu_workers.py -s -q`` (explicit path: the file
name keeps it out of the normal run). The studies are ingested beforehand, so only the gpu
stage is timed; files come from the suite's S3 store (no shared disk). Each worker first
analyses one warm-up study (model load) that is not timed. Scale with BENCH_STUDIES,
BENCH_SLICES, BENCH_SIZE_PX.
"""
import os
import time

import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import WorkerProcess, _worker_env
from tests.faults.conftest import wait_until
from tests.unit.studies.helpers import read_paths, receive
from triage.accounts.models import Role
from triage.pipeline.enqueue import enqueue_analysis
from triage.studies.services import ingest
from triage.studies.models import Study


def queued_studies(count: int, *, hospital, user, phantom_series, slices: int, size_px: int) -> list[int]:
    ids = []
    for seed in range(count):
        receive(hospital=hospital, user=user, files=read_paths(phantom_series(slices=slices, size_px=size_px,
                                                                              seed=1000 + seed)))
        study = Study.objects.filter(status="received").get()
        ids.append(ingest.ingest_study(study_id=study.id).study.id)  # the ingest step only: nothing enqueued
    return ids


def run_through(study_ids: list[int]) -> float:
    """Enqueue every study at once; return seconds until all are ready."""
    started = time.monotonic()
    for study_id in study_ids:
        assert enqueue_analysis(study_id=study_id)
    wait_until(lambda: Study.objects.filter(id__in=study_ids, status="ready").count() == len(study_ids),
               timeout_s=1800, interval_s=0.5)
    return time.monotonic() - started


@pytest.mark.slow
def test_bench_gpu_workers__prints_studies_per_minute_for_1_and_2_workers(
        transactional_db, s3_bucket, tmp_path, hospital_a, make_user, phantom_series):
    count = int(os.environ.get("BENCH_STUDIES", "12"))
    slices, size_px = int(os.environ.get("BENCH_SLICES", "32")), int(os.environ.get("BENCH_SIZE_PX", "256"))
    user = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    s3 = settings.TRIAGE_S3
    env = _worker_env(connection.settings_dict["NAME"]) | {
        "TRIAGE_S3_BUCKET": s3["bucket"], "TRIAGE_S3_ENDPOINT": s3["endpoint_url"],
        "TRIAGE_S3_ACCESS_KEY": s3["access_key"], "TRIAGE_S3_SECRET_KEY": s3["secret_key"]}
    batches = {n: queued_studies(count + n, hospital=hospital_a, user=user, phantom_series=phantom_series,
                                 slices=slices, size_px=size_px) for n in (1, 2)}
    rates = {}
    workers: list[WorkerProcess] = []
    try:
        for n in (1, 2):
            while len(workers) < n:
                workers.append(WorkerProcess(env, tmp_path / f"gpu{len(workers)}.log", queues="gpu",
                                             name=f"bench-gpu{len(workers)}"))
                workers[-1].start()
            warm_up, timed = batches[n][:n], batches[n][n:]
            run_through(warm_up)
            rates[n] = len(timed) / run_through(timed) * 60
            print(f"\n{n} gpu worker(s): {len(timed)} studies of {slices}x{size_px}² in "
                  f"{len(timed) / rates[n] * 60:.1f} s = {rates[n]:.1f} studies/min", flush=True)
    finally:
        for worker in workers:
            worker.stop()
    print(f"2 vs 1 gpu workers: {rates[2] / rates[1]:.2f}x (same run, same machine: {os.cpu_count()} CPUs, "
          "models on CPU here)")
