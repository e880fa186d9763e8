"""Database triggers that refuse UPDATE on tables whose rows are immutable records.

Used by migrations; SQLite and PostgreSQL are supported, other vendors are left unguarded (the
services never update these rows anyway).
"""

from django.db import migrations

SQLITE_CREATE = """
CREATE TRIGGER {table}_immutable BEFORE UPDATE ON {table}
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
FOR EACH ROW EXECUTE FUNCTION pp_refuse_update();
"""


def refuse_updates(*tables: str) -> migrations.RunPython:
    """A migration operation installing (and, reversed, removing) the triggers on ``tables``."""

    def create(apps, schema_editor) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(POSTGRES_FUNCTION)
        for table in tables:
            if vendor == "postgresql":
                schema_editor.execute(POSTGRES_CREATE.format(table=table))
            elif vendor == "sqlite":
                schema_editor.execute(SQLITE_CREATE.format(table=table))

    def drop(apps, schema_editor) -> None:
        vendor = schema_editor.connection.vendor
        for table in tables:
            if vendor == "postgresql":
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
            elif vendor == "sqlite":
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_immutable")

    return migrations.RunPython(create, drop)
