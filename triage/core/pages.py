"""Helpers for server-rendered pages (the JSON APIs have the DRF exception handler instead)."""
from collections.abc import Iterator
from contextlib import contextmanager

from django.http import Http404

from triage.core.exceptions import DomainError, NotFound


@contextmanager
def not_found_as_404() -> Iterator[None]:
    """Turn a selector's :class:`NotFound` into Django's ``Http404``, so a page answers with the HTML 404 page."""
    try:
        yield
    except NotFound as exc:
        raise Http404(exc.message) from exc


PORT_NOT_A_NUMBER_MSG = "The port is a number from 1 to 65535."


def optional_port(value: str | None) -> int | None:
    """Read a form's port field: ``None`` when empty, a :class:`DomainError` when not a number."""
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise DomainError(PORT_NOT_A_NUMBER_MSG, extra={"field": "port"})
    return int(value)
