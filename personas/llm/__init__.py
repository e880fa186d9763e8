"""LLM backends, chosen by ``settings.LLM_BACKEND`` among ``settings.LLM_BACKENDS``.

``LLM_BACKENDS`` is a dict shaped like Django's ``CACHES``: each entry names a ``CLASS`` and the
options it is built with. Settings are read when a backend is asked for, never at import time.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from .base import (
    LLMBackend,
    LLMConfigurationError,
    LLMError,
    LLMRequest,
    LLMResponse,
    LLMTransientError,
    PromptContext,
    PromptItem,
)

__all__ = [
    "LLMBackend",
    "LLMConfigurationError",
    "LLMError",
    "LLMRequest",
    "LLMResponse",
    "LLMTransientError",
    "PromptContext",
    "PromptItem",
    "get_backend",
]


def get_backend(name: str | None = None) -> LLMBackend:
    """Build the backend called ``name`` (default ``settings.LLM_BACKEND``) from its settings."""
    name = name or settings.LLM_BACKEND
    config: dict[str, Any] | None = settings.LLM_BACKENDS.get(name)
    if config is None:
        known = ", ".join(sorted(settings.LLM_BACKENDS))
        raise LLMConfigurationError(f"Unknown LLM backend {name!r}; configured: {known}.")
    options = {k.lower(): v for k, v in config.items() if k != "CLASS"}
    backend_class = import_string(config["CLASS"])
    return backend_class(name=name, **options)
