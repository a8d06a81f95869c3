"""A 10-second version of bench_load.py in the suite: asserts zero errors, never a latency."""
import pytest

from tests.benchmarks.bench_load import _seed_ready_studies
from tests.benchmarks.load import collect_ready_latency, run_load

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_run_load__readers_and_uploaders_get_no_errors(load_stack_factory, phantom_study_files):
    stack = load_stack_factory(hospitals=2, radiologists_per_hospital=2)
    _seed_ready_studies(stack, phantom_study_files, per_hospital=1)
    report = run_load(port=stack.server.port, radiologist_tokens=stack.radiologist_tokens,
                      hospital_uploads=stack.hospital_uploads, make_study=phantom_study_files,
                      duration_s=10, upload_every_s=4)
    collect_ready_latency(report, timeout_s=120)
    print("\n".join(report.lines()))
    assert report.latencies_s["GET /api/worklist/"] and report.latencies_s["GET slice .png"]
    assert report.uploaded and report.error_count == 0, report.lines()
    assert not report.not_ready and len(report.upload_to_ready_s) == len(report.uploaded)
