"""Upload-to-ready benchmark through a real worker on the suite's PostgreSQL + Redis: prints, asserts nothing.

Run: ``bash tests/run.sh tests/benchmarks/bench_pipeline.py -s -q`` (explicit path: the file name
keeps it out of the normal run). Scale with BENCH_STUDIES / BENCH_SLICES / BENCH_SIZE_PX.
"""
import os

import pytest
from django.core.management import call_command


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_bench_pipeline__prints_latency_and_throughput():
    call_command("bench_pipeline", studies=int(os.environ.get("BENCH_STUDIES", "10")),
                 slices=int(os.environ.get("BENCH_SLICES", "64")), size=int(os.environ.get("BENCH_SIZE_PX", "256")))
