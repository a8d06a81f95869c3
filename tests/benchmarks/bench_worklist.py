"""Worklist and slice-endpoint benchmark on the suite's PostgreSQL: prints numbers, asserts none.

Run: ``bash tests/run.sh tests/benchmarks/bench_worklist.py -s -q`` (explicit path: the file name
keeps it out of the normal run). Scale with BENCH_STUDIES / BENCH_HOSPITALS / BENCH_SLICES.
"""
import os

import pytest
from django.core.management import call_command


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_bench_worklist__prints_latency_percentiles(study_storage):
    call_command("bench_worklist", studies=int(os.environ.get("BENCH_STUDIES", "100000")),
                 hospitals=int(os.environ.get("BENCH_HOSPITALS", "20")), repeat=int(os.environ.get("BENCH_REPEAT", "200")),
                 slices=int(os.environ.get("BENCH_SLICES", "32")), size_px=int(os.environ.get("BENCH_SIZE_PX", "512")))
