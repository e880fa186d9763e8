"""Writes for generation and personas. The commands, admin, web views, API and tasks call these."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from audiences.models import Audience, PreferenceSnapshot
from personaplatform.errors import ApplicationError, Conflict, Forbidden, InvalidInput

from .documents import persona_content
from .llm import LLMError, get_backend
from .models import (
    Generation,
    GenerationRun,
    GenerationStatus,
    Persona,
    PersonaRevision,
    PersonaStatus,
    PersonaTag,
    PromptLabel,
    PromptLabelMove,
    PromptVersion,
    ReviewAction,
    ReviewEvent,
    Tag,
    TagSource,
)
from .parsing import PROFILE_FIELDS, PersonaOutput, PersonaParseError, parse_persona_output
from .prompts import llm_request_build
from .tagging import extract_tags

logger = logging.getLogger(__name__)

MAX_SAMPLES = 20
# Raw answers are kept for diagnosis; a runaway model answer is cut rather than stored whole.
MAX_RAW_RESPONSE_CHARS = 100_000
SUMMARY_TOP_APPS = 5


@dataclass(frozen=True)
class RunPlan:
    run: GenerationRun
    generations: list[Generation]
    skipped: list[str]  # audience keys without a snapshot


# --- Prompt labels ------------------------------------------------------------------------------


@transaction.atomic
def prompt_label_move(
    *, version: PromptVersion, label: str, moved_by=None, note: str = ""
) -> PromptLabelMove:
    """Point ``label`` of the version's template at ``version``: a promotion or a rollback.

    Every move is recorded, so the history of what was in production when is never lost.
    """
    if moved_by is not None and not moved_by.has_perm("personas.change_promptlabel"):
        raise Forbidden("Only managers move prompt labels.")
    pointer = (
        PromptLabel.objects.select_for_update()
        .filter(template_id=version.template_id, name=label)
        .first()
    )
    previous = pointer.version if pointer else None
    if previous is not None and previous.pk == version.pk:
        raise Conflict(
            f"{version.template.slug}:{label} already points at version {version.number}."
        )
    if pointer is None:
        pointer = PromptLabel.objects.create(
            template_id=version.template_id, name=label, version=version
        )
    else:
        pointer.version = version
        pointer.save(update_fields=["version", "updated_at"])
    return PromptLabelMove.objects.create(
        label=pointer, from_version=previous, to_version=version, moved_by=moved_by, note=note
    )


# --- Generation runs ----------------------------------------------------------------------------


def generation_cache_key(
    *,
    snapshot: PreferenceSnapshot,
    version: PromptVersion,
    backend: str,
    default_model: str,
    sample_index: int,
) -> str:
    """What makes two generations interchangeable: same input, same prompt, same settings.

    The audience is part of it because its name is part of the prompt: two audiences with the
    same preference list still get a persona each.
    """
    payload = {
        "audience": snapshot.audience_id,
        "snapshot": snapshot.content_hash,
        "prompt_version": version.pk,
        "backend": backend,
        "model": version.model or default_model,
        "temperature": version.temperature,
        "params": version.params,
        "sample": sample_index,
    }
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def generation_run_create(
    *,
    audiences: Iterable[Audience],
    prompt_version: PromptVersion,
    samples: int = 1,
    force: bool = False,
    backend: str | None = None,
    created_by=None,
) -> RunPlan:
    """Queue one generation per audience and sample on its newest snapshot.

    The tasks are sent after the transaction commits, so a worker never looks for a row that is
    not there yet; with no broker they run in-process at that moment.
    """
    if not 1 <= samples <= MAX_SAMPLES:
        raise InvalidInput(f"samples must be between 1 and {MAX_SAMPLES}, not {samples}.")
    backend = backend or settings.LLM_BACKEND
    # Built now so a misconfigured backend fails here, once, rather than in every task.
    try:
        default_model = get_backend(backend).model
    except LLMError as exc:
        raise InvalidInput(exc.message, code=exc.code) from None
    audiences = list(audiences)
    if not audiences:
        raise InvalidInput("No audiences to generate for.")
    # Without beat (eager mode, a laptop) this is what clears generations a crash left behind.
    generation_reap_stale()

    latest = {
        s.audience_id: s
        for s in PreferenceSnapshot.objects.filter(audience__in=audiences)
        .latest_per_audience()
        .select_related("audience")
    }
    skipped = [a.key for a in audiences if a.pk not in latest]
    if len(skipped) == len(audiences):
        raise InvalidInput(
            "None of the audiences has a preference snapshot yet: " + ", ".join(skipped) + "."
        )

    with transaction.atomic():
        run = GenerationRun.objects.create(
            prompt_version=prompt_version,
            backend=backend,
            samples=samples,
            force=force,
            created_by=created_by,
        )
        generations = Generation.objects.bulk_create(
            Generation(
                run=run,
                snapshot=snapshot,
                prompt_version=prompt_version,
                sample_index=sample,
                backend=backend,
                cache_key=generation_cache_key(
                    snapshot=snapshot,
                    version=prompt_version,
                    backend=backend,
                    default_model=default_model,
                    sample_index=sample,
                ),
            )
            for snapshot in latest.values()
            for sample in range(samples)
        )
        ids = [g.pk for g in generations]
        transaction.on_commit(lambda: _dispatch(ids))
    return RunPlan(run=run, generations=generations, skipped=skipped)


class DispatchError(ApplicationError):
    code = "dispatch_failed"
    http_status = 503


def _dispatch(generation_ids: list[int]) -> None:
    from .tasks import generation_execute_task

    for index, generation_id in enumerate(generation_ids):
        try:
            generation_execute_task.delay(generation_id)
        except Exception as exc:  # kombu's OperationalError and whatever the transport raises
            # The rows are committed; without a message nobody would ever run them.
            undispatched = generation_ids[index:]
            reason = f"Could not queue the task: {type(exc).__name__}: {exc}"
            Generation.objects.filter(pk__in=undispatched, status=GenerationStatus.QUEUED).update(
                status=GenerationStatus.FAILED,
                error_code=DispatchError.code,
                error_message=reason,
                finished_at=timezone.now(),
            )
            raise DispatchError(
                f"{reason}. {len(undispatched)} generation(s) were marked failed; run them again "
                "once the broker (CELERY_BROKER_URL) is reachable."
            ) from exc


# --- One generation -----------------------------------------------------------------------------


def _claim(generation_id: int) -> Generation | None:
    """Move a generation to running, if it is ours to run; None if it is not.

    The conditional UPDATE is the lock: of two workers given the same id, one changes the row
    and the other changes nothing. A generation left running by a worker that died can be
    claimed again once it is stale.
    """
    now = timezone.now()
    stale_before = now - timedelta(seconds=settings.GENERATION_STALE_AFTER_S)
    claimed = Generation.objects.filter(
        Q(status=GenerationStatus.QUEUED)
        | Q(status=GenerationStatus.RUNNING, started_at__lt=stale_before),
        pk=generation_id,
    ).update(status=GenerationStatus.RUNNING, started_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    return Generation.objects.select_related(
        "run", "snapshot__audience__seed_app", "prompt_version__template"
    ).get(pk=generation_id)


def generation_execute(*, generation_id: int) -> Generation | None:
    """Run one generation to its end: reuse a cached result, or call the LLM, parse, persist.

    Idempotent: a finished generation, or one another worker is on, is left alone.
    """
    generation = _claim(generation_id)
    if generation is None:
        logger.info("Generation %s is finished or being run elsewhere; skipping.", generation_id)
        return None
    try:
        if not generation.run.force and _reuse_cached(generation):
            return generation
        _call_and_store(generation)
    except Exception as exc:
        # Whatever went wrong, the row must not stay "running"; the traceback goes to the log.
        logger.exception("Generation %s crashed", generation_id)
        _finish_failed(generation, code="internal_error", message=f"{type(exc).__name__}: {exc}")
    return generation


def _reuse_cached(generation: Generation) -> bool:
    source = (
        Generation.objects.filter(
            cache_key=generation.cache_key,
            status=GenerationStatus.SUCCEEDED,
            cached_from__isnull=True,
        )
        .exclude(pk=generation.pk)
        .order_by("finished_at", "pk")
        .first()
    )
    if source is None:
        return False
    with transaction.atomic():
        updated = Generation.objects.filter(
            pk=generation.pk, status=GenerationStatus.RUNNING, attempts=generation.attempts
        ).update(
            status=GenerationStatus.SUCCEEDED,
            cached_from=source,
            model=source.model,
            rendered_messages=source.rendered_messages,
            raw_response=source.raw_response,
            parsed_output=source.parsed_output,
            repairs=source.repairs,
            finished_at=timezone.now(),
        )
        if updated:
            generation.refresh_from_db()
            # An earlier draft of this result is its persona; only if every such draft has
            # been deleted is a new one made from the cached output, still at no cost.
            if not Persona.objects.filter(
                origin_generation__cache_key=generation.cache_key
            ).exists():
                output = PersonaOutput.model_validate(source.parsed_output)
                persona_create_from_generation(generation=generation, output=output)
    return True


def _call_and_store(generation: Generation) -> None:
    version = generation.prompt_version
    request = llm_request_build(
        snapshot=generation.snapshot, version=version, sample_index=generation.sample_index
    )
    Generation.objects.filter(pk=generation.pk).update(rendered_messages=list(request.messages))
    generation.rendered_messages = list(request.messages)

    try:
        response = get_backend(generation.backend).complete(request)
    except LLMError as exc:
        _finish_failed(generation, code=exc.code, message=exc.message)
        return

    generation.model = response.model
    generation.raw_response = response.text[:MAX_RAW_RESPONSE_CHARS]
    generation.prompt_tokens = response.prompt_tokens
    generation.completion_tokens = response.completion_tokens
    generation.cost_usd = response.cost_usd
    generation.latency_ms = response.latency_ms
    try:
        parsed = parse_persona_output(
            response.text, age_groups=version.age_groups, genders=version.genders
        )
    except PersonaParseError as exc:
        generation.repairs = list(exc.repairs)
        _finish_failed(generation, code=exc.code, message=exc.message)
        return

    with transaction.atomic():
        locked = (
            Generation.objects.select_for_update()
            .filter(pk=generation.pk, status=GenerationStatus.RUNNING)
            .first()
        )
        if locked is None or locked.attempts != generation.attempts:
            logger.warning("Generation %s was taken over; dropping this result.", generation.pk)
            return
        generation.status = GenerationStatus.SUCCEEDED
        generation.parsed_output = parsed.output.model_dump()
        generation.repairs = list(parsed.repairs)
        generation.error_code = generation.error_message = ""
        generation.finished_at = timezone.now()
        generation.save()
        persona_create_from_generation(generation=generation, output=parsed.output)


def _finish_failed(generation: Generation, *, code: str, message: str) -> None:
    generation.status = GenerationStatus.FAILED
    generation.error_code = code[:50] or "failed"
    generation.error_message = message
    generation.finished_at = timezone.now()
    Generation.objects.filter(
        pk=generation.pk, status=GenerationStatus.RUNNING, attempts=generation.attempts
    ).update(
        status=generation.status,
        error_code=generation.error_code,
        error_message=generation.error_message,
        finished_at=generation.finished_at,
        model=generation.model,
        raw_response=generation.raw_response,
        repairs=generation.repairs,
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=generation.completion_tokens,
        cost_usd=generation.cost_usd,
        latency_ms=generation.latency_ms,
    )


def generation_reap_stale() -> int:
    """Fail generations whose worker vanished, so nothing stays "running" forever."""
    stale_before = timezone.now() - timedelta(seconds=settings.GENERATION_STALE_AFTER_S)
    return Generation.objects.filter(
        status=GenerationStatus.RUNNING, started_at__lt=stale_before
    ).update(
        status=GenerationStatus.FAILED,
        error_code="worker_lost",
        error_message=(
            f"No result after {settings.GENERATION_STALE_AFTER_S} s: the worker running it "
            "stopped. Run the generation again."
        ),
        finished_at=timezone.now(),
    )


# --- Personas -----------------------------------------------------------------------------------


def _default_summary(generation: Generation) -> str:
    names = list(
        generation.snapshot.items.order_by("rank").values_list("app__name", flat=True)[
            :SUMMARY_TOP_APPS
        ]
    )
    audience = generation.snapshot.audience.name
    return f"{audience}偏好 {'、'.join(names)} 等 app。"


@transaction.atomic
def persona_create_from_generation(*, generation: Generation, output: PersonaOutput) -> Persona:
    """The draft persona of a successful generation, with revision 1, its tags and history."""
    try:
        with transaction.atomic():
            persona = Persona.objects.create(
                audience=generation.snapshot.audience,
                origin_generation=generation,
                snapshot=generation.snapshot,
                prompt_version=generation.prompt_version,
                backend=generation.backend,
                model=generation.model,
                status=PersonaStatus.DRAFT,
                summary=output.summary or _default_summary(generation),
                hashtags_zh=list(output.hashtags.zh),
                hashtags_en=list(output.hashtags.en),
                age_groups=dict(output.age_groups),
                gender=dict(output.gender),
                **{field: getattr(output.profile, field) for field in PROFILE_FIELDS},
            )
    except IntegrityError:
        # The one-to-one on the generation: a persona for it already exists.
        return Persona.objects.get(origin_generation=generation)
    PersonaRevision.objects.create(
        persona=persona, number=1, content=persona_content(persona), note="LLM draft"
    )
    _tags_assign_extracted(persona=persona, output=output)
    ReviewEvent.objects.create(
        persona=persona,
        action=ReviewAction.CREATE,
        from_status="",
        to_status=PersonaStatus.DRAFT,
        comment=f"Drafted by {generation.backend} ({generation.model}), "
        f"generation {generation.pk}.",
    )
    return persona


def _tags_assign_extracted(*, persona: Persona, output: PersonaOutput) -> None:
    extracted = extract_tags(output)
    if not extracted:
        return
    tags = []
    for item in extracted:
        tag, _ = Tag.objects.get_or_create(category=item.category, name=item.name[:100])
        tags.append(tag)
    PersonaTag.objects.bulk_create(
        [PersonaTag(persona=persona, tag=tag, source=TagSource.LLM) for tag in tags],
        ignore_conflicts=True,
    )
