import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from triage.accounts.models import Role


@pytest.fixture(autouse=True)
def _isolated_storage(study_storage):
    return study_storage


@pytest.fixture
def radiologist(hospital_a, make_user):
    return make_user(hospital=hospital_a, role=Role.RADIOLOGIST)


@pytest.fixture
def admin_a(hospital_a, make_user):
    return make_user(hospital=hospital_a, role=Role.ADMIN)


def as_uploads(files: dict[str, bytes]) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name, data, content_type="application/dicom") for name, data in files.items()]
