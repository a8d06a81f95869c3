import pytest


@pytest.mark.django_db
def test_health_ready_api__ok_with_a_database_and_no_worker(client):
    response = client.get("/api/health/ready/")
    body = response.json()
    assert response.status_code == 200, body
    assert body == {"ok": True, "database": {"ok": True, "detail": body["database"]["detail"]}}


def test_health_live_api__answers_without_touching_the_database(client):
    response = client.get("/api/health/live/")  # no django_db mark: a query would raise
    assert response.status_code == 200 and response.json() == {"ok": True}
