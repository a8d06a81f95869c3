"""On PostgreSQL, refuse UPDATE and DELETE of signed reports at the database level too."""
from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION reports_report_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'reports_report rows are signed and immutable; add an addendum';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER reports_report_immutable
    BEFORE UPDATE OR DELETE ON reports_report
    FOR EACH ROW EXECUTE FUNCTION reports_report_immutable();
"""
DROP = """
DROP TRIGGER IF EXISTS reports_report_immutable ON reports_report;
DROP FUNCTION IF EXISTS reports_report_immutable();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
