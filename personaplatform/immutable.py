"""Database triggers that refuse UPDATE on tables whose rows are immutable records.

An UPDATE that changes a guarded column is refused; one that writes the same values back is let
through, because it changes nothing (Django's fixture loading does exactly that). Columns named
in ``except_columns`` may change: a foreign key to a user, set to NULL when the user is deleted,
does not rewrite the record. The column list is read when the trigger is created, so a
migration that adds a column to one of these tables must call :func:`refuse_updates` again.
SQLite and PostgreSQL are supported; other vendors are left unguarded (the services never
update these rows anyway).
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
FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION pp_refuse_update();
"""


def refuse_updates(table: str, *, except_columns: tuple[str, ...] = ()) -> migrations.RunPython:
    """A migration operation installing (and, reversed, removing) the trigger on ``table``."""

    def create(apps, schema_editor) -> None:
        connection = schema_editor.connection
        if connection.vendor not in ("postgresql", "sqlite"):
            return
        with connection.cursor() as cursor:
            columns = [
                c.name
                for c in connection.introspection.get_table_description(cursor, table)
                if c.name not in except_columns
            ]
        different = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
        changed = " OR ".join(f'OLD."{c}" {different} NEW."{c}"' for c in columns)
        drop(apps, schema_editor)
        if connection.vendor == "postgresql":
            # params=None: the function body's "%" is not a query placeholder.
            schema_editor.execute(POSTGRES_FUNCTION, params=None)
            schema_editor.execute(POSTGRES_CREATE.format(table=table, changed=changed))
        else:
            schema_editor.execute(SQLITE_CREATE.format(table=table, changed=changed))

    def drop(apps, schema_editor) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable")

    return migrations.RunPython(create, drop)
