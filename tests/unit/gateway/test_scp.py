import pytest

from triage.accounts.models import Role
from triage.gateway.scp import MAX_HANDOFF_ATTEMPTS, PendingStudy, StoreScp
from triage.gateway.services import create_dicom_node
from triage.gateway.spool_journal import HEADER, MAGIC, Journal, read_records


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
    """A study one ended association left buffered: its own journal with one instance."""
    journal = Journal(scp.spool_dir / str(node.id))
    record = journal.append(b"instance")
    journal.close()
    pending = scp._pending[key] = PendingStudy(node_id=node.id, records=[record], last_received=received_at)
    scp._journal_users[journal.path] = 1
    scp._finished_journals.add(journal.path)
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
    assert not idle.records[0].journal.exists()


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
    assert not pending.records[0].journal.exists()
    assert (scp.spool_dir / "failed" / pending.records[0].name).read_bytes() == b"instance"


def test_journal__records_read_back_and_a_torn_tail_is_skipped(tmp_path):
    journal = Journal(tmp_path)
    first, second = journal.append(b"DICM" * 1000), journal.append(b"second")
    journal.close()
    with journal.path.open("ab") as stream:
        stream.write(HEADER.pack(MAGIC, 100, 0) + b"cut off")  # a write that never returned

    records = list(read_records(journal.path))

    assert records == [first, second]
    assert [r.read() for r in records] == [b"DICM" * 1000, b"second"]
    assert [p.name for p in tmp_path.iterdir()] == [journal.path.name]


@pytest.mark.django_db
def test_recover_spool__hands_off_journals_and_an_older_version_s_files_then_deletes_them(scp, node, monkeypatch):
    handed = []
    monkeypatch.setattr("triage.gateway.services.receive_cstore_study",
                        lambda *, node, files: handed.append(sorted(f.stream.read() for f in files)))
    journal = Journal(scp.spool_dir / str(node.id))
    journal.append(b"journalled")
    journal.close()
    legacy = scp.spool_dir / str(node.id) / "1.2.3"
    legacy.mkdir()
    (legacy / "a.dcm").write_bytes(b"legacy")
    (legacy / ".b.part").write_bytes(b"never acknowledged")

    assert scp.recover_spool() == 2

    assert handed == [[b"journalled", b"legacy"]]
    assert not [p for p in scp.spool_dir.rglob("*") if p.is_file()]
