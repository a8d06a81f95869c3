import pytest

from triage.accounts.models import Role
from triage.gateway.scp import MAX_HANDOFF_ATTEMPTS, PendingStudy, StoreScp
from triage.gateway.services import create_dicom_node


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def node(hospital_a, make_user):
    return create_dicom_node(actor=make_user(hospital=hospital_a, role=Role.ADMIN), hospital=hospital_a,
                             ae_title="CT1")


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def scp(tmp_path, clock):
    return StoreScp(port=0, idle_seconds=10, spool_dir=tmp_path, clock=clock)


def buffer(scp: StoreScp, *, key, node, received_at: float) -> PendingStudy:
    path = scp.spool_dir / f"{key[1]}.dcm"
    path.write_bytes(b"instance")
    pending = scp._pending[key] = PendingStudy(node_id=node.id, paths=[path], last_received=received_at)
    return pending


@pytest.mark.django_db
def test_flush_idle__hands_off_only_studies_idle_for_idle_seconds(scp, node, clock, monkeypatch):
    handed = []
    monkeypatch.setattr("triage.gateway.services.receive_cstore_study",
                        lambda *, node, files: handed.append((node.ae_title, [f.stream.read() for f in files])))
    idle = buffer(scp, key=(1, "idle"), node=node, received_at=clock.now - 10)
    buffer(scp, key=(1, "busy"), node=node, received_at=clock.now - 9)

    scp.flush_idle()

    assert handed == [("CT1", [b"instance"])]
    assert list(scp._pending) == [(1, "busy")]
    assert not idle.paths[0].exists()


@pytest.mark.django_db
def test_flush__failed_handoff_is_retried_then_quarantined(scp, node, clock, monkeypatch):
    def database_down(*, node, files):
        raise ConnectionError("database down")

    monkeypatch.setattr("triage.gateway.services.receive_cstore_study", database_down)
    pending = buffer(scp, key=(1, "study"), node=node, received_at=clock.now)

    for attempt in range(1, MAX_HANDOFF_ATTEMPTS):
        scp.flush(lambda key, p: True)
        assert scp._pending[(1, "study")].attempts == attempt  # kept for the next try
    scp.flush(lambda key, p: True)

    assert scp._pending == {}
    assert not pending.paths[0].exists()
    assert (scp.spool_dir / "failed" / pending.paths[0].name).read_bytes() == b"instance"


def test_write_durably__leaves_one_complete_file_and_no_partial(tmp_path):
    from triage.gateway.scp import write_durably

    path = write_durably(tmp_path, b"DICM" * 1000)

    assert path.read_bytes() == b"DICM" * 1000 and path.suffix == ".dcm"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
