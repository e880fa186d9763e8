import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Q, Sum

from audiences.models import Audience
from personaplatform.errors import ApplicationError
from personas.models import Generation, GenerationStatus
from personas.prompts import DEFAULT_PROMPT, prompt_version_resolve
from personas.services import generation_run_create

POLL_INTERVAL_S = 0.5
# Queued work that nobody picks up for this long usually means no worker is running.
NO_PROGRESS_HINT_S = 30


class Command(BaseCommand):
    help = "Generate draft personas from each audience's newest preference snapshot."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--audience", nargs="+", metavar="KEY", help="Audience keys.")
        which.add_argument("--all", action="store_true", help="Every audience with a snapshot.")
        parser.add_argument(
            "--prompt",
            default=DEFAULT_PROMPT,
            metavar="SLUG[@VERSION|:LABEL]",
            help=f"Prompt version to use (default {DEFAULT_PROMPT}).",
        )
        parser.add_argument("--samples", type=int, default=1, help="Independent samples each.")
        parser.add_argument("--force", action="store_true", help="Call the LLM even if cached.")
        parser.add_argument("--wait", action="store_true", help="Wait, show progress, summarise.")
        parser.add_argument("--backend", help="LLM backend (default: settings.LLM_BACKEND).")
        parser.add_argument(
            "--timeout", type=float, default=3600, help="Seconds --wait waits at most."
        )

    def handle(self, *args, **options) -> None:
        try:
            version = prompt_version_resolve(options["prompt"])
            audiences = self._audiences(options["audience"], options["all"])
            plan = generation_run_create(
                audiences=audiences,
                prompt_version=version,
                samples=options["samples"],
                force=options["force"],
                backend=options["backend"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None

        run = plan.run
        self.stdout.write(
            f"Run {run.pk}: {len(plan.generations)} generation(s) with {version} "
            f"on backend {run.backend!r}."
        )
        if plan.skipped:
            self.stdout.write(
                self.style.WARNING("No snapshot yet, skipped: " + ", ".join(plan.skipped))
            )
        if options["wait"]:
            self._wait(run.pk, len(plan.generations), options["timeout"])

    def _audiences(self, keys: list[str] | None, everything: bool) -> list[Audience]:
        if everything:
            return list(Audience.objects.filter(snapshots__isnull=False).distinct())
        found = {a.key: a for a in Audience.objects.filter(key__in=keys)}
        unknown = [key for key in keys if key not in found]
        if unknown:
            raise CommandError("Unknown audience(s): " + ", ".join(unknown))
        return [found[key] for key in keys]

    def _wait(self, run_id: int, total: int, timeout: float) -> None:
        generations = Generation.objects.filter(run_id=run_id)
        deadline = time.monotonic() + timeout
        last, last_change, hinted = -1, time.monotonic(), False
        while True:
            done = generations.finished().count()
            if done != last:
                self.stdout.write(f"  {done}/{total} finished")
                last, last_change = done, time.monotonic()
            if done >= total or time.monotonic() > deadline:
                break
            if not hinted and time.monotonic() - last_change > NO_PROGRESS_HINT_S:
                running = generations.filter(status=GenerationStatus.RUNNING).exists()
                if not running:
                    self.stdout.write(
                        self.style.WARNING(
                            f"  Nothing has started in {NO_PROGRESS_HINT_S} s: is a worker "
                            "running? (celery -A personaplatform worker)"
                        )
                    )
                    hinted = True
            time.sleep(POLL_INTERVAL_S)
        self._summarise(generations, total)

    def _summarise(self, generations, total: int) -> None:
        counts = generations.aggregate(
            succeeded=Count("pk", filter=Q(status=GenerationStatus.SUCCEEDED)),
            failed=Count("pk", filter=Q(status=GenerationStatus.FAILED)),
            cached=Count("pk", filter=Q(cached_from__isnull=False)),
            prompt_tokens=Sum("prompt_tokens", default=0),
            completion_tokens=Sum("completion_tokens", default=0),
            cost=Sum("cost_usd", default=0),
        )
        unfinished = total - counts["succeeded"] - counts["failed"]
        self.stdout.write(
            f"Succeeded: {counts['succeeded']} ({counts['cached']} from cache), "
            f"failed: {counts['failed']}, unfinished: {unfinished}. "
            f"Tokens: {counts['prompt_tokens']} in, {counts['completion_tokens']} out. "
            f"Cost: ${counts['cost']:.4f}."
        )
        failures = generations.filter(status=GenerationStatus.FAILED).select_related(
            "snapshot__audience"
        )
        for generation in failures:
            self.stdout.write(
                self.style.ERROR(
                    f"  {generation.snapshot.audience.key} (sample {generation.sample_index}): "
                    f"{generation.error_code}: {generation.error_message}"
                )
            )
        if counts["failed"] or unfinished:
            raise CommandError(
                f"{counts['failed']} generation(s) failed and {unfinished} did not finish."
            )
