"""The C-STORE SCP: receive CT instances from registered DICOM nodes and hand them to ingestion.

Rules (run with ``manage.py dicom_scp``):

- **Who may associate**: only a calling AE title registered as an *active*
  :class:`~triage.gateway.models.DicomNode`; the list is read from the database for every
  association request, so a node deactivated by an admin is refused from its next association.
  Anything else gets A-ASSOCIATE-RJ (rejected-permanent, service-user, "calling AE title not
  recognised"). The called AE title must be ours (``--ae-title``).
- **Which hospital**: only the node of the calling AE title decides. Nothing in the instances
  (institution, patient) is used to route them.
- **What is accepted**: CT Image Storage with implicit/explicit VR little endian, JPEG lossless,
  JPEG-LS, JPEG 2000 and RLE (the compressed ones only where a decoder is installed), plus
  Verification (C-ECHO). Enhanced CT is not negotiated: ingestion does not accept it yet.
  Each instance is checked on arrival with the ingestion rules
  (:func:`~triage.studies.dicom_headers.read_ct_header`); a bad one gets a failure status
  (0xA900 wrong content, 0xC000 not understood, see :mod:`triage.gateway.dicomweb`) instead of
  success, and an instance from a node deactivated mid-association gets 0x0124 (not authorised).
- **Durability (the spool journal)**: an accepted instance is appended to its association's
  journal, ``<spool>/<node id>/<random>.journal`` (:mod:`triage.gateway.spool_journal`), with one
  ``O_DSYNC`` write that returns only once it is on stable storage, *before* the Success status
  goes back; the journal's own folder entry was flushed when the association's first instance
  came. Whatever crashes or loses power after that (kernel panic, power cut, ``kill -9``), the
  instance is there; :meth:`StoreScp.start` hands off every intact record it finds in the spool
  before it listens (and instance files an older version left in ``<node id>/<study>/``).
  Instances not yet acknowledged may be lost: the sender did not get Success and sends them
  again; a torn last record is such an instance and is skipped. A journal is deleted only once
  its association has ended and ingestion has stored every study in it, so a crash during
  hand-off means a second hand-off at restart, which ingestion treats as duplicates.
- **Buffering and hand-off**: accepted instances are buffered per (association,
  StudyInstanceUID). A buffer is handed to
  :func:`triage.gateway.services.receive_cstore_study` (``source="cstore"``) **when its
  association is released or aborted**, and — for long-lived associations, or a connection
  that dropped without either — **when the study has received nothing for ``idle_seconds``**.
  Instances of one study sent over several associations are several hand-offs; ingestion adds
  later ones to the same study. A failed hand-off (database down) is retried at the next idle
  check, up to :data:`MAX_HANDOFF_ATTEMPTS` times; then the files move to ``<spool>/failed/``
  for an operator. On shutdown every buffer is handed off.
- **Logging**: one INFO line per association (``gateway.cstore_association``: node, instances
  stored and rejected, seconds); single instances log at DEBUG only.
- **Speed**: one disk flush per instance (the journal) instead of two (a file and its folder); the
  maximum PDU we accept is large (:data:`MAX_PDU_BYTES`), so a sender moves a
  512² slice in a few PDUs instead of dozens; ``TCP_NODELAY`` is set on accepted sockets.
"""
from __future__ import annotations

import io
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import close_old_connections, connections
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLossless,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
    UID,
)
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification

from triage.gateway import dicomweb, selectors, services
from triage.gateway.models import DicomNode
from triage.gateway.spool_journal import SUFFIX, Journal, Record, read_records
from triage.studies.dicom_headers import RejectedFile, can_decode, read_ct_header
from triage.studies.uploads import IncomingFile

logger = logging.getLogger(__name__)

SUCCESS = 0x0000
NOT_AUTHORISED = 0x0124
MAX_HANDOFF_ATTEMPTS = 5
MAX_PDU_BYTES = 1024 * 1024
FAILED_DIR = "failed"
IDLE_CHECK_SECONDS = 0.5
UNCOMPRESSED_SYNTAXES = (ImplicitVRLittleEndian, ExplicitVRLittleEndian)
COMPRESSED_SYNTAXES = (JPEGLosslessSV1, JPEGLossless, JPEGLSLossless, JPEGLSNearLossless, JPEG2000Lossless,
                       JPEG2000, RLELossless)


def accepted_transfer_syntaxes() -> list[UID]:
    """Uncompressed syntaxes plus the compressed ones an installed decoder handles."""
    return [*UNCOMPRESSED_SYNTAXES, *(ts for ts in COMPRESSED_SYNTAXES if can_decode(ts))]


class NodeRegistryAE(AE):
    """An AE whose required calling AE titles are the active DICOM nodes, read per association."""

    @property
    def require_calling_aet(self) -> list[str]:
        return selectors.active_ae_titles()

    @require_calling_aet.setter
    def require_calling_aet(self, ae_titles: list[str]) -> None:
        raise AttributeError("Calling AE titles come from the DicomNode table; register a node instead.")


@dataclass
class PendingStudy:
    """Instances of one study received on one association (or recovered), waiting for hand-off."""

    node_id: int
    records: list[Record] = field(default_factory=list)
    last_received: float = 0.0
    attempts: int = 0

    @property
    def journals(self) -> set[Path]:
        return {record.journal for record in self.records}


@dataclass
class AssociationStats:
    """What one association did, for its single INFO log line."""

    node: str
    started: float
    stored: int = 0
    rejected: int = 0


class StoreScp:
    """A running C-STORE SCP; :meth:`start` listens, :meth:`stop` flushes and stops."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 11112, ae_title: str = "CTTRIAGE",
                 idle_seconds: float = 10.0, spool_dir: Path, clock=time.monotonic):
        self.host, self.port, self.ae_title = host, port, ae_title
        self.idle_seconds = idle_seconds
        self.spool_dir = Path(spool_dir)
        self.clock = clock
        self._pending: dict[tuple[int, str], PendingStudy] = {}
        self._journals: dict[int, Journal] = {}  # the open journal of each association (its thread writes it)
        self._journal_users: dict[Path, int] = {}  # pending studies not yet handed off, per journal file
        self._finished_journals: set[Path] = set()  # no more appends: deleted once nothing uses them
        self._associations: dict[int, AssociationStats] = {}
        self._lock = threading.Lock()
        self._handoffs_running = 0
        self._stopped = threading.Event()
        self._server = None
        self._idle_thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> tuple[str, int]:
        """Hand off what a previous run left in the spool, then listen (non-blocking); return (host, port)."""
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.recover_spool()
        ae = NodeRegistryAE(ae_title=self.ae_title)
        ae.require_called_aet = True
        ae.maximum_pdu_size = MAX_PDU_BYTES
        ae.add_supported_context(CTImageStorage, accepted_transfer_syntaxes())
        ae.add_supported_context(Verification)
        handlers = [(evt.EVT_C_STORE, self.handle_store), (evt.EVT_ACCEPTED, self.handle_association_start),
                    (evt.EVT_RELEASED, self.handle_association_end),
                    (evt.EVT_ABORTED, self.handle_association_end), (evt.EVT_REJECTED, self._close_db),
                    (evt.EVT_C_ECHO, lambda event: SUCCESS)]
        self._server = ae.start_server((self.host, self.port), block=False, evt_handlers=handlers)
        self._idle_thread = threading.Thread(target=self._idle_loop, name="cstore-idle", daemon=True)
        self._idle_thread.start()
        logger.info("gateway.scp_started", extra={"address": self.address, "ae_title": self.ae_title})
        return self.address

    @property
    def address(self) -> tuple[str, int]:
        return self._server.server_address[:2] if self._server else (self.host, self.port)

    def stop(self) -> None:
        """Stop listening, then hand off everything still buffered."""
        self._stopped.set()
        if self._server is not None:
            self._server.shutdown()
        if self._idle_thread is not None:
            self._idle_thread.join(timeout=5)
        self.flush(lambda key, pending: True)

    def wait_until_flushed(self, *, timeout_s: float = 10.0) -> bool:
        """Block until nothing is buffered or being handed off; False on timeout (used by tests)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending and self._handoffs_running == 0:
                    return True
            time.sleep(0.02)
        return False

    # --- event handlers (run in the association's thread) ------------------------------------

    def handle_association_start(self, event) -> None:
        """Start the association's tally, and send small PDUs (responses) without delay."""
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._associations[id(event.assoc)] = AssociationStats(node=event.assoc.requestor.ae_title.strip(),
                                                               started=time.monotonic())

    def _tally(self, event, *, stored: bool) -> None:
        stats = self._associations.get(id(event.assoc))
        if stats is not None:
            if stored:
                stats.stored += 1
            else:
                stats.rejected += 1

    def handle_store(self, event) -> int:
        """Check one instance and write it to the spool durably; return the C-STORE status."""
        close_old_connections()
        node = selectors.active_node_for_ae_title(ae_title=event.assoc.requestor.ae_title)
        if node is None:
            self._tally(event, stored=False)
            return NOT_AUTHORISED
        try:
            data = event.encoded_dataset(include_meta=True)
            header = read_ct_header(data)
        except RejectedFile as exc:
            logger.debug("gateway.cstore_rejected", extra={"node": str(node.uuid), "reason": str(exc)})
            self._tally(event, stored=False)
            return dicomweb.failure_status_for(str(exc))
        except Exception:  # noqa: BLE001 - any undecodable input is the sender's problem, not a crash
            logger.debug("gateway.cstore_undecodable", extra={"node": str(node.uuid)}, exc_info=True)
            self._tally(event, stored=False)
            return dicomweb.CANNOT_UNDERSTAND
        journal = self._journals.get(id(event.assoc))
        if journal is None:
            journal = self._journals[id(event.assoc)] = Journal(self.spool_dir / str(node.id))
        record = journal.append(data)  # durable when it returns
        self._tally(event, stored=True)
        key = (id(event.assoc), header.study_instance_uid)
        with self._lock:
            pending = self._pending.get(key)
            if pending is None:
                pending = self._pending[key] = PendingStudy(node_id=node.id)
                self._journal_users[journal.path] = self._journal_users.get(journal.path, 0) + 1
            pending.records.append(record)
            pending.last_received = self.clock()
        return SUCCESS

    def handle_association_end(self, event) -> None:
        """Hand off every study this association sent (on A-RELEASE or abort); log the association once."""
        association = id(event.assoc)
        journal = self._journals.pop(association, None)
        if journal is not None:
            journal.close()
            with self._lock:
                self._finished_journals.add(journal.path)
            self._delete_unused({journal.path})  # when idle hand-offs already took all of it
        self.flush(lambda key, pending: key[0] == association)  # each hand-off deletes what it frees
        stats = self._associations.pop(association, None)
        if stats is not None:
            logger.info("gateway.cstore_association", extra={
                "ae_title": stats.node, "stored": stats.stored, "rejected": stats.rejected,
                "seconds": round(time.monotonic() - stats.started, 3), "ended": event.event.name})
        self._close_db(event)

    def recover_spool(self) -> int:
        """Queue for hand-off every instance a previous run acknowledged but did not hand off; return how many.

        One hand-off per node (ingestion sorts the instances into their studies): the intact
        records of its journals, and the instance files an older version spooled per study.
        """
        recovered = 0
        for node_dir in (p for p in self.spool_dir.iterdir() if p.is_dir() and p.name.isdigit()):
            for partial in node_dir.glob("*/.*.part"):
                partial.unlink()  # an older version's never-acknowledged write
            records = [record for journal in sorted(node_dir.glob(f"*{SUFFIX}")) for record in read_records(journal)]
            records += [Record(path, 0, path.stat().st_size) for path in sorted(node_dir.glob("*/*.dcm"))]
            files = {*(node_dir.glob(f"*{SUFFIX}")), *(r.journal for r in records)}
            with self._lock:
                self._finished_journals |= files
                if records:
                    pending = PendingStudy(node_id=int(node_dir.name), records=records, last_received=float("-inf"))
                    self._pending[(0, f"recovered:{node_dir.name}")] = pending
                    for journal in pending.journals:
                        self._journal_users[journal] = self._journal_users.get(journal, 0) + 1
            self._delete_unused(files)  # journals with no intact record: nothing was acknowledged
            recovered += len(records)
        if recovered:
            logger.info("gateway.cstore_spool_recovered", extra={"instances": recovered})
            self.flush(lambda key, pending: key[0] == 0)
        return recovered

    @staticmethod
    def _close_db(event=None) -> None:
        connections.close_all()  # this thread's connections; association threads are short-lived

    # --- hand-off ------------------------------------------------------------------------

    def _idle_loop(self) -> None:
        while not self._stopped.wait(IDLE_CHECK_SECONDS):
            self.flush_idle()
        connections.close_all()

    def flush_idle(self) -> None:
        """Hand off the studies that received nothing for ``idle_seconds``."""
        now = self.clock()
        self.flush(lambda key, pending: now - pending.last_received >= self.idle_seconds)

    def flush(self, select) -> None:
        """Hand off the buffers for which ``select(key, pending)`` is true; each is taken exactly once."""
        with self._lock:
            taken = [(key, self._pending.pop(key)) for key in list(self._pending) if select(key, self._pending[key])]
            self._handoffs_running += len(taken)
        try:
            for key, pending in taken:
                self._hand_off(key, pending)
        finally:
            with self._lock:
                self._handoffs_running -= len(taken)

    def _hand_off(self, key: tuple[int, str], pending: PendingStudy) -> None:
        try:
            node = DicomNode.objects.select_related("hospital").get(id=pending.node_id)
            services.receive_cstore_study(node=node, files=_open_each(pending.records))
        except Exception:  # noqa: BLE001 - keep the files and retry; never lose acknowledged instances
            pending.attempts += 1
            logger.exception("gateway.cstore_handoff_failed", extra={"node_id": pending.node_id,
                                                                     "attempts": pending.attempts})
            if pending.attempts >= MAX_HANDOFF_ATTEMPTS:
                self._quarantine(pending)
                return
            pending.last_received = self.clock()
            with self._lock:
                self._pending[key] = pending
            return
        self._release(pending)

    def _release(self, pending: PendingStudy) -> None:
        """The study is handed off (or quarantined): its journals lose a user, and go when unused."""
        with self._lock:
            for journal in pending.journals:
                self._journal_users[journal] -= 1
        self._delete_unused(pending.journals)

    def _delete_unused(self, journals: set[Path]) -> None:
        with self._lock:
            unused = [j for j in journals if j in self._finished_journals and not self._journal_users.get(j)]
            for journal in unused:
                self._finished_journals.discard(journal)
                self._journal_users.pop(journal, None)
        for journal in unused:
            journal.unlink(missing_ok=True)

    def _quarantine(self, pending: PendingStudy) -> None:
        failed_dir = self.spool_dir / FAILED_DIR
        failed_dir.mkdir(exist_ok=True)
        for record in pending.records:
            (failed_dir / record.name).write_bytes(record.read())
        self._release(pending)
        logger.error("gateway.cstore_quarantined", extra={"node_id": pending.node_id, "files": len(pending.records),
                                                          "folder": str(failed_dir)})


def _open_each(records: list[Record]) -> Iterator[IncomingFile]:
    """Yield the spooled instances one at a time, each read only when ingestion asks for it."""
    for record in records:
        yield IncomingFile(name=record.name, stream=io.BytesIO(record.read()))
