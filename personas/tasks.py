"""Celery tasks: thin wrappers that take ids and call a service.

``generation_execute_task`` is safe to deliver twice (the service claims the row with a
conditional update), so it acknowledges late: a worker that dies mid-call has its message
delivered again rather than lost.
"""

from __future__ import annotations

from celery import shared_task

from .services import generation_execute, generation_reap_stale


@shared_task(name="personas.tasks.generation_execute_task", acks_late=True, ignore_result=True)
def generation_execute_task(generation_id: int) -> None:
    # The LLM backend retries transient errors itself, with backoff and a cap, inside the rate
    # limit; an error that outlives those retries fails the generation with its reason.
    generation_execute(generation_id=generation_id)


@shared_task(name="personas.tasks.generation_reap_stale_task", ignore_result=True)
def generation_reap_stale_task() -> int:
    return generation_reap_stale()
