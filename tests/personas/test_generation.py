from datetime import timedelta

import pytest
from django.utils import timezone

from audiences.models import Audience
from personas.models import Generation, GenerationStatus, Persona, PersonaStatus
from personas.prompts import prompt_version_resolve
from personas.services import (
    generation_execute,
    generation_reap_stale,
    generation_run_create,
)
from personas.tasks import generation_execute_task
from tests.factories import AudienceFactory, ItemSpec, make_snapshot
from tests.llm_server import Reply, Status

pytestmark = pytest.mark.django_db


def run_for(snapshot, run_on_commit, **kwargs):
    kwargs.setdefault("prompt_version", prompt_version_resolve())
    return run_on_commit(generation_run_create, audiences=[snapshot.audience], **kwargs)


def test_an_offline_run_drafts_a_validated_persona(music_snapshot, run_on_commit):
    plan = run_for(music_snapshot, run_on_commit, backend="offline")

    generation = Generation.objects.get(pk=plan.generations[0].pk)
    assert generation.status == GenerationStatus.SUCCEEDED, generation.error_message
    assert generation.attempts == 1
    persona = generation.persona
    assert persona.status == PersonaStatus.DRAFT
    assert persona.backend == "offline"
    assert sum(persona.age_groups.values()) == 100
    assert sum(persona.gender.values()) == 100
    assert set(persona.age_groups) == {"15-19", "20-25", "26-35", "36-45", "46-59", "60+"}
    assert "音樂" in persona.interests
    assert persona.revisions.get().number == 1
    assert persona.events.get().action == "create"
    assert persona.tag_links.filter(source="llm").exists()


def test_the_openai_backend_is_called_over_http_and_its_costs_recorded(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    llm_server.enqueue(Reply(usage=(900, 300)))

    plan = run_for(music_snapshot, run_on_commit, backend="openai")

    generation = Generation.objects.get(pk=plan.generations[0].pk)
    assert generation.status == GenerationStatus.SUCCEEDED, generation.error_message
    assert (generation.prompt_tokens, generation.completion_tokens) == (900, 300)
    assert generation.cost_usd > 0
    assert generation.model.startswith("gpt-4o-mini")
    [request] = llm_server.chat_requests
    assert request.body["response_format"]["type"] == "json_schema"
    assert request.body["messages"] == generation.rendered_messages
    assert Persona.objects.get(origin_generation=generation).model == generation.model


def test_delivering_the_same_task_twice_makes_one_call_and_one_persona(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    plan = run_for(music_snapshot, run_on_commit, backend="openai")
    generation_id = plan.generations[0].pk

    generation_execute_task.delay(generation_id)
    generation_execute_task.apply(args=[generation_id])

    assert len(llm_server.chat_requests) == 1
    assert Persona.objects.count() == 1
    assert Generation.objects.get(pk=generation_id).attempts == 1


def test_a_generation_another_worker_is_running_is_left_alone(
    music_snapshot, openai_settings, llm_server
):
    plan = generation_run_create(
        audiences=[music_snapshot.audience],
        prompt_version=prompt_version_resolve(),
        backend="openai",
    )
    generation = plan.generations[0]
    Generation.objects.filter(pk=generation.pk).update(
        status=GenerationStatus.RUNNING, started_at=timezone.now(), attempts=1
    )

    assert generation_execute(generation_id=generation.pk) is None
    assert llm_server.chat_requests == []


def test_an_identical_generation_reuses_the_cached_result_at_no_cost(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    first = run_for(music_snapshot, run_on_commit, backend="openai").generations[0]
    second = run_for(music_snapshot, run_on_commit, backend="openai").generations[0]

    second = Generation.objects.get(pk=second.pk)
    assert len(llm_server.chat_requests) == 1
    assert second.status == GenerationStatus.SUCCEEDED
    assert second.cached_from_id == first.pk
    assert (second.prompt_tokens, second.cost_usd) == (0, 0)
    assert second.parsed_output == Generation.objects.get(pk=first.pk).parsed_output
    assert Persona.objects.count() == 1


def test_force_bypasses_the_cache(music_snapshot, run_on_commit, openai_settings, llm_server):
    run_for(music_snapshot, run_on_commit, backend="openai")
    forced = run_for(music_snapshot, run_on_commit, backend="openai", force=True)

    assert len(llm_server.chat_requests) == 2
    assert Generation.objects.get(pk=forced.generations[0].pk).cached_from is None
    assert Persona.objects.count() == 2


def test_another_prompt_version_is_not_a_cache_hit(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    run_for(music_snapshot, run_on_commit, backend="openai")
    run_for(
        music_snapshot,
        run_on_commit,
        backend="openai",
        prompt_version=prompt_version_resolve("audience-persona@1"),
    )

    assert len(llm_server.chat_requests) == 2


def test_samples_are_independent_generations_with_their_own_seed(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    plan = run_for(music_snapshot, run_on_commit, backend="openai", samples=3)

    assert sorted(g.sample_index for g in plan.generations) == [0, 1, 2]
    assert len({g.cache_key for g in plan.generations}) == 3
    seeds = sorted(r.body["seed"] for r in llm_server.chat_requests)
    assert seeds == [seeds[0], seeds[0] + 1, seeds[0] + 2]
    assert Persona.objects.count() == 3


def test_offline_samples_differ_from_one_another(music_snapshot, run_on_commit):
    run_for(music_snapshot, run_on_commit, backend="offline", samples=2)

    first, second = Persona.objects.order_by("pk")
    assert first.personality != second.personality or first.lifestyle != second.lifestyle


def test_an_llm_error_fails_the_generation_with_its_reason(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    llm_server.enqueue(Status(401, message="Incorrect API key provided"))

    plan = run_for(music_snapshot, run_on_commit, backend="openai")

    generation = Generation.objects.get(pk=plan.generations[0].pk)
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "llm_auth"
    assert "Incorrect API key" in generation.error_message
    assert not Persona.objects.exists()


def test_retries_that_run_out_fail_the_generation(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    llm_server.enqueue(Status(500), Status(500), Status(500))

    plan = run_for(music_snapshot, run_on_commit, backend="openai")

    generation = Generation.objects.get(pk=plan.generations[0].pk)
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "llm_server_error"
    assert len(llm_server.chat_requests) == 3


def test_output_that_cannot_be_made_valid_fails_and_makes_no_persona(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    llm_server.enqueue(Reply("I am sorry, I cannot describe these people."))

    plan = run_for(music_snapshot, run_on_commit, backend="openai")

    generation = Generation.objects.get(pk=plan.generations[0].pk)
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "no_json"
    assert generation.raw_response == "I am sorry, I cannot describe these people."
    assert not Persona.objects.exists()


def test_a_failed_generation_is_not_reused_by_the_cache(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    llm_server.enqueue(Reply("not json"))
    run_for(music_snapshot, run_on_commit, backend="openai")
    retry = run_for(music_snapshot, run_on_commit, backend="openai")

    assert Generation.objects.get(pk=retry.generations[0].pk).status == GenerationStatus.SUCCEEDED
    assert len(llm_server.chat_requests) == 2


def test_messy_output_is_repaired_and_the_repairs_recorded(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    messy = (
        "Here is the persona:\n```json\n"
        '{"用戶基本屬性": "學生為主", "個性": "外向", "心理狀態": "放鬆", "個人興趣": "音樂",'
        ' "生活方式": "通勤",'
        ' "Hashtags": {"中文": "音樂愛好者, 通勤族", "英文": "#MusicLover #Commuter"},'
        ' "年齡分佈": {"15-19": "30%", "20-25": "40%", "26-35": "20%", "36-45": "4%",'
        ' "46-59": "2%", "60+": "1%"}, "性別分佈": {"男性": 55, "女性": 44},}\n```'
    )
    llm_server.enqueue(Reply(messy))

    plan = run_for(music_snapshot, run_on_commit, backend="openai")

    generation = Generation.objects.get(pk=plan.generations[0].pk)
    assert generation.status == GenerationStatus.SUCCEEDED, generation.error_message
    assert generation.repairs
    persona = generation.persona
    assert sum(persona.age_groups.values()) == 100
    assert persona.gender == {"male": 56, "female": 44}  # 55 + 44 = 99, largest remainder
    assert persona.hashtags_en == ["MusicLover", "Commuter"]


def test_audiences_without_a_snapshot_are_skipped_and_named(music_snapshot, analyst):
    empty = AudienceFactory(key="no-data", owner=analyst)
    plan = generation_run_create(
        audiences=[music_snapshot.audience, empty], prompt_version=prompt_version_resolve()
    )

    assert plan.skipped == ["no-data"]
    assert len(plan.generations) == 1


def test_a_generation_left_running_by_a_dead_worker_is_failed_by_the_reaper(
    music_snapshot, settings
):
    plan = generation_run_create(
        audiences=[music_snapshot.audience], prompt_version=prompt_version_resolve()
    )
    long_ago = timezone.now() - timedelta(seconds=settings.GENERATION_STALE_AFTER_S + 1)
    Generation.objects.filter(pk=plan.generations[0].pk).update(
        status=GenerationStatus.RUNNING, started_at=long_ago, attempts=1
    )

    assert generation_reap_stale() == 1
    generation = Generation.objects.get(pk=plan.generations[0].pk)
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "worker_lost"


def test_a_redelivered_task_reclaims_a_stale_generation(music_snapshot, settings):
    plan = generation_run_create(
        audiences=[music_snapshot.audience], prompt_version=prompt_version_resolve()
    )
    long_ago = timezone.now() - timedelta(seconds=settings.GENERATION_STALE_AFTER_S + 1)
    Generation.objects.filter(pk=plan.generations[0].pk).update(
        status=GenerationStatus.RUNNING, started_at=long_ago, attempts=1
    )

    generation_execute(generation_id=plan.generations[0].pk)

    generation = Generation.objects.get(pk=plan.generations[0].pk)
    assert generation.status == GenerationStatus.SUCCEEDED
    assert generation.attempts == 2
    assert Persona.objects.count() == 1


def test_two_audiences_with_the_same_list_each_get_their_own_persona(run_on_commit):
    items = [ItemSpec("KKBOX", "music", 2.0, 0.3)]
    first = make_snapshot(key="first", name="First", items=items)
    second = make_snapshot(key="second", name="Second", items=items)
    assert first.content_hash == second.content_hash

    run_on_commit(
        generation_run_create,
        audiences=[first.audience, second.audience],
        prompt_version=prompt_version_resolve(),
    )

    assert sorted(Persona.objects.values_list("audience__key", flat=True)) == ["first", "second"]
    assert not Generation.objects.filter(cached_from__isnull=False).exists()


def test_a_cache_hit_whose_draft_was_deleted_makes_a_new_draft_without_calling_the_llm(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    run_for(music_snapshot, run_on_commit, backend="openai")
    Persona.objects.all().delete()

    second = run_for(music_snapshot, run_on_commit, backend="openai").generations[0]
    run_for(music_snapshot, run_on_commit, backend="openai")
    run_for(music_snapshot, run_on_commit, backend="openai")

    assert len(llm_server.chat_requests) == 1
    persona = Persona.objects.get()  # one new draft, not one per rerun
    assert persona.origin_generation_id == second.pk
    assert Generation.objects.get(pk=second.pk).cost_usd == 0


def test_a_server_without_json_schema_support_is_asked_for_it_only_once(
    run_on_commit, openai_settings, llm_server
):
    for key in ("first", "second"):
        make_snapshot(key=key, name=key, items=[ItemSpec(f"{key} app", "music", 2.0, 0.3)])
    llm_server.enqueue(Status(400, message="response_format json_schema is not supported"))

    run_on_commit(
        generation_run_create,
        audiences=Audience.objects.order_by("key"),
        prompt_version=prompt_version_resolve(),
        backend="openai",
    )

    formats = [r.body.get("response_format", {}).get("type") for r in llm_server.chat_requests]
    assert formats == ["json_schema", "json_object", "json_object"]
    assert Persona.objects.count() == 2


def test_a_failed_parse_keeps_the_repairs_it_had_made(
    music_snapshot, run_on_commit, openai_settings, llm_server
):
    llm_server.enqueue(Reply('```json\n{"profile": {"basic_attributes": "學生"},}\n```'))

    plan = run_for(music_snapshot, run_on_commit, backend="openai")

    generation = Generation.objects.get(pk=plan.generations[0].pk)
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "missing_field"
    assert any(r.startswith("json_fenced") for r in generation.repairs)


def test_an_unreachable_broker_fails_the_run_loudly_and_leaves_nothing_queued(
    music_snapshot, run_on_commit, monkeypatch
):
    from kombu.exceptions import OperationalError

    from personas.services import DispatchError

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(generation_execute_task, "delay", broker_down)

    with pytest.raises(DispatchError, match="Connection refused"):
        run_for(music_snapshot, run_on_commit)

    generation = Generation.objects.get()
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "dispatch_failed"
