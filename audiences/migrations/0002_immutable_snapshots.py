"""Snapshots and their items are facts about the past: the database refuses to change them."""

from django.db import migrations

from personaplatform.immutable import refuse_updates


class Migration(migrations.Migration):
    dependencies = [("audiences", "0001_initial")]

    operations = [
        refuse_updates("audiences_preferencesnapshot", except_columns=("created_by_id",)),
        refuse_updates("audiences_preferenceitem"),
    ]
