import csv
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from personas.documents import persona_document
from personas.models import Persona, PersonaStatus
from personas.parsing import PROFILE_FIELDS

CSV_COLUMNS = [
    "id",
    "audience_key",
    "audience_name",
    "status",
    "summary",
    *PROFILE_FIELDS,
    "hashtags_zh",
    "hashtags_en",
    "age_groups",
    "gender",
    "tags",
    "prompt",
    "prompt_version",
    "backend",
    "model",
    "snapshot_taken_at",
    "generation_id",
    "revision",
    "published_at",
]


class Command(BaseCommand):
    help = "Write persona documents to standard output, as JSON (default) or CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--status", choices=PersonaStatus.values, help="Only this status.")
        parser.add_argument("--audience", nargs="+", metavar="KEY", help="Only these audiences.")
        parser.add_argument("--format", choices=["json", "csv"], default="json")

    def handle(self, *args, status: str | None, audience: list[str] | None, **options) -> None:
        personas = Persona.objects.with_document_relations().order_by("audience__key", "pk")
        if status:
            personas = personas.filter(status=status)
        if audience:
            personas = personas.filter(audience__key__in=audience)
            missing = set(audience) - set(personas.values_list("audience__key", flat=True))
            if missing:
                raise CommandError("No personas for audience(s): " + ", ".join(sorted(missing)))
        documents = [persona_document(persona) for persona in personas]
        if options["format"] == "json":
            self.stdout.write(json.dumps(documents, ensure_ascii=False, indent=2))
            return
        writer = csv.DictWriter(self.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for doc in documents:
            writer.writerow(
                {
                    "id": doc["id"],
                    "audience_key": doc["audience"]["key"],
                    "audience_name": doc["audience"]["name"],
                    "status": doc["status"],
                    "summary": doc["summary"],
                    **doc["profile"],
                    "hashtags_zh": json.dumps(doc["hashtags"]["zh"], ensure_ascii=False),
                    "hashtags_en": json.dumps(doc["hashtags"]["en"], ensure_ascii=False),
                    "age_groups": json.dumps(doc["age_groups"]),
                    "gender": json.dumps(doc["gender"]),
                    "tags": ", ".join(f"{t['category']}:{t['name']}" for t in doc["tags"]),
                    **doc["provenance"],
                    "revision": doc["revision"],
                    "published_at": doc["published_at"] or "",
                }
            )
