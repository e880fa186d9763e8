"""The OpenAI backend against a real HTTP server: the real ``openai`` client, nothing mocked.

Every test talks to the loopback fake from :mod:`tests.llm_server`; backoff is shrunk to
milliseconds so retries are fast, and the shared rate limit is off (``rpm=0``) unless a test is
about it.
"""

from __future__ import annotations

import functools
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from personas.llm import (
    LLMConfigurationError,
    LLMError,
    LLMTransientError,
    get_backend,
    openai_backend,
    ratelimit,
)
from personas.llm.base import LLMRequest, PromptContext, PromptItem
from personas.llm.openai_backend import (
    MAX_SERVER_MESSAGE_CHARS,
    OpenAIBackend,
    cost_usd,
    retry_after_s,
)
from tests.llm_server import (
    VALID_PERSONA,
    Drop,
    FakeLLMServer,
    Raw,
    ReceivedRequest,
    Reply,
    Slow,
    Status,
    valid_persona_json,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"summary": {"type": "string"}},
    "required": ["summary"],
    "additionalProperties": False,
}
PRICES = {
    "gpt-4o-mini": {"input": "0.15", "output": "0.60"},
    "gpt-4o": {"input": "2.50", "output": "10.00"},
    "gpt-4": {"input": "30", "output": "60"},
}


@pytest.fixture(autouse=True)
def _prices(settings: Any) -> None:
    settings.LLM_PRICES_PER_MTOK = PRICES


def make_backend(server: FakeLLMServer, **overrides: Any) -> OpenAIBackend:
    options: dict[str, Any] = {
        "name": "openai",
        "api_key": "sk-test",
        "base_url": server.base_url,
        "model": "gpt-4o-mini",
        "timeout_s": 5.0,
        "max_retries": 2,
        "rpm": 0,
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.05,
    }
    options.update(overrides)
    return OpenAIBackend(**options)


def make_request(
    *,
    schema: dict[str, Any] | None = SCHEMA,
    params: dict[str, Any] | None = None,
    model: str = "",
    temperature: float = 0.7,
) -> LLMRequest:
    context = PromptContext(
        audience_key="music-lovers",
        audience_name="音樂愛好者",
        seed_app="com.spotify.music",
        items=(
            PromptItem(1, "com.spotify.music", "music", "串流音樂", "Music streaming", 3.2, 0.41),
        ),
        age_groups=("15-19", "20-25", "26-35", "36-45", "46-59", "60+"),
        genders=("male", "female"),
    )
    return LLMRequest(
        messages=(
            {"role": "system", "content": "你是一位行銷研究員，只回答 JSON。"},
            {"role": "user", "content": "請為「音樂愛好者」受眾寫一份人物誌。"},
        ),
        model=model,
        temperature=temperature,
        context=context,
        params=params if params is not None else {"max_tokens": 800, "seed": 7},
        response_schema=schema,
    )


def chat_bodies(server: FakeLLMServer) -> list[dict[str, Any]]:
    return [r.body or {} for r in server.chat_requests]


# --- success ------------------------------------------------------------------------------------


def test_success_records_tokens_cost_latency_and_model(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(
        Reply(valid_persona_json(), usage=(1000, 500), model="gpt-4o-mini-2024-07-18")
    )

    response = make_backend(llm_server).complete(make_request())

    assert json.loads(response.text) == VALID_PERSONA
    assert response.backend == "openai"
    assert response.model == "gpt-4o-mini-2024-07-18"  # what the server says it ran
    assert (response.prompt_tokens, response.completion_tokens) == (1000, 500)
    # 1000 * 0.15 / 1M + 500 * 0.60 / 1M
    assert response.cost_usd == Decimal("0.000450")
    assert response.latency_ms >= 0
    assert response.attempts == 1
    assert response.structured is True
    [body] = chat_bodies(llm_server)
    assert body["model"] == "gpt-4o-mini"
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "persona", "schema": SCHEMA, "strict": True},
    }


def test_messages_temperature_and_params_reach_the_server(llm_server: FakeLLMServer) -> None:
    request = make_request(
        params={"max_tokens": 900, "seed": 42, "top_p": 0.9, "stream": True, "bogus": 1},
        model="gpt-4o",
        temperature=0.3,
    )

    make_backend(llm_server).complete(request)

    [received] = llm_server.chat_requests
    body = received.body or {}
    assert body["messages"] == [dict(m) for m in request.messages]
    assert body["temperature"] == 0.3
    assert body["model"] == "gpt-4o"  # the request's model wins over the backend's
    assert (body["max_tokens"], body["seed"], body["top_p"]) == (900, 42, 0.9)
    assert "stream" not in body and "bogus" not in body  # only known chat-completion params
    assert received.headers["authorization"] == "Bearer sk-test"


def test_no_schema_sends_no_response_format(llm_server: FakeLLMServer) -> None:
    response = make_backend(llm_server).complete(make_request(schema=None))

    assert "response_format" not in chat_bodies(llm_server)[0]
    assert response.structured is False


def test_answer_can_depend_on_the_request(llm_server: FakeLLMServer) -> None:
    def echo_audience(request: ReceivedRequest) -> dict[str, Any]:
        prompt = (request.body or {})["messages"][-1]["content"]
        return {**VALID_PERSONA, "summary": prompt}

    llm_server.enqueue(Reply.from_callable(echo_audience))

    response = make_backend(llm_server).complete(make_request())

    assert json.loads(response.text)["summary"] == "請為「音樂愛好者」受眾寫一份人物誌。"


def test_missing_usage_counts_zero_tokens_and_cost(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Reply(valid_persona_json(), usage=None))

    response = make_backend(llm_server).complete(make_request())

    assert (response.prompt_tokens, response.completion_tokens) == (0, 0)
    assert response.cost_usd == Decimal("0")


def test_cut_off_answer_is_still_returned(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Reply('{"summary": "熱愛音', finish_reason="length"))

    response = make_backend(llm_server).complete(make_request())

    assert response.text == '{"summary": "熱愛音'  # the parser, not the backend, rejects it


# --- structured output fallback -----------------------------------------------------------------


def test_falls_back_to_json_object_then_plain_and_remembers(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(
        Status(400, message="response_format json_schema is not supported"),
        Status(400, message="response_format json_object is not supported by this model"),
    )
    backend = make_backend(llm_server, max_retries=0)  # a fallback is not a retry

    first = backend.complete(make_request())

    formats = [b.get("response_format", {}).get("type") for b in chat_bodies(llm_server)]
    assert formats == ["json_schema", "json_object", None]
    assert first.attempts == 3
    assert first.structured is False

    second = backend.complete(make_request())

    assert "response_format" not in chat_bodies(llm_server)[3]
    assert len(llm_server.chat_requests) == 4  # the rejected formats are not tried again
    assert second.attempts == 1


def test_falls_back_only_as_far_as_needed(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Status(400, message="'response_format.type' json_schema is unavailable"))
    backend = make_backend(llm_server)

    first = backend.complete(make_request())
    backend.complete(make_request())

    formats = [b["response_format"]["type"] for b in chat_bodies(llm_server)]
    assert formats == ["json_schema", "json_object", "json_object"]
    assert first.structured is False


def test_other_bad_request_is_not_a_fallback(llm_server: FakeLLMServer) -> None:
    long_message = "Invalid value for 'temperature': " + "x" * 2000
    llm_server.enqueue(Status(400, message=long_message))

    with pytest.raises(LLMError) as caught:
        make_backend(llm_server).complete(make_request())

    assert caught.value.code == "llm_bad_request"
    assert not caught.value.retryable
    assert "HTTP 400" in caught.value.message
    assert "Invalid value for 'temperature'" in caught.value.message
    assert len(caught.value.message) < MAX_SERVER_MESSAGE_CHARS + 100  # server text truncated
    assert len(llm_server.chat_requests) == 1


# --- retries ------------------------------------------------------------------------------------


def test_429_retry_after_is_honoured(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Status(429, retry_after="0.2", message="Rate limit reached for requests"))

    started = time.monotonic()
    response = make_backend(llm_server).complete(make_request())
    elapsed = time.monotonic() - started

    assert response.attempts == 2
    assert elapsed >= 0.19
    first, second = llm_server.chat_requests
    assert second.received_at - first.received_at >= 0.19
    assert response.latency_ms >= 190  # total time, retries included


def test_429_retry_after_ms_is_honoured(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Status(429, retry_after="30", retry_after_ms="200"))

    started = time.monotonic()
    make_backend(llm_server).complete(make_request())

    assert 0.19 <= time.monotonic() - started < 5  # the precise header wins


def test_retry_after_is_capped(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Status(429, retry_after="120"))

    started = time.monotonic()
    response = make_backend(llm_server, max_retry_after_s=0.1).complete(make_request())

    assert response.attempts == 2
    assert time.monotonic() - started < 5


def test_429_exhausted_raises_rate_limited(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(*(Status(429, retry_after="0") for _ in range(3)))

    with pytest.raises(LLMTransientError) as caught:
        make_backend(llm_server, max_retries=2).complete(make_request())

    assert caught.value.code == "llm_rate_limited"
    assert caught.value.retryable
    assert caught.value.attempts == 3
    assert "429" in caught.value.message
    assert len(llm_server.chat_requests) == 3


def test_server_error_then_success(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Status(500, message="The server had an error while processing your request"))

    response = make_backend(llm_server).complete(make_request())

    assert response.attempts == 2
    assert json.loads(response.text) == VALID_PERSONA


def test_server_errors_exhausted(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Status(502), Status(503, retry_after="0"))

    with pytest.raises(LLMTransientError) as caught:
        make_backend(llm_server, max_retries=1).complete(make_request())

    assert caught.value.code == "llm_server_error"
    assert caught.value.attempts == 2
    assert "503" in caught.value.message


def test_dropped_connection_then_success(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Drop())

    response = make_backend(llm_server).complete(make_request())

    assert response.attempts == 2
    assert len(llm_server.chat_requests) == 2


def test_dropped_connections_exhausted(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Drop(), Drop())

    with pytest.raises(LLMTransientError) as caught:
        make_backend(llm_server, max_retries=1).complete(make_request())

    assert caught.value.code == "llm_connection_error"
    assert caught.value.attempts == 2


def test_slow_answer_is_retried(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Slow(2.0))

    response = make_backend(llm_server, timeout_s=0.3).complete(make_request())

    assert response.attempts == 2


def test_slow_answers_exhausted_raise_timeout(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Slow(2.0), Slow(2.0), Slow(2.0))

    started = time.monotonic()
    with pytest.raises(LLMTransientError) as caught:
        make_backend(llm_server, timeout_s=0.3, max_retries=2).complete(make_request())

    assert caught.value.code == "llm_timeout"
    assert caught.value.attempts == 3
    assert time.monotonic() - started < 1.9  # gave up on each, did not wait for the answers


# --- errors that are not retried ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, "llm_auth"), (403, "llm_auth"), (404, "llm_model_not_found"), (422, "llm_bad_request")],
)
def test_client_errors_are_not_retried(llm_server: FakeLLMServer, status: int, code: str) -> None:
    llm_server.enqueue(Status(status, message="Incorrect API key provided: sk-test."))

    with pytest.raises(LLMError) as caught:
        make_backend(llm_server).complete(make_request(schema=None))

    assert caught.value.code == code
    assert not isinstance(caught.value, LLMTransientError)
    assert caught.value.attempts == 1
    assert f"HTTP {status}" in caught.value.message
    assert "Incorrect API key provided" in caught.value.message
    assert len(llm_server.chat_requests) == 1


def test_server_requiring_a_key_rejects_a_wrong_one() -> None:
    with FakeLLMServer(api_key="sk-right") as server:
        with pytest.raises(LLMError) as caught:
            make_backend(server, api_key="sk-wrong").complete(make_request())
        assert caught.value.code == "llm_auth"
        assert make_backend(server, api_key="sk-right").complete(make_request()).attempts == 1


@pytest.mark.parametrize(
    "reply",
    [Reply(""), Reply(None), Reply("   \n"), Reply(None, refusal="I can't help with that.")],
    ids=["empty", "none", "blank", "refusal"],
)
def test_empty_answer(llm_server: FakeLLMServer, reply: Reply) -> None:
    llm_server.enqueue(reply)

    with pytest.raises(LLMError) as caught:
        make_backend(llm_server).complete(make_request())

    assert caught.value.code == "llm_empty_response"
    assert len(llm_server.chat_requests) == 1


def test_answer_that_is_not_a_chat_completion(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(Raw(200, b'{"choices": []}'))

    with pytest.raises(LLMError) as caught:
        make_backend(llm_server).complete(make_request())

    assert caught.value.code == "llm_empty_response"


# --- configuration ------------------------------------------------------------------------------


def test_missing_key_and_base_url_is_a_configuration_error() -> None:
    with pytest.raises(LLMConfigurationError, match="OPENAI_API_KEY"):
        OpenAIBackend(
            name="openai",
            api_key="",
            base_url="",
            model="gpt-4o-mini",
            timeout_s=5,
            max_retries=1,
            rpm=0,
        )


def test_base_url_without_key_uses_a_placeholder(llm_server: FakeLLMServer) -> None:
    response = make_backend(llm_server, api_key="").complete(make_request())

    assert response.attempts == 1
    assert llm_server.chat_requests[0].headers["authorization"].startswith("Bearer ")


def test_get_backend_builds_from_settings(llm_server: FakeLLMServer, settings: Any) -> None:
    settings.LLM_BACKENDS = {
        "openai": {
            "CLASS": "personas.llm.openai_backend.OpenAIBackend",
            "API_KEY": "sk-settings",
            "BASE_URL": llm_server.base_url,
            "MODEL": "gpt-4o",
            "TIMEOUT_S": 5.0,
            "MAX_RETRIES": 1,
            "RPM": 0,
            "BACKOFF_BASE_S": 0.01,
            "BACKOFF_CAP_S": 0.02,
            "MAX_RETRY_AFTER_S": 1.0,
            "RPM_MAX_WAIT_S": 1.0,
        }
    }

    backend = get_backend("openai")
    response = backend.complete(make_request(params={}))

    assert isinstance(backend, OpenAIBackend)
    assert response.model == "gpt-4o"
    assert llm_server.chat_requests[0].headers["authorization"] == "Bearer sk-settings"


# --- rate limit ---------------------------------------------------------------------------------


def test_every_attempt_goes_through_the_rate_limit(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int]] = []

    def acquire(key: str, rpm: int, *, max_wait_s: float) -> float:
        calls.append((key, rpm))
        return 0.0

    monkeypatch.setattr(openai_backend.ratelimit, "acquire", acquire)
    llm_server.enqueue(Status(500), Status(429, retry_after="0"))

    make_backend(llm_server, rpm=30).complete(make_request())

    assert calls == [(f"{llm_server.base_url}/gpt-4o-mini", 30)] * 3


def test_local_rate_limit_error_propagates(
    llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def acquire(key: str, rpm: int, *, max_wait_s: float) -> float:
        raise LLMTransientError("used up", code="llm_rate_limited_locally", attempts=0)

    monkeypatch.setattr(openai_backend.ratelimit, "acquire", acquire)

    with pytest.raises(LLMTransientError) as caught:
        make_backend(llm_server, rpm=1).complete(make_request())

    assert caught.value.code == "llm_rate_limited_locally"
    assert caught.value.attempts == 0
    assert llm_server.chat_requests == []


def test_real_rate_limit_with_locmem_cache(
    llm_server: FakeLLMServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "test-openai-backend-rpm",
        }
    }
    # The real limiter on a frozen clock, so all three calls fall in one window.
    monkeypatch.setattr(
        openai_backend.ratelimit,
        "acquire",
        functools.partial(ratelimit.acquire, clock=lambda: 6_000_030.0),
    )
    backend = make_backend(llm_server, rpm=2, rpm_max_wait_s=0.0)
    backend.complete(make_request())
    backend.complete(make_request())

    with pytest.raises(LLMTransientError) as caught:
        backend.complete(make_request())

    assert caught.value.code == "llm_rate_limited_locally"
    assert len(llm_server.chat_requests) == 2


# --- pure helpers -------------------------------------------------------------------------------


def test_cost_matches_exact_then_longest_prefix(settings: Any) -> None:
    assert cost_usd("gpt-4o", 1_000_000, 0) == Decimal("2.500000")
    assert cost_usd("gpt-4o-mini-2024-07-18", 2_000, 1_000) == Decimal("0.000900")
    assert cost_usd("gpt-4o-2024-08-06", 0, 1_000_000) == Decimal("10.000000")
    assert cost_usd("gpt-4-0613", 1_000_000, 0) == Decimal("30.000000")
    assert cost_usd("gpt-4omni", 1_000_000, 0) == Decimal("0")  # not a snapshot of gpt-4o
    assert cost_usd("llama3.1:8b", 1_000_000, 1_000_000) == Decimal("0")
    assert cost_usd("served-name", 1_000_000, 0, fallback="gpt-4o") == Decimal("2.500000")
    settings.LLM_PRICES_PER_MTOK = {"llama3.1": {"input": 1, "output": 2}}  # read at call time
    assert cost_usd("llama3.1:8b", 1_000_000, 1_000_000) == Decimal("3.000000")


def test_cost_of_a_real_call_uses_the_price_table_prefix(llm_server: FakeLLMServer) -> None:
    llm_server.enqueue(
        Reply(valid_persona_json(), usage=(10_000, 2_000), model="gpt-4o-2024-08-06")
    )

    response = make_backend(llm_server, model="gpt-4o").complete(make_request())

    assert response.cost_usd == Decimal("0.045000")  # 10k * 2.50/M + 2k * 10/M


def test_retry_after_header_forms() -> None:
    assert retry_after_s(httpx.Headers({"retry-after": "1.5"})) == 1.5
    assert retry_after_s(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert retry_after_s(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after_s(httpx.Headers({})) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_s(httpx.Headers({"retry-after": later})) or 0) <= 30
    earlier = format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)
    assert retry_after_s(httpx.Headers({"retry-after": earlier})) == 0.0
