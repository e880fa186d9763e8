"""The one seam between the platform and a language model.

A backend turns an :class:`LLMRequest` (rendered chat messages plus the structured context they
were rendered from) into an :class:`LLMResponse` (the raw text the model wrote and what it
cost). Parsing that text is not the backend's job: every backend's answer goes through the same
parser, so the offline backend is held to the same schema as a real model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True)
class PromptItem:
    """One preferred app as the prompt sees it."""

    rank: int
    app: str
    category: str  # an audiences.models.AppCategory value
    description_zh: str
    description_en: str
    score: float  # lift: how much more likely this audience is to have the app than everyone
    share: float  # fraction (0..1) of the audience that has the app


@dataclass(frozen=True)
class PromptContext:
    """The structured input a prompt was rendered from.

    Real models only see the rendered messages; the offline backend writes its persona from this,
    so it is grounded in the same data.
    """

    audience_key: str
    audience_name: str
    seed_app: str
    items: tuple[PromptItem, ...]
    age_groups: tuple[str, ...]
    genders: tuple[str, ...]
    sample_index: int = 0
    # "zh" when the prompt asks for the proof of concept's Chinese keys, "en" for the schema keys.
    output_keys: str = "en"


@dataclass(frozen=True)
class LLMRequest:
    messages: tuple[dict[str, str], ...]
    model: str  # empty: the backend's default model
    temperature: float
    context: PromptContext
    params: dict[str, Any] = field(default_factory=dict)  # max_tokens, top_p, seed …
    # A JSON schema for structured output; None asks for plain JSON.
    response_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class LLMResponse:
    text: str
    backend: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal = Decimal("0")
    latency_ms: int = 0
    attempts: int = 1
    structured: bool = False  # whether a JSON schema constrained the answer


class LLMError(Exception):
    """A call that did not produce an answer. ``code`` is stable and stored on the generation."""

    code = "llm_error"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts
        if code:
            self.code = code


class LLMTransientError(LLMError):
    """Rate limits, 5xx, time-outs and dropped connections that outlived the backend's retries."""

    code = "llm_unavailable"
    retryable = True


class LLMConfigurationError(LLMError):
    """The backend cannot be used as configured (no key, unknown backend, bad settings)."""

    code = "llm_misconfigured"


class LLMBackend(Protocol):
    name: str
    model: str  # the model used when a request names none

    def complete(self, request: LLMRequest) -> LLMResponse: ...
