"""A prompt version is what a persona's provenance points at: the database refuses to change it."""

from django.db import migrations

from personaplatform.immutable import refuse_updates


class Migration(migrations.Migration):
    dependencies = [("personas", "0001_initial")]

    operations = [refuse_updates("personas_promptversion", except_columns=("author_id",))]
