"""LLM backends, chosen by ``settings.LLM_BACKEND`` among ``settings.LLM_BACKENDS``.

``LLM_BACKENDS`` is a dict shaped like Django's ``CACHES``: each entry names a ``CLASS`` and the
options it is built with. Settings are read when a backend is asked for, never at import time.
"""

from __future__ import annotations

import json
import threading
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


# One instance per process and configuration: a backend keeps its HTTP connection pool and what
# it learnt about the server (e.g. that it does not take JSON schemas) from one call to the next.
_instances: dict[tuple[str, str], LLMBackend] = {}
_instances_lock = threading.Lock()


def get_backend(name: str | None = None) -> LLMBackend:
    """The backend called ``name`` (default ``settings.LLM_BACKEND``), built from its settings."""
    name = name or settings.LLM_BACKEND
    config: dict[str, Any] | None = settings.LLM_BACKENDS.get(name)
    if config is None:
        known = ", ".join(sorted(settings.LLM_BACKENDS))
        raise LLMConfigurationError(f"Unknown LLM backend {name!r}; configured: {known}.")
    key = (name, json.dumps(config, sort_keys=True, default=str))
    with _instances_lock:
        backend = _instances.get(key)
        if backend is None:
            options = {k.lower(): v for k, v in config.items() if k != "CLASS"}
            backend = import_string(config["CLASS"])(name=name, **options)
            _instances[key] = backend
    return backend
