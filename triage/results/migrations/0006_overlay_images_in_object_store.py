"""Overlay images move out of PostgreSQL into the object store (issue #19).

Order: add the key columns; make the byte columns nullable (so the reverse can re-add them on a
table with rows); copy every image into the store and name it in its row; drop the byte columns.
Reversible: backwards, the images are read back from the store into the byte columns (the store
objects stay; the collector removes them once no row names them).
"""
from django.db import migrations, models

from triage.core.object_store import lock_store_for_writing, read_content
from triage.results.overlay_store import store_overlay_images


def images_to_store(apps, schema_editor):
    Overlay = apps.get_model("results", "Overlay")
    lock_store_for_writing()  # the migration is one transaction: a reused image is safe from the collector
    rows = Overlay.objects.select_related("result__study__hospital").order_by("pk")
    for overlay in rows.iterator(chunk_size=200):
        fields = store_overlay_images(hospital_uuid=overlay.result.study.hospital.uuid, png=bytes(overlay.png),
                                      heatmap=bytes(overlay.heatmap) if overlay.heatmap else None)
        Overlay.objects.filter(pk=overlay.pk).update(**fields)


def images_to_database(apps, schema_editor):
    Overlay = apps.get_model("results", "Overlay")
    for overlay in Overlay.objects.order_by("pk").iterator(chunk_size=200):
        Overlay.objects.filter(pk=overlay.pk).update(
            png=read_content(overlay.png_key), heatmap=read_content(overlay.heatmap_key) if overlay.heatmap_key else None)


class Migration(migrations.Migration):

    dependencies = [
        ('results', '0005_candidate_swept_until'),
    ]

    operations = [
        migrations.AddField(
            model_name='overlay',
            name='png_key',
            field=models.CharField(default='', help_text='Rendered overlay over the lung-window slice, with a colour bar (PNG): its object-store key.', max_length=200),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='overlay',
            name='png_sha256',
            field=models.CharField(default='', max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='overlay',
            name='png_size_bytes',
            field=models.PositiveIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='overlay',
            name='heatmap_key',
            field=models.CharField(blank=True, default='', help_text="Raw heatmap, 8-bit PNG, for re-blending: its object-store key ('' when none).", max_length=200),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='overlay',
            name='heatmap_sha256',
            field=models.CharField(blank=True, default='', max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='overlay',
            name='heatmap_size_bytes',
            field=models.PositiveIntegerField(null=True),
        ),
        migrations.AlterField(
            model_name='overlay',
            name='png',
            field=models.BinaryField(null=True, help_text='Rendered overlay over the lung-window slice, with a colour bar.'),
        ),
        migrations.RunPython(images_to_store, images_to_database),
        migrations.RemoveField(
            model_name='overlay',
            name='heatmap',
        ),
        migrations.RemoveField(
            model_name='overlay',
            name='png',
        ),
    ]
