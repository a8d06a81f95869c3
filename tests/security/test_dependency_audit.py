"""triage/scripts/audit_dependencies.py: findings are listed, and an incomplete audit is never 'clean'."""
import importlib.util
import sys

from tests.conftest import REPO_ROOT

_spec = importlib.util.spec_from_file_location("audit_dependencies", REPO_ROOT / "triage/scripts/audit_dependencies.py")
audit = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = audit  # dataclasses look their module up there
_spec.loader.exec_module(audit)


def test_summarise__lists_package_version_advisory_and_fix():
    report = {"dependencies": [
        {"name": "django", "version": "5.2.0", "vulns": [
            {"id": "PYSEC-2025-1", "aliases": ["CVE-2025-0001"], "fix_versions": ["5.2.1"], "description": "x"}]},
        {"name": "numpy", "version": "2.4.6", "vulns": []}]}

    summary = audit.summarise(report)

    assert [f.line() for f in summary.findings] == ["django 5.2.0: PYSEC-2025-1 (CVE-2025-0001); fixed in 5.2.1"]
    assert summary.exit_status == 1


def test_summarise__skipped_packages_make_the_audit_incomplete_not_clean():
    report = {"dependencies": [{"name": "django", "skip_reason": "Dependency not found on PyPI"},
                               {"name": "numpy", "version": "2.4.6", "vulns": []}]}

    summary = audit.summarise(report)

    assert summary.findings == [] and summary.skipped == ["django: Dependency not found on PyPI"]
    assert summary.exit_status == 2


def test_summarise__every_package_checked_without_findings_is_clean():
    assert audit.summarise({"dependencies": [{"name": "numpy", "version": "2.4.6", "vulns": []}]}).exit_status == 0
    assert audit.summarise({"dependencies": []}).exit_status == 2
