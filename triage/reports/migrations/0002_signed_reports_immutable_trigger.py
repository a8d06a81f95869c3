"""On PostgreSQL, refuse UPDATE and DELETE of signed reports at the database level too."""
from django.db import migrations

from triage.core.immutable import refuse_update_delete


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]
    operations = [refuse_update_delete("reports_report", "reports_report rows are signed and immutable; add an addendum")]
