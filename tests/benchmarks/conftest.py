"""The load stack: a real gunicorn server and Celery worker on the suite's PostgreSQL + Redis."""
import os
from dataclasses import dataclass

import pytest

from tests.benchmarks.load import ServerProcess
from tests.conftest import WorkerProcess, _worker_env


@dataclass
class LoadStack:
    server: ServerProcess
    worker: WorkerProcess
    radiologist_tokens: list[str]
    hospital_uploads: list[tuple[str, str]]  # (token, hospital uuid)


def _token(user, hospital) -> str:
    from triage.accounts.services import create_api_token

    return create_api_token(actor=user, name="load", hospital=hospital)[1]


@pytest.fixture
def load_stack_factory(transactional_db, study_storage, tmp_path, make_hospital, make_user):
    """Return ``make(hospitals=M, radiologists_per_hospital=N)`` → a started :class:`LoadStack`."""
    from django.db import connection

    from triage.accounts.models import Role

    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis"):
        pytest.skip("needs PostgreSQL + Redis: run through tests/run.sh")
    started: list = []

    def make(*, hospitals: int, radiologists_per_hospital: int) -> LoadStack:
        env = _worker_env(connection.settings_dict["NAME"]) | {"TRIAGE_STORAGE_ROOT": str(study_storage)}
        radiologist_tokens, uploads = [], []
        for _ in range(hospitals):
            hospital = make_hospital()
            for _ in range(radiologists_per_hospital):
                radiologist_tokens.append(_token(make_user(hospital=hospital, role=Role.RADIOLOGIST), hospital))
            uploads.append((_token(make_user(hospital=hospital, role=Role.CLINICIAN), hospital), str(hospital.uuid)))
        worker = WorkerProcess(env, tmp_path / "worker.log")
        worker.start()
        started.append(worker)
        server = ServerProcess(env, tmp_path / "server.log")
        server.start()
        started.append(server)
        return LoadStack(server, worker, radiologist_tokens, uploads)

    yield make
    for process in reversed(started):
        process.stop()


@pytest.fixture
def phantom_study_files(tmp_path):
    """Return ``make()`` → [(name, bytes)] of a fresh small phantom study (new UIDs each call)."""
    import itertools

    from inference.phantom import write_phantom_series

    counter = itertools.count()

    def make(*, slices: int = 12, size_px: int = 64) -> list[tuple[str, bytes]]:
        out = tmp_path / f"load-phantom-{next(counter)}"
        write_phantom_series(out, slices=slices, size_px=size_px, severity="mild", seed=next(counter))
        return [(p.name, p.read_bytes()) for p in sorted(out.glob("*.dcm"))]

    return make
