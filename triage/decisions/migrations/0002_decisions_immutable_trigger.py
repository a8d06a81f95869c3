"""On PostgreSQL, refuse UPDATE and DELETE of recorded decisions at the database level too."""
from django.db import migrations

from triage.core.immutable import refuse_update_delete


class Migration(migrations.Migration):
    dependencies = [("decisions", "0001_initial")]
    operations = [refuse_update_delete("decisions_decision", "decisions_decision rows are a history; record a new one")]
