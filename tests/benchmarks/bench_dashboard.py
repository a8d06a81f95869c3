"""Monitoring dashboard against the worklist page in the same run: prints times, ratios and query counts.

Run: ``bash tests/run.sh tests/benchmarks/bench_dashboard.py -s -q`` (the file name keeps it out of
the normal run). ``BENCH_CASES`` (default 2000) studies at one hospital, each with a current AI
result, most with a PCR outcome and a signed report. Both pages go through the full Django stack
(in-process client, signed in as the hospital's admin); the dashboard is timed on a first load
(its evaluation cache emptied: what the first visit after new data costs) and on a reload.
Numbers are printed, never asserted.
"""
import os
import random

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from tests.unit.monitoring.factories import make_case
from triage.worklist.management.commands.bench_worklist import percentiles, timed


@pytest.mark.slow
@pytest.mark.django_db
def test_bench_dashboard__prints_time_against_the_worklist_page(hospital_a, admin_a, make_user):
    cases, repeat = int(os.environ.get("BENCH_CASES", "2000")), int(os.environ.get("BENCH_REPEAT", "5"))
    rng = random.Random(0)
    signer = make_user(hospital=hospital_a, role="radiologist")
    for _ in range(cases):
        covid = rng.random() < 0.35
        make_case(hospital=hospital_a, probability=min(max(rng.gauss(0.7 if covid else 0.3, 0.2), 0), 1),
                  pcr=rng.choice(["positive" if covid else "negative"] * 9 + ["inconclusive", None]),
                  radiologist=rng.choice(["covid" if covid else "normal", None]), signer=signer, quantify=True)
    client = Client()
    client.force_login(admin_a)
    dashboard = f"/monitoring/hospitals/{hospital_a.uuid}/"

    def first_load():  # what the first visit after any new result, PCR or report costs
        cache.clear()
        client.get(dashboard)

    pages = {"worklist page": lambda: client.get("/worklist/"), "dashboard, first load": first_load,
             "dashboard, reload": lambda: client.get(dashboard)}
    timings = {}
    for name, load in pages.items():
        queries = []
        with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
            load()
        timings[name] = percentiles(timed(load, repeat=repeat))[0]  # p50
        print(f"{name:22s} {timings[name]:8.1f} ms  {len(queries):3d} queries  ({cases} studies, {connection.vendor})")
    for name in ("dashboard, first load", "dashboard, reload"):
        print(f"{name} / worklist page: {timings[name] / timings['worklist page']:.1f}x")
