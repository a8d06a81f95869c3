from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_signed_labels(apps, schema_editor):
    """Fill the new column from each study's latest signed report (rows signed before this migration)."""
    WorklistEntry = apps.get_model("worklist", "WorklistEntry")
    Report = apps.get_model("reports", "Report")
    latest = Report.objects.filter(study_id=OuterRef("study_id")).order_by("-version").values("radiologist_label")[:1]
    WorklistEntry.objects.filter(reviewed=True).update(radiologist_label=Subquery(latest))


class Migration(migrations.Migration):

    dependencies = [
        ("worklist", "0002_hospital_probability_index_with_id"),
        ("reports", "0002_signed_reports_immutable_trigger"),
    ]

    operations = [
        migrations.AddField(
            model_name="worklistentry",
            name="radiologist_label",
            field=models.CharField(blank=True, help_text="The latest signed report's label.", max_length=32),
        ),
        migrations.RunPython(copy_signed_labels, migrations.RunPython.noop),
    ]
