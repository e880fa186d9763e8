"""Reads: what a user may see, fetched in a fixed number of queries."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from audiences.models import Audience

from .models import GenerationStatus, Persona, PersonaStatus


def audience_overview(*, user) -> QuerySet[Audience]:
    """The audiences ``user`` may see, each with its personas (newest first) and counts."""
    personas = Persona.objects.visible_to(user).select_related("prompt_version__template")
    return (
        Audience.objects.visible_to(user)
        .select_related("seed_app", "owner")
        .annotate(
            snapshot_count=Count("snapshots", distinct=True),
            draft_count=Count(
                "personas", filter=Q(personas__status=PersonaStatus.DRAFT), distinct=True
            ),
            failed_generation_count=Count(
                "snapshots__generations",
                filter=Q(snapshots__generations__status=GenerationStatus.FAILED),
                distinct=True,
            ),
        )
        .prefetch_related(Prefetch("personas", queryset=personas.order_by("-created_at")))
        .order_by("key")
    )
