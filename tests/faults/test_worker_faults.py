"""Real processes killed for real: SIGKILLed workers, Redis and PostgreSQL restarted mid-processing.

Each test uploads a small batch of phantom studies through the REST API to a real ``celery
worker`` (PostgreSQL + Redis from tests/run.sh), breaks something while the batch is being
processed, recovers it, runs the periodic sweeps as beat would (with the dead claims aged) and
then checks the invariants: every study ``ready`` (or ``failed`` with a reason), exactly one
current Result each, and the storage folder holds exactly the files Instance rows reference.
"""
import random
import time

import pytest
from django.db import close_old_connections, connection

from tests.faults.conftest import (TERMINAL, assert_store_consistent, drop_broker_connections, expire_claims,
                                  sweep_all, wait_until)
from tests.integration.helpers import upload_phantom
from triage.accounts.models import Role
from triage.studies.models import Study

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BATCH = 6


@pytest.fixture
def uploader(hospital_a, make_user, api_client_for):
    return api_client_for(make_user(hospital=hospital_a, role=Role.RADIOLOGIST))


def upload_batch(uploader, hospital, phantom_series, *, count: int = BATCH) -> list[int]:
    return [upload_phantom(uploader, hospital, phantom_series(slices=12 + 2 * (i % 3), size_px=64, seed=i)).id
            for i in range(count)]


def statuses(study_ids) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Study.objects.filter(id__in=study_ids).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def all_terminal(study_ids) -> bool:
    return not Study.objects.filter(id__in=study_ids).exclude(status__in=TERMINAL).exists()


def recover_and_finish(worker, study_ids, *, timeout_s: float = 120.0) -> None:
    """Wait for the batch, sweeping every few seconds for messages a dead worker took with it."""
    last_sweep = [time.monotonic()]

    def sweep_now_and_then():
        if time.monotonic() - last_sweep[0] > 5.0:
            last_sweep[0] = time.monotonic()
            sweep_all()

    sweep_all()
    wait_until(lambda: all_terminal(study_ids), timeout_s=timeout_s, interval_s=0.5, on_tick=sweep_now_and_then)


def test_pipeline__three_sigkills_mid_batch_leave_every_study_finished_once(fault_worker, uploader, hospital_a,
                                                                           phantom_series, study_storage):
    rng = random.Random(20260323)
    study_ids = upload_batch(uploader, hospital_a, phantom_series)
    busy_when_killed = []
    for _ in range(3):
        # Kill at a random moment while work is in flight (after it started, before it all finished).
        wait_until(lambda: Study.objects.filter(id__in=study_ids, lease_until__isnull=False)
                   .exclude(status__in=TERMINAL).exists() or all_terminal(study_ids), timeout_s=60, interval_s=0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        busy_when_killed.append(statuses(study_ids))
        fault_worker.kill()
        expire_claims(study_ids)  # the killed worker's leases run out
        fault_worker.start()
        sweep_all()
    recover_and_finish(fault_worker, study_ids)
    assert any(set(s) - set(TERMINAL) for s in busy_when_killed), busy_when_killed  # a kill hit live work
    assert statuses(study_ids) == {"ready": BATCH}
    assert_store_consistent(study_storage, study_ids)


def test_pipeline__redis_restart_while_analysing_then_batch_finishes(fault_worker, uploader, hospital_a,
                                                                    phantom_series, study_storage, redis_server):
    study_ids = upload_batch(uploader, hospital_a, phantom_series, count=4)
    wait_until(lambda: Study.objects.filter(id__in=study_ids, status="processing").exists(), timeout_s=60,
               interval_s=0.05)
    redis_server.stop()  # the queued messages are lost with it (no persistence): only the database remembers
    time.sleep(2.0)
    redis_server.start()
    drop_broker_connections()  # ours, in this test process; the worker has to manage on its own
    # The worker reconnects by itself; what was in Redis is gone, so beat's sweep re-enqueues it.
    expire_claims(Study.objects.filter(id__in=study_ids, status__in=["received", "queued"]).values_list("id", flat=True))
    recover_and_finish(fault_worker, study_ids)
    assert statuses(study_ids) == {"ready": 4}
    assert_store_consistent(study_storage, study_ids)
    assert fault_worker.proc.poll() is None  # the same worker process survived the outage


# The production lease (30 min): a retry must not wait for the claim its own failed try still holds.
@pytest.mark.parametrize("worker_lease_seconds", ["1800"])
def test_pipeline__postgres_restart_mid_batch_workers_reconnect_nothing_lost(fault_worker, uploader, hospital_a,
                                                                            phantom_series, study_storage,
                                                                            postgres_server):
    study_ids = upload_batch(uploader, hospital_a, phantom_series, count=4)
    wait_until(lambda: Study.objects.filter(id__in=study_ids, status="processing").exists(), timeout_s=60,
               interval_s=0.05)
    postgres_server.restart()
    # Our own connection died with the server: drop it, the next query opens a new one.
    connection.close()
    close_old_connections()
    # Claims are not aged here: the sweep only re-sends what no live claim covers.
    wait_until(lambda: all_terminal(study_ids), timeout_s=150, interval_s=0.5,
               on_tick=lambda: sweep_all())
    assert statuses(study_ids) == {"ready": 4}
    assert_store_consistent(study_storage, study_ids)
    assert fault_worker.proc.poll() is None  # reconnected, not restarted
    log = fault_worker.log_path.read_text()
    assert "OperationalError" in log or "Retry in" in log or "terminating connection" in log, log[-2000:]
