"""Helpers for server-rendered pages (the JSON APIs have the DRF exception handler instead)."""
from collections.abc import Iterator
from contextlib import contextmanager

from django.http import Http404

from triage.core.exceptions import NotFound


@contextmanager
def not_found_as_404() -> Iterator[None]:
    """Turn a selector's :class:`NotFound` into Django's ``Http404``, so a page answers with the HTML 404 page."""
    try:
        yield
    except NotFound as exc:
        raise Http404(exc.message) from exc
