import pytest


@pytest.fixture(autouse=True)
def _isolated_storage(study_storage):
    return study_storage
