"""The shared requests-per-minute limit, on a local-memory cache and a fake clock.

The fake clock's ``sleep`` moves time forward, so a full minute's window passes instantly and
the tests show exactly when a caller would have woken.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from personas.llm import LLMTransientError, ratelimit

LOCMEM = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "test-ratelimit",
    }
}
WINDOW_START = 6_000_000.0  # a multiple of 60: the start of a window


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def _locmem() -> Iterator[None]:
    with override_settings(CACHES=LOCMEM):
        caches["default"].clear()
        yield


def acquire(clock: FakeClock, key: str = "http://llm/v1/gpt-4o-mini", **kwargs: Any) -> float:
    kwargs.setdefault("rpm", 3)
    kwargs.setdefault("max_wait_s", 120.0)
    return ratelimit.acquire(key, clock=clock, sleep=clock.sleep, **kwargs)


def test_calls_within_the_limit_do_not_wait() -> None:
    clock = FakeClock(WINDOW_START + 10)

    assert [acquire(clock) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert clock.sleeps == []


def test_the_call_over_the_limit_waits_for_the_next_window() -> None:
    clock = FakeClock(WINDOW_START + 10)
    for _ in range(3):
        acquire(clock)

    waited = acquire(clock)

    # 50 s left in the window, plus at most the jitter.
    assert 50.0 <= waited <= 50.0 + ratelimit.MAX_JITTER_S
    assert len(clock.sleeps) == 1
    assert clock.now >= WINDOW_START + 60
    # It took the first slot of the new window: two more fit, the one after waits again.
    assert acquire(clock) == 0.0
    assert acquire(clock) == 0.0
    assert acquire(clock) >= 59.0 - ratelimit.MAX_JITTER_S


def test_the_call_over_the_limit_raises_when_the_wait_is_too_long() -> None:
    clock = FakeClock(WINDOW_START + 10)
    for _ in range(3):
        acquire(clock)

    with pytest.raises(LLMTransientError) as caught:
        acquire(clock, max_wait_s=30.0)

    assert caught.value.code == "llm_rate_limited_locally"
    assert caught.value.retryable
    assert clock.sleeps == []  # refused up front rather than sleeping 30 s for nothing


def test_windows_are_injectable() -> None:
    clock = FakeClock(1000.0)
    acquire(clock, rpm=1, window_s=1.0)

    waited = acquire(clock, rpm=1, window_s=1.0)

    assert 1.0 <= waited <= 1.0 + 0.02  # jitter is a small fraction of a short window


def test_keys_are_limited_separately() -> None:
    clock = FakeClock(WINDOW_START)
    acquire(clock, key="http://a/v1/gpt-4o", rpm=1)

    assert acquire(clock, key="http://b/v1/gpt-4o", rpm=1) == 0.0
    assert clock.sleeps == []


def test_unsafe_keys_are_hashed() -> None:
    clock = FakeClock(WINDOW_START)
    key = "http://host with space/v1/" + "m" * 300

    acquire(clock, key=key, rpm=1)

    with pytest.raises(LLMTransientError):
        acquire(clock, key=key, rpm=1, max_wait_s=1.0)


@pytest.mark.parametrize("rpm", [0, -1])
def test_zero_rpm_disables_the_limit(rpm: int, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_cache(alias: str) -> None:
        raise AssertionError("a disabled limit must not touch the cache")

    monkeypatch.setattr(ratelimit, "caches", type("NoCaches", (), {"__getitem__": no_cache})())
    clock = FakeClock(WINDOW_START)

    assert all(acquire(clock, rpm=rpm) == 0.0 for _ in range(100))


def test_an_unreachable_cache_lets_requests_through(monkeypatch: pytest.MonkeyPatch) -> None:
    class BrokenCache:
        def add(self, *args: Any, **kwargs: Any) -> bool:
            raise ConnectionError("redis is down")

    monkeypatch.setattr(ratelimit, "caches", {"default": BrokenCache()})
    clock = FakeClock(WINDOW_START)

    assert [acquire(clock, rpm=1) for _ in range(3)] == [0.0, 0.0, 0.0]
