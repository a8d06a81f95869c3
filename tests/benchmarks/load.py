"""A bounded load run on loopback: radiologists read while hospitals upload, against real processes.

``run_load`` drives a real gunicorn server (started here on 127.0.0.1:<free port>, on the test
database) and a real Celery worker, both on the PostgreSQL + Redis of tests/run.sh:

- ``radiologists`` threads loop: GET /api/worklist/, then open one study from it (GET
  /api/studies/<uuid>/ and one slice PNG), with a short think time;
- ``hospitals`` threads upload a small phantom study (POST /api/studies/, multipart) every
  ``upload_every_s`` seconds;

for ``duration_s`` seconds, then wait for every study uploaded during the run to be analysed.
It returns a :class:`LoadReport` (per-endpoint request count, rate, p50/p95/p99 latency, errors,
and upload → ready latency); nothing here asserts timings. The HTTP client is the standard
library's ``http.client`` (one keep-alive connection per thread), so no extra dependency.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
KEEPALIVE_IDLE_S = 1.5  # below gunicorn's default keep-alive of 2 s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``gunicorn triage.wsgi`` on 127.0.0.1 with the given environment (the worker's, so the same database)."""

    def __init__(self, env: dict[str, str], log_path: Path, *, workers: int = 2, threads: int = 4):
        self.env, self.log_path, self.workers, self.threads = env, log_path, workers, threads
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def start(self, *, timeout_s: float = 60.0) -> None:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "triage.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers), "--threads", str(self.threads), "--worker-class", "gthread",
             "--timeout", "120", "--access-logfile", "-"],
            cwd=REPO_ROOT, env=self.env | {"DEBUG": "0"}, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early; log: {self.log_path.read_text()[-3000:]}")
            try:
                status, _ = request("127.0.0.1", self.port, "GET", "/api/health/")
                if status in (200, 503):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not answer in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
        self.log.close()


def request(host: str, port: int, method: str, path: str, *, body: bytes | None = None,
            headers: dict[str, str] | None = None, connection: http.client.HTTPConnection | None = None):
    conn = connection or http.client.HTTPConnection(host, port, timeout=60)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    if connection is None:
        conn.close()
    return response.status, data


def request_with_etag(conn: http.client.HTTPConnection, method: str, path: str, *, body: bytes | None,
                      headers: dict[str, str]) -> tuple[int, bytes, str]:
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    return response.status, response.read(), response.getheader("ETag", "")


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    for name, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                     f"Content-Type: application/dicom\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@dataclass
class LoadReport:
    duration_s: float
    latencies_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    uploaded: dict[str, float] = field(default_factory=dict)  # study uuid -> wall time the upload started
    upload_to_ready_s: list[float] = field(default_factory=list)
    not_ready: list[str] = field(default_factory=list)

    @property
    def total_requests(self) -> int:
        return sum(len(v) for v in self.latencies_s.values()) + self.error_count

    @property
    def error_count(self) -> int:
        return sum(len(v) for v in self.errors.values())

    def lines(self) -> list[str]:
        out = [f"load: {self.total_requests} requests in {self.duration_s:.0f}s = "
               f"{self.total_requests / self.duration_s:.1f} req/s; errors {self.error_count}"
               f" ({100.0 * self.error_count / max(self.total_requests, 1):.2f} %)",
               f"{'endpoint':28s} {'n':>6s} {'req/s':>7s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'err':>4s}"]
        for name in sorted(set(self.latencies_s) | set(self.errors)):
            values = sorted(self.latencies_s.get(name, []))
            p = {q: 1000 * values[min(len(values) - 1, int(q / 100 * len(values)))] if values else float("nan")
                 for q in (50, 95, 99)}
            out.append(f"{name:28s} {len(values):6d} {len(values) / self.duration_s:7.2f} {p[50]:8.1f} "
                       f"{p[95]:8.1f} {p[99]:8.1f} {len(self.errors.get(name, [])):4d}")
        ready = sorted(self.upload_to_ready_s)
        if ready:
            out.append(f"upload->ready: {len(ready)} studies, p50 {ready[len(ready) // 2]:.1f}s, "
                       f"max {ready[-1]:.1f}s; not ready in time: {len(self.not_ready)}")
        for name, messages in self.errors.items():
            out.append(f"errors {name}: {messages[:3]}")
        return out


class _Client:
    def __init__(self, port: int, token: str, report: LoadReport, lock: threading.Lock):
        self.port, self.report, self.lock = port, report, lock
        self.headers = {"Authorization": f"Token {token}"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.etags: dict[str, str] = {}  # endpoint name -> last ETag seen
        self.last_used = time.monotonic()

    def call(self, name: str, method: str, path: str, *, body: bytes | None = None, content_type: str = "",
             ok: tuple[int, ...] = (200,), extra_headers: dict[str, str] | None = None) -> bytes | None:
        headers = self.headers | ({"Content-Type": content_type} if content_type else {}) | (extra_headers or {})
        if time.monotonic() - self.last_used > KEEPALIVE_IDLE_S:
            self.conn.close()  # the server drops idle keep-alive connections; http.client reconnects
        started = time.perf_counter()
        try:
            status, data, etag = request_with_etag(self.conn, method, path, body=body, headers=headers)
            if etag:
                self.etags[name] = etag
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            with self.lock:
                self.report.errors[name].append(type(exc).__name__)
            return None
        elapsed = time.perf_counter() - started
        self.last_used = time.monotonic()
        with self.lock:
            if status in ok:
                self.report.latencies_s[name].append(elapsed)
            else:
                self.report.errors[name].append(f"HTTP {status}: {data[:120]!r}")
        return data if status in ok else None


def _guarded(target):
    """Run a client loop; an exception in the client itself is recorded as an error, never lost."""
    def run(client: "_Client", *args) -> None:
        try:
            target(client, *args)
        except Exception as exc:  # noqa: BLE001 - a broken client must show up in the report
            with client.lock:
                client.report.errors["client"].append(f"{type(exc).__name__}: {exc}")
    return run


def _radiologist(client: _Client, stop: threading.Event, rng: random.Random, think_s: float) -> None:
    """Poll the worklist as the page does (If-None-Match: 304 while nothing changed), open a study."""
    items: list = []
    while not stop.is_set():
        etag = client.etags.get("GET /api/worklist/")
        data = client.call("GET /api/worklist/", "GET", "/api/worklist/", ok=(200, 304),
                           extra_headers={"If-None-Match": etag} if etag else None)
        if data:  # 200: a new version; 304 (empty body): the rows we have are current
            items = json.loads(data)["results"]
        if items:
            study = rng.choice(items)["study"]["uuid"]
            detail = client.call("GET /api/studies/<uuid>/", "GET", f"/api/studies/{study}/")
            if detail:
                series = [s for s in json.loads(detail)["series"] if s["is_selected"]]
                if series:  # a study still being ingested has no slices to show yet
                    index = rng.randrange(series[0]["slice_count"])
                    client.call("GET slice .png", "GET", f"/api/studies/{study}/slices/{index}.png")
        stop.wait(think_s)


def _hospital(client: _Client, stop: threading.Event, hospital_uuid: str, make_study, every_s: float) -> None:
    while not stop.is_set():
        files = make_study()
        body, content_type = multipart({"hospital": hospital_uuid}, files)
        sent_at = time.time()  # upload -> ready counts from the moment the upload starts
        data = client.call("POST /api/studies/ (upload)", "POST", "/api/studies/", body=body,
                           content_type=content_type, ok=(200, 201))
        if data:
            with client.lock:
                for study in json.loads(data)["studies"]:
                    client.report.uploaded[study] = sent_at
        stop.wait(every_s)


def run_load(*, port: int, radiologist_tokens: list[str], hospital_uploads: list[tuple[str, str]], make_study,
             duration_s: float, upload_every_s: float = 5.0, think_s: float = 0.2, seed: int = 0) -> LoadReport:
    """Run the threads for ``duration_s``; ``hospital_uploads`` holds (token, hospital uuid) pairs."""
    report, lock, stop = LoadReport(duration_s=duration_s), threading.Lock(), threading.Event()
    threads = [threading.Thread(target=_guarded(_radiologist), args=(_Client(port, token, report, lock), stop,
                                                           random.Random(seed + i), think_s))
               for i, token in enumerate(radiologist_tokens)]
    threads += [threading.Thread(target=_guarded(_hospital), args=(_Client(port, token, report, lock), stop, hospital,
                                                         make_study, upload_every_s))
                for token, hospital in hospital_uploads]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    stop.wait(duration_s)
    stop.set()
    for thread in threads:
        thread.join(timeout=180)
    report.duration_s = time.monotonic() - started
    return report


def collect_ready_latency(report: LoadReport, *, timeout_s: float) -> None:
    """Wait for the studies uploaded during the run; record upload → ready seconds from the database."""
    from triage.studies.models import Study

    deadline = time.monotonic() + timeout_s
    pending = set(report.uploaded)
    while pending and time.monotonic() < deadline:
        done = Study.objects.filter(uuid__in=pending, status__in=["ready", "failed"])
        for study in done:
            if study.status == "ready":
                report.upload_to_ready_s.append(study.status_changed_at.timestamp() - report.uploaded[str(study.uuid)])
            else:
                report.errors["study failed"].append(study.failure_reason[:80])
            pending.discard(str(study.uuid))
        time.sleep(0.5)
    report.not_ready = sorted(pending)
