import io
import json

import pytest
from django.core.management import call_command

from triage.studies.models import Study


def test_make_phantom_study__writes_series_and_sidecar(tmp_path):
    out = io.StringIO()
    call_command("make_phantom_study", "--out", str(tmp_path / "p"), "--slices", "12", "--size", "64",
                 "--severity", "severe", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["files"] == 12 and summary["severity"] == "severe"
    assert len(list((tmp_path / "p").glob("*.dcm"))) == 12 and (tmp_path / "p" / "phantom.json").exists()


@pytest.mark.django_db
def test_bench_ingest__reports_throughput_ratio_and_rss_and_leaves_no_rows(study_storage):
    out = io.StringIO()
    call_command("bench_ingest", "--slices", "12", "--size", "64", stdout=out)
    text = out.getvalue()
    assert "ratio to copy" in text and "peak RSS" in text
    assert not Study.objects.exists() and not list(study_storage.rglob("*.dcm"))
