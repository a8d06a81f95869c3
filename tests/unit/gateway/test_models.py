import pytest
from django.core.exceptions import ValidationError

from triage.gateway.models import validate_ae_title


@pytest.mark.parametrize("title", ["CT1", "A", "SIXTEEN_CHARS_OK", "ward 7 ct"])
def test_validate_ae_title__accepts_dicom_ae_titles(title):
    validate_ae_title(title)


@pytest.mark.parametrize("title", ["", "   ", "SEVENTEEN_CHARS_X", "BACK\\SLASH", "TAB\tCT", " LEADING", "TRAILING ", "ÜMLAUT"])
def test_validate_ae_title__rejects_invalid_titles(title):
    with pytest.raises(ValidationError):
        validate_ae_title(title)
