"""The README's run command serves the login page and a healthy platform on its embedded default."""
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.integration
@pytest.mark.slow
def test_run_command__serves_login_and_reports_healthy(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DEBUG"}}
    env.update(TRIAGE_PORT=str(port), TRIAGE_VAR_DIR=str(tmp_path / "var"))
    log = open(tmp_path / "run.log", "wb")
    proc = subprocess.Popen(["bash", "triage/scripts/run.sh"], cwd=REPO_ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    health = {}
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = fetch(f"{base}/api/health/")
                health = json.loads(body)
                if status == 200 and health.get("ok"):
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        assert health.get("ok"), f"health: {health}; log: {(tmp_path / 'run.log').read_text()[-3000:]}"
        assert health["database"]["detail"] == "sqlite"
        assert health["broker"]["detail"] == "filesystem"
        status, page = fetch(f"{base}/login/")
        assert status == 200 and b'name="password"' in page
        status, css = fetch(f"{base}/static/css/app.css")
        assert status == 200 and b".topbar" in css  # served with DEBUG off (WhiteNoise)
        status, missing = fetch(f"{base}/no-such-page/")
        assert status == 404 and b'data-error="404"' in missing and b"URLconf" not in missing  # no debug page
        assert "platform.admin" in (tmp_path / "run.log").read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=90)
        log.close()
    # The worker runs in its own session; stopping the script must stop it too.
    worker_pid = int(re.search(r"Worker started \(pid (\d+)", (tmp_path / "run.log").read_text()).group(1))
    assert not Path(f"/proc/{worker_pid}").exists() or "Z" in Path(f"/proc/{worker_pid}/stat").read_text().split()[2]
