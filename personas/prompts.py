"""Prompt versions: finding one, and rendering its messages for a snapshot.

Stored prompt text is rendered by a deliberately tiny renderer: ``{{ name }}`` is replaced by a
string prepared in code, and nothing else happens. ``str.format`` or a full template engine on
stored text would let a prompt author (or whoever edits the database) reach attributes and code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from audiences.importers import clean_name
from audiences.models import PreferenceItem, PreferenceSnapshot
from personaplatform.errors import InvalidInput, NotFound

from .llm import LLMRequest, PromptContext, PromptItem
from .models import OutputKeys, PromptLabel, PromptVersion, ResponseFormat

DEFAULT_PROMPT = "audience-persona:production"
# An app name is data; past this it is noise or an attack, and it is cut.
MAX_APP_NAME_IN_PROMPT = 80
MAX_DESCRIPTION_IN_PROMPT = 160

VARIABLE_RE = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
SPEC_RE = re.compile(r"^(?P<slug>[-a-z0-9_]+)(?:@(?P<number>\d+)|:(?P<label>[-a-z0-9_]+))?$")


class PromptRenderError(InvalidInput):
    code = "prompt_render_error"


def render_template(text: str, variables: Mapping[str, str]) -> str:
    """Replace each ``{{ name }}`` with ``variables[name]``; an unknown name is an error."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            known = ", ".join(sorted(variables))
            raise PromptRenderError(f"Unknown prompt variable {{{{ {name} }}}}; known: {known}.")
        return variables[name]

    return VARIABLE_RE.sub(substitute, text)


def prompt_version_resolve(spec: str | None = None) -> PromptVersion:
    """``slug`` (its production label), ``slug@3`` (version 3) or ``slug:staging`` (a label)."""
    spec = (spec or DEFAULT_PROMPT).strip()
    match = SPEC_RE.fullmatch(spec)
    if not match:
        raise InvalidInput(f"Prompt {spec!r} is not SLUG, SLUG@VERSION or SLUG:LABEL.")
    slug, number, label = match["slug"], match["number"], match["label"]
    versions = PromptVersion.objects.select_related("template")
    if number:
        version = versions.filter(template__slug=slug, number=int(number)).first()
        if version is None:
            raise NotFound(f"Prompt {slug!r} has no version {number}.")
        return version
    label = label or "production"
    pointer = (
        PromptLabel.objects.select_related("version__template")
        .filter(template__slug=slug, name=label)
        .first()
    )
    if pointer is None:
        if not versions.filter(template__slug=slug).exists():
            raise NotFound(f"There is no prompt {slug!r}.")
        raise NotFound(f"Prompt {slug!r} has no label {label!r}.")
    return pointer.version


def prompt_context_build(
    *, snapshot: PreferenceSnapshot, version: PromptVersion, sample_index: int = 0
) -> PromptContext:
    audience = snapshot.audience
    items = (
        PreferenceItem.objects.filter(snapshot=snapshot)
        .select_related("app")
        .order_by("rank")[: version.max_items]
    )
    seed = audience.seed_app.name if audience.seed_app_id else ""
    return PromptContext(
        audience_key=audience.key,
        audience_name=_clip(audience.name, MAX_APP_NAME_IN_PROMPT),
        seed_app=_clip(seed, MAX_APP_NAME_IN_PROMPT),
        items=tuple(
            PromptItem(
                rank=item.rank,
                app=_clip(item.app.name, MAX_APP_NAME_IN_PROMPT),
                category=item.app.category,
                description_zh=_clip(item.app.description_zh, MAX_DESCRIPTION_IN_PROMPT),
                description_en=_clip(item.app.description_en, MAX_DESCRIPTION_IN_PROMPT),
                score=item.score,
                share=item.share,
            )
            for item in items
        ),
        age_groups=tuple(version.age_groups),
        genders=tuple(version.genders),
        sample_index=sample_index,
        output_keys=version.output_keys or OutputKeys.EN,
    )


def prompt_variables(context: PromptContext, *, audience_size: int | None) -> dict[str, str]:
    return {
        "audience_name": context.audience_name,
        "audience_key": context.audience_key,
        "seed_app": context.seed_app or "（未指定）",
        "audience_size": f"{audience_size:,}" if audience_size else "（未知）",
        # v1 listed names inline, as the proof of concept did; quoting each name keeps a comma
        # or a sentence inside a name from reading as part of the instructions.
        "app_list": "、".join(f"「{item.app}」" for item in context.items),
        "apps_json": apps_data_block(context),
        "audience_json": _data_block(
            {
                "name": context.audience_name,
                "seed_app": context.seed_app or None,
                "size": audience_size,
            }
        ),
        "age_groups": "、".join(context.age_groups),
        "genders": "、".join(context.genders),
    }


def apps_data_block(context: PromptContext) -> str:
    """The apps as JSON, one per line, safe to put between ``<apps>`` tags."""
    rows = [
        {
            "rank": item.rank,
            "app": item.app,
            "category": item.category,
            "description": item.description_zh or item.description_en,
            "lift": round(item.score, 2),
            "share": round(item.share, 3),
        }
        for item in context.items
    ]
    return _data_block(rows)


def _data_block(data: Any) -> str:
    """JSON (one list item per line) that no name in it can break out of.

    Escaping angle brackets means no value can close its <apps> or <audience> block early.
    """
    if isinstance(data, list):
        text = "[\n" + ",\n".join(json.dumps(row, ensure_ascii=False) for row in data) + "\n]"
    else:
        text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def llm_request_build(
    *, snapshot: PreferenceSnapshot, version: PromptVersion, sample_index: int = 0
) -> LLMRequest:
    context = prompt_context_build(snapshot=snapshot, version=version, sample_index=sample_index)
    variables = prompt_variables(context, audience_size=snapshot.audience_size)
    messages = (
        {"role": "system", "content": render_template(version.system_text, variables)},
        {"role": "user", "content": render_template(version.user_text, variables)},
    )
    params: dict[str, Any] = dict(version.params or {})
    if "seed" in params:
        # Each sample gets its own seed: samples differ, and each one is reproducible.
        params["seed"] = int(params["seed"]) + sample_index
    schema = (
        version.output_schema if version.response_format == ResponseFormat.JSON_SCHEMA else None
    )
    return LLMRequest(
        messages=messages,
        model=version.model,
        temperature=version.temperature,
        context=context,
        params=params,
        response_schema=schema,
    )


def _clip(text: str, limit: int) -> str:
    text = clean_name(text or "")
    return text if len(text) <= limit else text[: limit - 1] + "…"
