"""Audit the installed Python environment for known vulnerabilities with pip-audit.

Usage: ``.venv/bin/python triage/scripts/audit_dependencies.py [--service pypi|osv]``

Exit status: 0 every package was checked and none has a known vulnerability; 1 at least one
has (each printed as package, version, advisory id, fix versions); 2 the audit is incomplete
(pip-audit missing, the vulnerability service unreachable, or packages it could not look up).
An audit that could not look a package up is never reported as clean: pip-audit itself prints
"No known vulnerabilities found" while skipping every package when the service is unreachable.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass

INCOMPLETE_MSG = ("Dependency audit INCOMPLETE: {skipped} of {total} installed packages could not be checked "
                  "against the {service} vulnerability service (unreachable, or it has no data for them), e.g. "
                  "{examples}. This is not a clean result: run it where {service} is reachable "
                  "(pypi.org JSON API with vulnerability data, or api.osv.dev).")


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]

    def line(self) -> str:
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        fixes = ", ".join(self.fix_versions) or "no fix released"
        return f"{self.package} {self.version}: {self.advisory}{aliases}; fixed in {fixes}"


@dataclass(frozen=True)
class AuditSummary:
    total: int
    findings: list[Finding]
    skipped: list[str]  # "name (version): reason"

    @property
    def exit_status(self) -> int:
        if self.findings:
            return 1
        return 2 if self.skipped or self.total == 0 else 0


def summarise(report: dict) -> AuditSummary:
    """Turn pip-audit's ``--format json`` report into findings and skipped packages."""
    findings, skipped = [], []
    dependencies = report.get("dependencies", [])
    for dep in dependencies:
        if "skip_reason" in dep:
            skipped.append(f"{dep['name']}: {dep['skip_reason']}")
            continue
        for vuln in dep.get("vulns", []):
            findings.append(Finding(package=dep["name"], version=dep.get("version", "?"), advisory=vuln["id"],
                                    aliases=tuple(vuln.get("aliases", [])),
                                    fix_versions=tuple(vuln.get("fix_versions", []))))
    return AuditSummary(total=len(dependencies), findings=findings, skipped=skipped)


def run_pip_audit(*, service: str) -> dict:
    command = [sys.executable, "-m", "pip_audit", "--local", "--format", "json", "--progress-spinner", "off",
               "--vulnerability-service", service]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except FileNotFoundError as exc:  # pragma: no cover - the interpreter itself is missing
        raise SystemExit(f"Dependency audit INCOMPLETE: cannot run pip-audit: {exc}") from exc
    if "No module named pip_audit" in completed.stderr:
        print("Dependency audit INCOMPLETE: pip-audit is not installed (pip install -e '.[test]').", file=sys.stderr)
        raise SystemExit(2)
    try:
        return json.loads(completed.stdout)
    except json.JSONDecodeError:
        print(f"Dependency audit INCOMPLETE: pip-audit gave no report (exit {completed.returncode}):\n"
              f"{completed.stderr[-3000:]}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", choices=("pypi", "osv"), default="pypi")
    args = parser.parse_args(argv)
    summary = summarise(run_pip_audit(service=args.service))
    for finding in summary.findings:
        print(finding.line())
    if summary.skipped:
        print(INCOMPLETE_MSG.format(skipped=len(summary.skipped), total=summary.total, service=args.service,
                                    examples="; ".join(summary.skipped[:3])), file=sys.stderr)
    if summary.exit_status == 0:
        print(f"Dependency audit clean: {summary.total} packages checked against {args.service}.")
    elif summary.findings:
        print(f"{len(summary.findings)} known vulnerabilities in {summary.total} packages.", file=sys.stderr)
    return summary.exit_status


if __name__ == "__main__":
    raise SystemExit(main())
