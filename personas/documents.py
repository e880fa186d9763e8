"""The persona document: the one JSON shape of a persona for the export, the API and tests."""

from __future__ import annotations

from typing import Any

from .models import Persona
from .parsing import PROFILE_FIELDS


def persona_content(persona: Persona) -> dict[str, Any]:
    """The editable content of a persona: what each revision stores and each document shows."""
    return {
        "summary": persona.summary,
        "profile": {field: getattr(persona, field) for field in PROFILE_FIELDS},
        "hashtags": {"zh": list(persona.hashtags_zh), "en": list(persona.hashtags_en)},
        "age_groups": dict(persona.age_groups),
        "gender": dict(persona.gender),
    }


def persona_document(persona: Persona) -> dict[str, Any]:
    """Build the document; use ``Persona.objects.with_document_relations()`` to fetch personas."""
    generation = persona.origin_generation
    snapshot = persona.snapshot
    return {
        "id": persona.pk,
        "audience": {"key": persona.audience.key, "name": persona.audience.name},
        "status": persona.status,
        **persona_content(persona),
        "tags": [
            {"name": link.tag.name, "category": link.tag.category, "source": link.source}
            for link in persona.tag_links.all()
        ],
        "provenance": {
            "prompt": persona.prompt_version.template.slug,
            "prompt_version": persona.prompt_version.number,
            "backend": persona.backend,
            "model": persona.model,
            "snapshot_taken_at": snapshot.taken_at.isoformat(),
            "generation_id": generation.pk if generation else None,
        },
        "revision": persona.revision,
        "published_at": (
            persona.published_at.isoformat().replace("+00:00", "Z")
            if persona.published_at
            else None
        ),
    }
