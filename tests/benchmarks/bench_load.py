"""Load benchmark: N radiologists read while M hospitals upload, against real processes; prints figures.

Run: ``bash tests/run.sh tests/benchmarks/bench_load.py -s -q`` (explicit path: the file name keeps
it out of the normal run). Scale with BENCH_HOSPITALS (default 2), BENCH_RADIOLOGISTS per hospital
(default 4), BENCH_SECONDS (default 45), BENCH_UPLOAD_EVERY_S (default 5), BENCH_SLICES (16),
BENCH_SIZE_PX (96). Timings are printed, never asserted; only errors fail the run.
"""
import os

import pytest

from tests.benchmarks.load import collect_ready_latency, request, run_load


def _seed_ready_studies(stack, phantom_study_files, *, per_hospital: int) -> None:
    """Upload a few studies and wait until analysed, so the worklist has something to open."""
    from tests.benchmarks.load import LoadReport, multipart

    seeded = LoadReport(duration_s=1.0)
    for token, hospital in stack.hospital_uploads:
        for _ in range(per_hospital):
            body, content_type = multipart({"hospital": hospital}, phantom_study_files())
            status, data = request("127.0.0.1", stack.server.port, "POST", "/api/studies/", body=body,
                                   headers={"Authorization": f"Token {token}", "Content-Type": content_type})
            assert status == 201, data[:300]
            import json
            seeded.uploaded.update({s: 0.0 for s in json.loads(data)["studies"]})
    collect_ready_latency(seeded, timeout_s=240)
    assert not seeded.not_ready, "seed studies were not analysed in time"


@pytest.mark.slow
@pytest.mark.integration
def test_bench_load__prints_throughput_latency_and_upload_to_ready(load_stack_factory, phantom_study_files):
    hospitals = int(os.environ.get("BENCH_HOSPITALS", "2"))
    stack = load_stack_factory(hospitals=hospitals,
                               radiologists_per_hospital=int(os.environ.get("BENCH_RADIOLOGISTS", "4")))
    slices, size_px = int(os.environ.get("BENCH_SLICES", "16")), int(os.environ.get("BENCH_SIZE_PX", "96"))
    _seed_ready_studies(stack, phantom_study_files, per_hospital=2)
    report = run_load(port=stack.server.port, radiologist_tokens=stack.radiologist_tokens,
                      hospital_uploads=stack.hospital_uploads,
                      make_study=lambda: phantom_study_files(slices=slices, size_px=size_px),
                      duration_s=float(os.environ.get("BENCH_SECONDS", "45")),
                      upload_every_s=float(os.environ.get("BENCH_UPLOAD_EVERY_S", "5")))
    collect_ready_latency(report, timeout_s=300)
    print(f"\n{hospitals} hospitals uploading {slices}x{size_px}px phantoms, {len(stack.radiologist_tokens)} "
          f"radiologists; gunicorn {stack.server.workers}x{stack.server.threads} gthread; 1 Celery worker")
    print("\n".join(report.lines()))
    assert report.error_count == 0 and not report.not_ready
