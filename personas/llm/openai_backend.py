"""The OpenAI chat-completions backend (also any OpenAI-compatible server: Ollama, vLLM, …).

Only this module imports the ``openai`` SDK. The SDK's own retries are switched off
(``max_retries=0``): the backend retries itself, so every attempt is counted on the generation
and goes through the shared requests-per-minute limit (:mod:`personas.llm.ratelimit`).

Structured output is asked for with a strict JSON schema. Servers that do not support that
(older OpenAI-compatible servers, some models) answer 400; the backend then falls back to JSON
mode and then to plain text (the prompt asks for JSON either way, and the parser checks it), and
remembers the fallback per model so later calls do not pay for the rejected attempt again.

Settings (prices) are read at call time, never at import.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import openai
from django.conf import settings

from . import ratelimit
from .base import (
    LLMConfigurationError,
    LLMError,
    LLMRequest,
    LLMResponse,
    LLMTransientError,
)

logger = logging.getLogger(__name__)

# Local servers (Ollama, vLLM without --api-key) accept any key, but the SDK insists on one.
PLACEHOLDER_API_KEY = "not-needed"
# What the server said is quoted in error messages (stored on the generation), up to this long.
MAX_SERVER_MESSAGE_CHARS = 500
# The name of the schema in ``response_format``; OpenAI requires one, it is not shown anywhere.
SCHEMA_NAME = "persona"
# Chat-completion parameters a request may pass through ``LLMRequest.params``. Anything else
# (including model, messages, temperature, response_format, stream) is dropped, so a stray key
# cannot change how the answer is read or make the API reject the call.
CHAT_PARAMS = frozenset(
    {
        "max_tokens",
        "max_completion_tokens",
        "top_p",
        "seed",
        "stop",
        "frequency_penalty",
        "presence_penalty",
        "logit_bias",
        "user",
        "reasoning_effort",
        "service_tier",
    }
)
# Statuses worth another attempt: the SDK's own list (request timeout, lock conflict, rate
# limit, server errors).
RETRYABLE_STATUSES = frozenset({408, 409, 429})
# How the answer is constrained, in fallback order.
FORMAT_JSON_SCHEMA = 0
FORMAT_JSON_OBJECT = 1
FORMAT_NONE = 2
_FORMAT_NAMES = {FORMAT_JSON_SCHEMA: "json_schema", FORMAT_JSON_OBJECT: "json_object"}
# Words in a 400 that say the server rejected response_format itself, not something else.
_FORMAT_REJECTION_HINTS = (
    "response_format",
    "response format",
    "json_schema",
    "json schema",
    "json_object",
    "structured output",
    "guided",
)
_MICRO = Decimal("0.000001")
_PER_MTOK = Decimal(1_000_000)
# A longest-prefix price match must end at one of these, so "gpt-4" never prices "gpt-4o".
_PREFIX_BOUNDARIES = ("-", ":", "@")


class OpenAIBackend:
    """Chat completions through the official ``openai`` client, with our own retry loop."""

    def __init__(
        self,
        *,
        name: str,
        api_key: str,
        base_url: str,
        model: str,
        timeout_s: float,
        max_retries: int,
        rpm: int,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 20.0,
        max_retry_after_s: float = 60.0,
        rpm_max_wait_s: float = 120.0,
    ) -> None:
        if not api_key and not base_url:
            raise LLMConfigurationError(
                "The OpenAI backend needs an API key: set OPENAI_API_KEY (or OPENAI_BASE_URL for "
                "a local OpenAI-compatible server)."
            )
        try:
            self.timeout_s = float(timeout_s)
            self.max_retries = int(max_retries)
            self.rpm = int(rpm)
            self.backoff_base_s = float(backoff_base_s)
            self.backoff_cap_s = float(backoff_cap_s)
            self.max_retry_after_s = float(max_retry_after_s)
            self.rpm_max_wait_s = float(rpm_max_wait_s)
        except (TypeError, ValueError) as exc:
            raise LLMConfigurationError(f"Bad option for LLM backend {name!r}: {exc}") from exc
        if self.timeout_s <= 0 or self.max_retries < 0:
            raise LLMConfigurationError(
                f"LLM backend {name!r} needs TIMEOUT_S > 0 and MAX_RETRIES >= 0 "
                f"(got {timeout_s!r}, {max_retries!r})."
            )
        self.name = name
        self.model = model
        self._client = openai.OpenAI(
            api_key=api_key or PLACEHOLDER_API_KEY,
            base_url=base_url or None,
            timeout=self.timeout_s,
            max_retries=0,
        )
        # The resolved URL (the SDK's default when none is configured): one limit per endpoint.
        self.base_url = str(self._client.base_url)
        # model -> the most capable response_format the server accepted (see module docstring).
        # Plain dict writes are atomic under the GIL, and a lost update costs one extra 400.
        self._format_level: dict[str, int] = {}

    # --- the call ------------------------------------------------------------------------------

    def complete(self, request: LLMRequest) -> LLMResponse:
        model = request.model or self.model
        if not model:
            raise LLMConfigurationError(
                f"LLM backend {self.name!r} has no model: set OPENAI_MODEL or the request's model."
            )
        base_kwargs: dict[str, Any] = {
            "model": model,
            "messages": [dict(message) for message in request.messages],
            "temperature": request.temperature,
        }
        dropped = sorted(set(request.params) - CHAT_PARAMS)
        if dropped:
            logger.warning("Ignoring unknown chat-completion params %s", ", ".join(dropped))
        base_kwargs.update({k: v for k, v in request.params.items() if k in CHAT_PARAMS})

        started = time.monotonic()
        attempts = 0
        retries = 0
        while True:
            level = self._level_for(model) if request.response_schema is not None else FORMAT_NONE
            kwargs = dict(base_kwargs)
            response_format = _response_format(level, request.response_schema)
            if response_format is not None:
                kwargs["response_format"] = response_format
            try:
                ratelimit.acquire(
                    f"{self.base_url}{model}", self.rpm, max_wait_s=self.rpm_max_wait_s
                )
            except LLMError as exc:
                exc.attempts = attempts
                raise
            attempts += 1
            try:
                completion = self._client.chat.completions.create(**kwargs)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if level != FORMAT_NONE and _rejects_response_format(exc):
                    # Not a retry: a different request, so it does not use up max_retries.
                    self._downgrade(model, level, exc)
                    continue
                raise _status_error(exc, "llm_bad_request", attempts) from exc
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise _status_error(exc, "llm_auth", attempts) from exc
            except openai.NotFoundError as exc:
                raise _status_error(exc, "llm_model_not_found", attempts, model=model) from exc
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                if isinstance(exc, openai.APIStatusError) and not _is_retryable(exc):
                    raise _status_error(exc, "llm_bad_request", attempts) from exc
                if retries >= self.max_retries:
                    raise self._exhausted(exc, attempts) from exc
                delay = self._delay(exc, retries)
                retries += 1
                logger.warning(
                    "LLM %s attempt %d failed (%s); retrying in %.2fs",
                    self.name,
                    attempts,
                    _short_reason(exc),
                    delay,
                )
                time.sleep(delay)
                continue
            except openai.OpenAIError as exc:
                # E.g. a 200 whose body is not a chat completion: the server is not speaking the
                # API, and asking again will not change that.
                raise LLMError(
                    f"OpenAI client error: {_truncate(str(exc))}",
                    code="llm_invalid_response",
                    attempts=attempts,
                ) from exc
            break

        text = _answer_text(completion, attempts)
        usage = getattr(completion, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        reported_model = getattr(completion, "model", None) or model
        # Total wall-clock time, retries and rate-limit waits included: what the caller waited.
        latency_ms = round((time.monotonic() - started) * 1000)
        return LLMResponse(
            text=text,
            backend=self.name,
            model=reported_model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost_usd(reported_model, prompt_tokens, completion_tokens, fallback=model),
            latency_ms=latency_ms,
            attempts=attempts,
            structured=level == FORMAT_JSON_SCHEMA,
        )

    # --- helpers -------------------------------------------------------------------------------

    def _level_for(self, model: str) -> int:
        return self._format_level.get(model, FORMAT_JSON_SCHEMA)

    def _downgrade(self, model: str, level: int, exc: openai.APIStatusError) -> None:
        new_level = max(self._format_level.get(model, FORMAT_JSON_SCHEMA), level + 1)
        self._format_level[model] = new_level
        logger.warning(
            "LLM %s: server rejected response_format %s for %s (%s); using %s from now on",
            self.name,
            _FORMAT_NAMES[level],
            model,
            _server_message(exc),
            _FORMAT_NAMES.get(new_level, "no response_format"),
        )

    def _delay(self, exc: openai.APIError, retries: int) -> float:
        """Seconds before the next attempt: the server's Retry-After, else jittered backoff."""
        if isinstance(exc, openai.APIStatusError):
            retry_after = retry_after_s(exc.response.headers)
            if retry_after is not None:
                return min(retry_after, self.max_retry_after_s)
        # Full jitter (AWS architecture blog): spreads many workers' retries over the interval.
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2**retries)
        return random.uniform(0.0, ceiling)  # noqa: S311 - jitter, not security

    def _exhausted(self, exc: openai.APIError, attempts: int) -> LLMTransientError:
        if isinstance(exc, openai.APITimeoutError):
            code, what = "llm_timeout", f"timed out after {self.timeout_s:g}s"
        elif isinstance(exc, openai.APIConnectionError):
            code, what = "llm_connection_error", f"connection failed ({_short_reason(exc)})"
        else:
            status = getattr(exc, "status_code", 0)
            code = {429: "llm_rate_limited", 408: "llm_timeout"}.get(status, "llm_server_error")
            what = f"answered HTTP {status}: {_server_message(exc)}"
        return LLMTransientError(
            f"LLM {self.name} {what}; gave up after {attempts} attempts.",
            code=code,
            attempts=attempts,
        )


def _response_format(level: int, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None or level == FORMAT_NONE:
        return None
    if level == FORMAT_JSON_OBJECT:
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "schema": schema, "strict": True},
    }


def _rejects_response_format(exc: openai.APIStatusError) -> bool:
    if getattr(exc, "param", None) == "response_format":
        return True
    text = f"{_server_message(exc)} {exc.message}".lower()
    return any(hint in text for hint in _FORMAT_REJECTION_HINTS)


def _is_retryable(exc: openai.APIError) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # time-outs included
        return True
    status = getattr(exc, "status_code", 0)
    return status in RETRYABLE_STATUSES or status >= 500


def _answer_text(completion: Any, attempts: int) -> str:
    choices = getattr(completion, "choices", None) or []
    if not choices:
        raise LLMError(
            "The model returned no choices.", code="llm_empty_response", attempts=attempts
        )
    choice = choices[0]
    message = getattr(choice, "message", None)
    refusal = getattr(message, "refusal", None)
    if refusal:
        raise LLMError(
            f"The model refused: {_truncate(str(refusal))}",
            code="llm_empty_response",
            attempts=attempts,
        )
    content = getattr(message, "content", None)
    finish_reason = getattr(choice, "finish_reason", None)
    if not isinstance(content, str) or not content.strip():
        raise LLMError(
            f"The model returned no content (finish_reason={finish_reason!r}).",
            code="llm_empty_response",
            attempts=attempts,
        )
    if finish_reason == "length":
        # Returned anyway: the truncated JSON fails the parser, which records why.
        logger.warning("LLM answer was cut off at the token limit (finish_reason=length)")
    return content


def _status_error(
    exc: openai.APIStatusError, code: str, attempts: int, *, model: str | None = None
) -> LLMError:
    about = f" for model {model!r}" if model else ""
    return LLMError(
        f"LLM server answered HTTP {exc.status_code}{about}: {_server_message(exc)}",
        code=code,
        attempts=attempts,
    )


def _server_message(exc: openai.APIError) -> str:
    """What the server said, from the OpenAI error body or else the raw response."""
    body = exc.body
    message: str
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("type", "code") if body.get(k)]
        text = body.get("message") or json.dumps(body, ensure_ascii=False)
        message = f"[{'/'.join(parts)}] {text}" if parts else str(text)
    elif isinstance(body, str) and body:
        message = body
    elif isinstance(exc, openai.APIStatusError):
        message = exc.response.text or exc.message
    else:
        message = exc.message
    return _truncate(message)


def _short_reason(exc: openai.APIError) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    cause = exc.__cause__
    return f"{type(exc).__name__}: {cause or exc.message}"


def _truncate(text: str, limit: int = MAX_SERVER_MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def retry_after_s(headers: httpx.Headers) -> float | None:
    """The wait a response asks for: ``retry-after-ms``, then ``Retry-After`` seconds or date."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def cost_usd(
    model: str, prompt_tokens: int, completion_tokens: int, *, fallback: str = ""
) -> Decimal:
    """Dollars for a call from ``settings.LLM_PRICES_PER_MTOK``; unknown models cost zero."""
    prices: dict[str, dict[str, Any]] = getattr(settings, "LLM_PRICES_PER_MTOK", {}) or {}
    price = _price_for(model, prices) or (_price_for(fallback, prices) if fallback else None)
    if price is None:
        return Decimal("0")
    try:
        input_price = Decimal(str(price["input"]))
        output_price = Decimal(str(price["output"]))
    except (KeyError, TypeError, InvalidOperation):
        logger.warning("LLM_PRICES_PER_MTOK entry for %s is malformed: %r", model, price)
        return Decimal("0")
    total = (prompt_tokens * input_price + completion_tokens * output_price) / _PER_MTOK
    return total.quantize(_MICRO)


def _price_for(model: str, prices: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Exact name, else the longest listed name that ``model`` extends (dated snapshots)."""
    if model in prices:
        return prices[model]
    matches = [
        name
        for name in prices
        if model.startswith(name) and model[len(name) : len(name) + 1] in _PREFIX_BOUNDARIES
    ]
    return prices[max(matches, key=len)] if matches else None
