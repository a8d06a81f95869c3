"""Write audit events. Called by every service, inside that service's transaction."""
from typing import Any

from django.db import models

from triage.audit.models import AuditEvent, validate_action
from triage.core.request_context import client_ip_var


def record_event(
    *,
    actor,
    action: str,
    hospital=None,
    target: models.Model | None = None,
    extra: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit row; ``actor`` is ``None`` for system actions (workers, sweeps)."""
    validate_action(action)
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if is_user else None,
        actor_username=actor.get_username() if is_user else "",
        action=action,
        hospital=hospital,
        object_type=target._meta.label_lower if target is not None else "",
        object_id=str(getattr(target, "uuid", None) or target.pk) if target is not None else "",
        ip_address=client_ip_var.get(),
        extra=extra or {},
    )
