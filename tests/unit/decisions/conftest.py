"""Re-use the report tests' studies."""
from tests.unit.reports.conftest import foreign_study, ready_study  # noqa: F401
