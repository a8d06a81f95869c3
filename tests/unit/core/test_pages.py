import pytest
from django.http import Http404

from triage.core.exceptions import DomainError, NotFound
from triage.core.pages import not_found_as_404


def test_not_found_as_404__turns_not_found_into_http404_with_its_message():
    with pytest.raises(Http404, match="Study not found."):
        with not_found_as_404():
            raise NotFound("Study not found.")


def test_not_found_as_404__leaves_other_errors_alone():
    with pytest.raises(DomainError):
        with not_found_as_404():
            raise DomainError("bad")
