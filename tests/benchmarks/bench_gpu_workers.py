"""GPU workers benchmarked in one run: prints, asserts nothing.

Run: ``bash tests/run.sh tests/benchmarks/bench_gpu_workers.py -s -q`` (explicit path: the file
name keeps it out of the normal run). Studies are ingested beforehand; files come from the
suite's S3 store (no shared disk). Scale with BENCH_STUDIES, BENCH_SLICES, BENCH_SIZE_PX.

1. Studies per minute through the analysis with 1 and then 2 gpu workers (each worker analyses
   one warm-up study first, not timed).
2. The gpu-queue worker's slices/s against the bare model: a CPU worker (``prepare,finish``)
   prepares every study while the gpu worker consumes nothing; then the gpu worker drains the
   ``gpu`` queue alone and is timed; the same model's bare forward pass runs in this process
   afterwards, at the same input size and batch. Also one study's end-to-end latency through the three workers against
   the unsplit analysis (decode, model, quantify, render, store in one process).
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

SLICE_CNN = "covidnet-ct-hu/2026-12-01.1"  # the gpu stage needs a pixel model (BENCH_MODEL to choose another)


def queued_studies(count: int, *, hospital, user, phantom_series, slices: int, size_px: int) -> list[int]:
    ids = []
    for seed in range(count):
        receive(hospital=hospital, user=user, files=read_paths(phantom_series(slices=slices, size_px=size_px,
                                                                              seed=1000 + seed)))
        study = Study.objects.filter(status="received").get()
        ids.append(ingest.ingest_study(study_id=study.id).study.id)  # the ingest step only: nothing enqueued
    return ids


def s3_worker_env() -> dict[str, str]:
    s3 = settings.TRIAGE_S3
    return _worker_env(connection.settings_dict["NAME"]) | {
        "TRIAGE_S3_BUCKET": s3["bucket"], "TRIAGE_S3_ENDPOINT": s3["endpoint_url"],
        "TRIAGE_S3_ACCESS_KEY": s3["access_key"], "TRIAGE_S3_SECRET_KEY": s3["secret_key"]}


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
    env = s3_worker_env()
    batches = {n: queued_studies(count + n, hospital=hospital_a, user=user, phantom_series=phantom_series,
                                 slices=slices, size_px=size_px) for n in (1, 2)}
    rates = {}
    workers: list[WorkerProcess] = []
    try:
        for n in (1, 2):
            while sum(w.queues == "gpu" for w in workers) < n:
                workers.append(WorkerProcess(env, tmp_path / f"gpu{len(workers)}.log", queues="gpu",
                                             name=f"bench-gpu{len(workers)}"))
                workers[-1].start()
            if n == 1:  # the analysis's CPU stages on their own worker, as in production
                workers.append(WorkerProcess(env | {"TRIAGE_PRELOAD_MODEL": "0"}, tmp_path / "cpu.log",
                                             queues="prepare,finish", name="bench-cpu"))
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


def bare_model_slices_per_s(reference: str, *, slices: int, batch_size: int = 16) -> float:
    """The same model's forward pass alone in this process, on uint8 batches of its input size (after a warm-up)."""
    import numpy as np

    from triage.results.engine import loaded_model

    loaded = loaded_model(reference)
    size = int(loaded.card["input_size_px"])
    batch = np.random.default_rng(0).integers(0, 256, size=(batch_size, size, size, 1), dtype=np.uint8)
    loaded.model.predict_on_batch(batch)
    batches = max(slices // batch_size, 2)
    started = time.monotonic()
    for _ in range(batches):
        loaded.model.predict_on_batch(batch)
    return batches * batch_size / (time.monotonic() - started)


def in_stage(study_ids: list[int], *stages: str) -> bool:
    return Study.objects.filter(id__in=study_ids, analysis_stage__in=stages).count() == len(study_ids)


@pytest.mark.slow
def test_bench_gpu_worker__slices_per_s_against_the_bare_model_and_study_latency_against_unsplit(
        transactional_db, s3_bucket, tmp_path, hospital_a, make_user, phantom_series):
    from inference.analysis import StageTimer
    from triage.celery import app
    from triage.results import services as result_services
    from triage.studies.volume import read_selected_volume

    count = int(os.environ.get("BENCH_STUDIES", "12"))
    slices, size_px = int(os.environ.get("BENCH_SLICES", "32")), int(os.environ.get("BENCH_SIZE_PX", "256"))
    result_services.activate_model_version(actor=None, reference=os.environ.get("BENCH_MODEL", SLICE_CNN))
    user = make_user(hospital=hospital_a, role=Role.RADIOLOGIST)
    ids = queued_studies(count + 2, hospital=hospital_a, user=user, phantom_series=phantom_series, slices=slices,
                         size_px=size_px)
    warm_up, single, timed = ids[0], ids[1], ids[2:]
    env = s3_worker_env()
    cpu = WorkerProcess(env | {"TRIAGE_PRELOAD_MODEL": "0"}, tmp_path / "cpu.log", queues="prepare,finish",
                        name="bench-cpu")
    gpu = WorkerProcess(env, tmp_path / "gpu.log", queues="gpu", name="bench-gpu")
    try:
        cpu.start(), gpu.start()
        run_through([warm_up])
        split_latency_s = run_through([single])
        app.control.cancel_consumer("gpu", destination=[gpu.hostname], reply=True)
        for study_id in timed:
            assert enqueue_analysis(study_id=study_id)
        wait_until(lambda: in_stage(timed, Study.AnalysisStage.PREPARED), timeout_s=1800, interval_s=0.5)
        # This machine runs the model on the same CPU cores: the finish stage waits, so that the
        # gpu worker's figure is its own (on GPU nodes the CPU stages run on other nodes).
        app.control.cancel_consumer("finish", destination=[cpu.hostname], reply=True)
        started = time.monotonic()
        app.control.add_consumer("gpu", destination=[gpu.hostname], reply=True)
        wait_until(lambda: in_stage(timed, Study.AnalysisStage.CLASSIFIED), timeout_s=1800, interval_s=0.1)
        gpu_s = time.monotonic() - started
        app.control.add_consumer("finish", destination=[cpu.hostname], reply=True)
        wait_until(lambda: Study.objects.filter(id__in=timed, status="ready").count() == len(timed), timeout_s=1800,
                   interval_s=0.5)
    finally:
        cpu.stop(), gpu.stop()
    model_version = result_services.ensure_active_model_version()
    classified = sum(Study.objects.get(id=i).results.get(is_current=True).slices_scored for i in timed)
    model_rate = bare_model_slices_per_s(model_version.reference, slices=classified)
    study = Study.objects.get(id=single)
    run_unsplit = lambda: result_services.run_analysis(volume=read_selected_volume(study=study),  # noqa: E731
                                                       model_version=model_version, timer=StageTimer())
    run_unsplit()  # model load and warm-up in this process
    started = time.monotonic()
    run_unsplit()
    unsplit_s = time.monotonic() - started
    gpu_rate = classified / gpu_s
    print(f"\ngpu-queue worker: {classified} slices of {len(timed)} studies ({slices}x{size_px}²) in {gpu_s:.1f} s = "
          f"{gpu_rate:.1f} slices/s; bare model {model_rate:.1f} slices/s: {gpu_rate / model_rate:.2f} of the model",
          flush=True)
    print(f"one study end to end: {split_latency_s:.2f} s through prepare → gpu → finish workers vs "
          f"{unsplit_s:.2f} s unsplit in one process (no queue, no store): {split_latency_s / unsplit_s:.2f}x "
          f"({os.cpu_count()} CPUs, models on CPU here)", flush=True)
