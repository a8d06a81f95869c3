"""Check what the platform cannot work without: database, broker, workers, and the checks apps register."""
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection

from triage.celery import app as celery_app

REQUIRED_QUEUES = ("ingest", "gpu")


@dataclass(frozen=True)
class ComponentHealth:
    ok: bool
    detail: str

    def as_dict(self) -> dict:
        return {"ok": self.ok, "detail": self.detail}


def database_health() -> ComponentHealth:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"; the type is in the detail
        return ComponentHealth(ok=False, detail=f"{type(exc).__name__}")
    return ComponentHealth(ok=True, detail=connection.vendor)


def broker_health() -> ComponentHealth:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:
        return ComponentHealth(ok=False, detail=f"{type(exc).__name__}")
    return ComponentHealth(ok=True, detail=str(transport))


def worker_health(*, timeout_s: float = 1.5) -> ComponentHealth:
    """Ask running workers which queues they consume; every required queue needs one."""
    try:
        replies = celery_app.control.inspect(timeout=timeout_s).active_queues() or {}
    except Exception as exc:
        return ComponentHealth(ok=False, detail=f"{type(exc).__name__}")
    consumed = {queue["name"] for queues in replies.values() for queue in queues}
    missing = [name for name in REQUIRED_QUEUES if name not in consumed]
    if not replies:
        return ComponentHealth(ok=False, detail="no worker answered")
    if missing:
        return ComponentHealth(ok=False, detail=f"no worker consumes: {', '.join(missing)}")
    return ComponentHealth(ok=True, detail=f"{len(replies)} worker(s)")


# Components owned by other apps (the study store) register here from their AppConfig.ready(),
# so core, which every app imports, imports none of them.
_registered_checks: dict[str, Callable[[], tuple[bool, str]]] = {}


def register_health_check(name: str, check: Callable[[], tuple[bool, str]]) -> None:
    """Add a component to :func:`system_health`; ``check`` returns (ok, detail)."""
    _registered_checks[name] = check


def system_health() -> dict[str, ComponentHealth]:
    registered = {name: ComponentHealth(*check()) for name, check in _registered_checks.items()}
    return {"database": database_health(), "broker": broker_health(), **registered,
            "worker": worker_health()}


def readiness_health() -> dict[str, ComponentHealth]:
    """Return what a web process cannot answer anything without: the database.

    A broker, store or worker outage is shown by :func:`system_health` instead: the pods stay
    in service (worklists and reports still load; uploads answer 503 themselves), and KEDA may
    have scaled the gpu workers to zero meanwhile.
    """
    return {"database": database_health()}
