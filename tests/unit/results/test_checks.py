import shutil

from inference.registry import WEIGHTS_ROOT, active_model_name, model_directory, read_model_card
from triage.results.checks import check_active_model_weights


def copy_active_model(tmp_path):
    reference = active_model_name()
    shutil.copytree(model_directory(None), tmp_path / reference)
    (tmp_path / "ACTIVE").write_text(reference)
    return tmp_path / reference / read_model_card(None)["weights_file"]


def test_check_active_model_weights__shipped_model_passes():
    assert check_active_model_weights(root=WEIGHTS_ROOT) == []


def test_check_active_model_weights__altered_weights_fail_their_sha256(tmp_path):
    weights = copy_active_model(tmp_path)
    with open(weights, "ab") as handle:
        handle.write(b"\0")
    assert [e.id for e in check_active_model_weights(root=tmp_path)] == ["results.E002"]


def test_check_active_model_weights__missing_weights_or_model(tmp_path):
    copy_active_model(tmp_path).unlink()
    errors = check_active_model_weights(root=tmp_path)
    assert [e.id for e in errors] == ["results.E001"] and "Model weights missing" in errors[0].msg
    (tmp_path / "ACTIVE").unlink()
    assert [e.id for e in check_active_model_weights(root=tmp_path)] == ["results.E001"]
