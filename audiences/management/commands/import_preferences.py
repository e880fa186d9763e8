from datetime import date
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audiences.services import preferences_import_path
from personaplatform.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Import preference snapshots from a CSV or JSON file (columns audience_key, "
        "audience_name, app, score, share, rank; optional as_of, audience_size, seed_app). "
        "All or nothing: one bad row rejects the file."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--owner", help="Username that owns newly created audiences.")
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            help="Snapshot date (YYYY-MM-DD) for rows without as_of.",
        )

    def handle(self, *args, file: Path, owner: str | None, as_of: date | None, **options) -> None:
        user = None
        if owner:
            user = get_user_model().objects.filter(username=owner).first()
            if user is None:
                raise CommandError(f"There is no user {owner!r}.")
        try:
            result = preferences_import_path(path=file, owner=user, taken_at=as_of)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            f"{file.name}: {len(result.created)} new snapshot(s), "
            f"{len(result.unchanged)} unchanged (identical content already stored), "
            f"{len(result.new_audiences)} new audience(s)."
        )
        if result.new_apps:
            shown = ", ".join(result.new_apps[:10]) + (" …" if len(result.new_apps) > 10 else "")
            self.stdout.write(
                self.style.WARNING(
                    f"{len(result.new_apps)} app(s) not in the catalog were added as 'other': "
                    f"{shown}"
                )
            )
