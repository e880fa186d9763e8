"""The three roles as groups with permissions. Admins are superusers and need no group."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ANALYST = {
    "audiences": [
        "view_app",
        "add_app",
        "change_app",
        "view_audience",
        "add_audience",
        "change_audience",
        "view_preferencesnapshot",
        "add_preferencesnapshot",
        "view_preferenceitem",
    ],
    "personas": [
        "view_prompttemplate",
        "view_promptversion",
        "view_promptlabel",
        "view_promptlabelmove",
        "view_generationrun",
        "add_generationrun",
        "view_generation",
        "view_persona",
        "change_persona",
        "view_personarevision",
        "view_tag",
        "add_tag",
        "view_personatag",
        "add_personatag",
        "delete_personatag",
        "view_reviewevent",
        "add_reviewevent",
    ],
}
MANAGER_EXTRA = {
    "audiences": ["view_all_audiences", "delete_audience"],
    "personas": [
        "review_persona",
        "publish_persona",
        "add_prompttemplate",
        "add_promptversion",
        "change_promptlabel",
        "add_promptlabel",
        "add_promptlabelmove",
        "change_tag",
        "delete_tag",
    ],
}
API_CLIENT = {"personas": ["view_persona"]}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        if getattr(app_config, "models_module", None) is None:  # historical apps: pretend
            app_config.models_module = True
            create_permissions(app_config, apps=apps, verbosity=0)
            app_config.models_module = None
        else:
            create_permissions(app_config, apps=apps, verbosity=0)

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def grant(group_name, *specs):
        group, _ = Group.objects.get_or_create(name=group_name)
        for spec in specs:
            for app_label, codenames in spec.items():
                perms = Permission.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
                missing = set(codenames) - set(perms.values_list("codename", flat=True))
                if missing:
                    raise RuntimeError(f"Unknown permissions for {group_name}: {sorted(missing)}")
                group.permissions.add(*perms)

    grant("analyst", ANALYST)
    grant("manager", ANALYST, MANAGER_EXTRA)
    grant("api_client", API_CLIENT)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["analyst", "manager", "api_client"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("personas", "0002_immutable_prompt_versions"),
        ("audiences", "0002_immutable_snapshots"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
