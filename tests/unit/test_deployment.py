"""docker-compose.yml cannot run here (no Docker engine): check it agrees with the code."""
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_compose__has_the_production_services():
    assert set(SERVICES) == {"postgres", "redis", "s3", "web", "worker-ingest", "worker-analysis", "worker-gpu", "beat"}


def test_compose__web_and_workers_share_no_volume_and_store_studies_in_s3():
    for name in ("web", "worker-ingest", "worker-analysis", "worker-gpu", "beat"):
        assert not SERVICES[name].get("volumes"), f"{name} mounts a volume"
        assert SERVICES[name]["environment"]["TRIAGE_S3_ENDPOINT"].startswith("http://s3:")
    assert SERVICES["web"]["depends_on"]["s3"]["condition"] == "service_healthy"


def test_compose__every_service_but_beat_has_a_healthcheck():
    assert all("healthcheck" in SERVICES[name] for name in SERVICES if name != "beat")


def test_compose__gpu_worker_reserves_a_gpu_and_consumes_only_the_gpu_queue():
    gpu = SERVICES["worker-gpu"]
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    command = gpu["command"]
    assert command[command.index("--queues") + 1] == "gpu"
    assert command[command.index("--concurrency") + 1] == "1"
    ingest = SERVICES["worker-ingest"]["command"]
    assert ingest[ingest.index("--queues") + 1] == "ingest"


def test_compose__queues_match_the_celery_app():
    from triage.celery import app

    declared = {q.name for q in app.conf.task_queues}
    workers = ("worker-ingest", "worker-analysis", "worker-gpu")
    consumed = {queue for s in workers for queue in SERVICES[s]["command"][SERVICES[s]["command"].index("--queues") + 1].split(",")}
    assert consumed == declared


def test_compose__environment_names_are_read_by_settings():
    settings_source = (REPO_ROOT / "triage" / "settings.py").read_text() + (REPO_ROOT / "triage" / "celery.py").read_text()
    env = SERVICES["web"]["environment"]
    for name in env:
        assert re.search(rf'["\']{name}["\']', settings_source), f"{name} is set in compose but never read"


def test_compose__redis_persists_with_aof():
    assert "--appendonly" in SERVICES["redis"]["command"]


def test_compose__dockerfile_exists_for_the_build():
    assert (REPO_ROOT / SERVICES["web"]["build"]["dockerfile"]).is_file()


def run_settings(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser tests' process; a deployment never has it.
    dropped = {"SECRET_KEY", "TRIAGE_ENV", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    full_env = {k: v for k, v in os.environ.items() if k not in dropped} | env
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=full_env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_production_settings__missing_secret_key_stops_startup():
    result = run_settings({"TRIAGE_ENV": "production"}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when TRIAGE_ENV=production" in result.stderr


@pytest.mark.slow
def test_production_settings__check_deploy_is_clean():
    secret = "x" * 20 + "-production-grade-secret-key-0123456789abcdef"
    result = run_settings({"TRIAGE_ENV": "production", "SECRET_KEY": secret}, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
