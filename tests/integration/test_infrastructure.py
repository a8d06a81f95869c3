"""The suite really runs on PostgreSQL and Redis, with a real worker process."""
import os

import pytest
from django.db import connection


@pytest.mark.django_db
def test_database__is_postgresql_under_the_test_command():
    if "TEST_PG_PORT" not in os.environ:
        pytest.skip("run through tests/run.sh, which starts PostgreSQL and Redis")
    assert connection.vendor == "postgresql"
    assert str(connection.settings_dict["PORT"]) == os.environ["TEST_PG_PORT"]


@pytest.mark.integration
@pytest.mark.parametrize("queue", ["ingest", "prepare", "gpu", "finish"])
def test_celery__round_trip_through_redis_to_a_real_worker(celery_worker_process, queue):
    from triage.celery import app
    from triage.core.tasks import ping

    assert app.connection_for_write().transport.driver_type == "redis"
    assert ping.apply_async(queue=queue).get(timeout=30) == "pong"


@pytest.mark.integration
def test_health_api__reports_all_components_ok_with_a_worker(celery_worker_process, client):
    body = client.get("/api/health/").json()
    assert body["ok"] is True, body
    assert body["database"]["detail"] == "postgresql"
    assert body["broker"]["detail"] == "redis"


@pytest.mark.django_db
def test_health_api__worker_missing_is_503(client):
    from triage.celery import app

    if app.control.inspect(timeout=1.0).ping():
        pytest.skip("a worker is running on this broker")
    response = client.get("/api/health/")
    assert response.status_code == 503
    assert response.json()["worker"]["ok"] is False
