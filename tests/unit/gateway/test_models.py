import pytest
from django.core.exceptions import ValidationError

from triage.gateway.models import DicomNode, validate_ae_title


@pytest.mark.django_db
@pytest.mark.parametrize("title", ["CT1", "A", "SIXTEEN_CHARS_OK", "ward 7 ct"])
def test_validate_ae_title__accepts_dicom_ae_titles(title, hospital_a):
    node = DicomNode(hospital=hospital_a, ae_title=title)
    node.full_clean()  # runs validate_ae_title on the field
    node.save()
    assert DicomNode.objects.get(ae_title=title).hospital == hospital_a


@pytest.mark.parametrize("title", ["", "   ", "SEVENTEEN_CHARS_X", "BACK\\SLASH", "TAB\tCT", " LEADING", "TRAILING ", "ÜMLAUT"])
def test_validate_ae_title__rejects_invalid_titles(title):
    with pytest.raises(ValidationError):
        validate_ae_title(title)
