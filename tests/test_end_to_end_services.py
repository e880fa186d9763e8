"""The production shape: PostgreSQL, Redis, and a separate ``celery worker`` process.

Skipped with the reason when those services are not configured, unless REQUIRE_SERVICES=1
(which CI sets), in which case a missing service is a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from audiences.models import Audience
from personaplatform.celery import app as celery_app
from personas.models import Generation, GenerationStatus, Persona
from personas.prompts import prompt_version_resolve
from personas.services import generation_run_create
from personas.tasks import generation_execute_task
from tests.factories import ItemSpec, make_snapshot

ROOT = Path(__file__).resolve().parent.parent
WORKER_START_TIMEOUT_S = 60
GENERATION_TIMEOUT_S = 90

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    """The URL of the database pytest-django created, so the worker writes where we read."""
    s = connection.settings_dict
    user = quote(s["USER"] or "") + (f":{quote(s['PASSWORD'])}" if s["PASSWORD"] else "")
    return f"postgres://{user}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def queue_name():
    # Our own queue: messages left in Redis by an earlier run never reach this worker.
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    previous = celery_app.conf.CELERY_TASK_DEFAULT_QUEUE
    celery_app.conf.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.CELERY_TASK_DEFAULT_QUEUE = name
    yield name
    celery_app.conf.CELERY_TASK_DEFAULT_QUEUE = previous


@pytest.fixture
def worker(queue_name, llm_server, openai_settings, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_QUEUE": queue_name,
        "LLM_BACKEND": "openai",
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": llm_server.base_url,
        "LLM_TIMEOUT_S": "5",
        "LLM_RPM": "0",
        "DJANGO_SETTINGS_MODULE": "personaplatform.settings",
    }
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "personaplatform",
            "worker",
            "-Q",
            queue_name,
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--hostname",
            f"{queue_name}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"The Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_finished(generation_ids, timeout=GENERATION_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = Generation.objects.filter(pk__in=generation_ids)
        if all(g.is_finished for g in rows):
            return list(rows)
        time.sleep(0.3)
    pytest.fail(f"Generations still unfinished after {timeout} s")


def test_a_real_worker_drafts_personas_over_redis_and_postgres(worker, llm_server):
    assert connection.vendor == "postgresql"
    for key in ("spotify", "jkopay", "klook"):
        make_snapshot(
            key=key,
            name=f"{key} users",
            items=[ItemSpec(f"{key}-app-{i}", "music", 2.0 + i, 0.1 * (i + 1)) for i in range(4)],
        )

    plan = generation_run_create(
        audiences=Audience.objects.all(), prompt_version=prompt_version_resolve(), backend="openai"
    )
    generations = wait_finished([g.pk for g in plan.generations])

    assert [g.status for g in generations] == [GenerationStatus.SUCCEEDED] * 3, [
        (g.error_code, g.error_message) for g in generations
    ]
    assert len(llm_server.chat_requests) == 3
    assert Persona.objects.count() == 3
    assert all(sum(p.age_groups.values()) == 100 for p in Persona.objects.all())

    # The same messages delivered again (a redelivery, a duplicate): no call, no new persona.
    for generation in generations:
        generation_execute_task.delay(generation.pk)
        generation_execute_task.delay(generation.pk)
    time.sleep(3)
    assert len(llm_server.chat_requests) == 3
    assert Persona.objects.count() == 3


def test_two_workers_racing_for_one_generation_make_one_call(worker, llm_server):
    from tests.llm_server import Slow

    make_snapshot(key="spotify", name="Spotify", items=[ItemSpec("KKBOX", "music", 3.0, 0.4)])
    # A slow answer keeps the first delivery inside the LLM call while the second arrives.
    llm_server.enqueue(Slow(1.5))
    plan = generation_run_create(
        audiences=Audience.objects.all(), prompt_version=prompt_version_resolve(), backend="openai"
    )
    generation_id = plan.generations[0].pk
    generation_execute_task.delay(generation_id)

    [generation] = wait_finished([generation_id])
    time.sleep(1)

    assert generation.status == GenerationStatus.SUCCEEDED
    assert len(llm_server.chat_requests) == 1
    assert Persona.objects.count() == 1
