import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from audiences.models import Audience
from audiences.services import SAMPLE_PREFERENCES, catalog_load_file, preferences_import_path
from personaplatform.errors import ApplicationError
from personas.models import Generation, GenerationStatus, Persona
from personas.prompts import prompt_version_resolve
from personas.services import generation_run_create

DEMO_USERS = (("analyst", "analyst"), ("manager", "manager"))


class Command(BaseCommand):
    help = (
        "Load the sample catalog and preference snapshots, create the demo users 'analyst' and "
        "'manager' (password from DEMO_PASSWORD, default 'demo') and draft personas for every "
        "audience with the offline backend. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backend", default="offline", help="LLM backend for the drafts (default offline)."
        )
        parser.add_argument("--no-generate", action="store_true", help="Skip generation.")

    def handle(self, *args, backend: str, no_generate: bool, **options) -> None:
        password = os.environ.get("DEMO_PASSWORD", "demo")
        try:
            with transaction.atomic():
                created, updated = catalog_load_file()
                self.stdout.write(f"App catalog: {created} new, {updated} updated.")
                users = self._users(password)
                result = preferences_import_path(path=SAMPLE_PREFERENCES, owner=users["analyst"])
            self.stdout.write(
                f"Sample snapshots: {len(result.created)} new, {len(result.unchanged)} unchanged; "
                f"{Audience.objects.count()} audiences."
            )
            if not no_generate:
                plan = generation_run_create(
                    audiences=Audience.objects.filter(snapshots__isnull=False).distinct(),
                    prompt_version=prompt_version_resolve(),
                    backend=backend,
                )
                generations = Generation.objects.filter(run=plan.run)
                succeeded = generations.filter(status=GenerationStatus.SUCCEEDED).count()
                failed = generations.filter(status=GenerationStatus.FAILED).count()
                queued = generations.count() - succeeded - failed
                self.stdout.write(
                    f"Generation run {plan.run.pk} on {backend!r}: {succeeded} succeeded, "
                    f"{failed} failed, {queued} queued for workers. "
                    f"{Persona.objects.count()} personas in all."
                )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None

        told = "from DEMO_PASSWORD" if "DEMO_PASSWORD" in os.environ else repr(password)
        self.stdout.write(
            self.style.SUCCESS(
                "\nDemo ready. Sign in at /accounts/login/ (or /admin/) as 'analyst' or 'manager' "
                f"with the password {told}."
            )
        )

    def _users(self, password: str) -> dict:
        User = get_user_model()
        users = {}
        for username, group_name in DEMO_USERS:
            user, _ = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com"}
            )
            # Staff so the admin works for them; what they may do there comes from their group.
            user.is_staff = True
            user.set_password(password)
            user.save()
            user.groups.add(Group.objects.get(name=group_name))
            users[username] = user
        return users
