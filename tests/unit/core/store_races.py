"""Helpers of the store-lock race tests: work in a thread with its own connection, and a lock wait seen in pg_locks."""
import threading
import time

import pytest
from django.db import connection


def in_thread(work) -> threading.Thread:
    """Return a thread running ``work`` on its own database connection (closed at the end)."""
    def run():
        try:
            work()
        finally:
            connection.close()
    return threading.Thread(target=run)


def wait_until_someone_waits_for_the_store_lock(timeout_s: float = 10.0) -> None:
    """Return once some session waits for an advisory lock (PostgreSQL); fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    pytest.fail("nobody waited for the store lock")


@pytest.fixture
def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks need PostgreSQL: run through tests/run.sh")
