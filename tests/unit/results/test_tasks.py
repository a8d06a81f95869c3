from unittest import mock

import pytest

from triage.core.exceptions import StorageOffline
from triage.results import tasks


@pytest.mark.django_db
def test_analyse_study_task__retries_when_the_study_store_is_offline():
    with mock.patch("triage.results.services.analyse_study", side_effect=StorageOffline("S3 unreachable")):
        with mock.patch.object(tasks.analyse_study, "retry", side_effect=RuntimeError("retry")) as retry:
            tasks.analyse_study.apply(kwargs={"study_id": 1})
    assert retry.called
