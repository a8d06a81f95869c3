"""Rows written once and never changed (signed reports, decision history), in Python and on PostgreSQL.

The model and queryset refuse ``save()`` of an existing row, ``update()`` and ``delete()``;
:func:`refuse_update_delete` is a migration operation that adds a trigger doing the same in
PostgreSQL (a no-op on SQLite).
"""
from django.db import migrations, models


class ImmutableRow(Exception):
    """Raised on any attempt to change or delete a row of an immutable model."""


def immutable_queryset(message: str) -> type[models.QuerySet]:
    """Return a QuerySet class whose ``update()`` and ``delete()`` raise ``ImmutableRow(message)``."""

    class ImmutableQuerySet(models.QuerySet):
        def update(self, **kwargs):
            raise ImmutableRow(message)

        def delete(self):
            raise ImmutableRow(message)

    return ImmutableQuerySet


class ImmutableModel(models.Model):
    """Inserted once: ``save()`` of an existing row and ``delete()`` raise ``ImmutableRow``."""

    immutable_message = "This row cannot be changed."

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ImmutableRow(self.immutable_message)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableRow(self.immutable_message)


def refuse_update_delete(table: str, message: str) -> migrations.RunPython:
    """Return a migration operation adding a PostgreSQL trigger that refuses UPDATE and DELETE on ``table``."""
    function = f"{table}_immutable"
    create = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{message}';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER {function} BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}();
"""
    drop = f"DROP TRIGGER IF EXISTS {function} ON {table}; DROP FUNCTION IF EXISTS {function}();"

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop)

    return migrations.RunPython(forwards, backwards)
