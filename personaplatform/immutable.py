"""Database triggers that refuse UPDATE on tables whose rows are immutable records.

An UPDATE that changes any column is refused; one that writes the same values back is let
through, because it changes nothing (Django's fixture loading does exactly that). The SQLite
trigger lists the table's columns when it is created: a migration that adds a column to one of
these tables must call :func:`refuse_updates` again. Other vendors are left unguarded (the
services never update these rows anyway).
"""

from django.db import migrations

SQLITE_CREATE = """
CREATE TRIGGER {table}_immutable BEFORE UPDATE ON {table}
FOR EACH ROW WHEN {changed}
BEGIN SELECT RAISE(ABORT, '{table} rows are immutable'); END;
"""
POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION pp_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are immutable', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""
POSTGRES_CREATE = """
CREATE TRIGGER {table}_immutable BEFORE UPDATE ON {table}
FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION pp_refuse_update();
"""


def refuse_updates(*tables: str) -> migrations.RunPython:
    """A migration operation installing (and, reversed, removing) the triggers on ``tables``."""

    def create(apps, schema_editor) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(POSTGRES_FUNCTION, params=None)
        for table in tables:
            if vendor == "postgresql":
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
                schema_editor.execute(POSTGRES_CREATE.format(table=table))
            elif vendor == "sqlite":
                connection = schema_editor.connection
                with connection.cursor() as cursor:
                    columns = connection.introspection.get_table_description(cursor, table)
                changed = " OR ".join(f'OLD."{c.name}" IS NOT NEW."{c.name}"' for c in columns)
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable")
                schema_editor.execute(SQLITE_CREATE.format(table=table, changed=changed))

    def drop(apps, schema_editor) -> None:
        vendor = schema_editor.connection.vendor
        for table in tables:
            if vendor == "postgresql":
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
            elif vendor == "sqlite":
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable")

    return migrations.RunPython(create, drop)
