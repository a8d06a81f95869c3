import pytest

from triage.studies.checks import check_study_storage

pytestmark = pytest.mark.django_db


def test_check_study_storage__reports_folder_that_cannot_be_created(settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.STORAGES = settings.STORAGES | {"default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(blocker / "x")}}}
    assert [e.id for e in check_study_storage()] == ["studies.E001"]


def test_check_study_storage__passes_for_writable_folder(study_storage):
    assert check_study_storage() == []



def test_check_study_storage__reports_folder_that_is_not_writable(settings, tmp_path, monkeypatch):
    import os

    settings.STORAGES = settings.STORAGES | {"default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root may write anywhere; stand in for a read-only mount
    assert [e.id for e in check_study_storage()] == ["studies.E002"]
