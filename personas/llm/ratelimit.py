"""A requests-per-minute limit shared by every worker that calls the same model.

Each LLM provider limits requests per minute per key; many Celery workers calling at once would
otherwise spend their retries on 429s. The count lives in Django's default cache (Redis in
production, so all workers share it; per-process memory locally, which is right for one process).

The algorithm is a fixed window: one counter per ``(key, window)`` in the cache, created with
``cache.add`` (only the first caller creates it) and bumped with ``cache.incr`` (atomic in Redis).
A caller whose number is within ``rpm`` goes ahead; the others sleep until the next window and
try again. A fixed window can let up to ``2 * rpm`` requests through around a window boundary,
which providers tolerate (their own limits are enforced the same way or with a token bucket) and
which the backend's 429 handling covers; it costs one round trip per request and no clean-up.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import re
import time
from collections.abc import Callable

from django.core.cache import BaseCache, caches

from .base import LLMTransientError

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 60.0
KEY_PREFIX = "llm-rpm"
# Everyone who waited for a window wakes at its start; a little jitter keeps them from arriving
# in one burst (which some providers count as a spike).
MAX_JITTER_S = 0.5
JITTER_FRACTION = 0.02
# Keys that are not safe for every cache backend (memcached refuses spaces, control characters
# and keys over 250 bytes) are hashed; URLs plus model names normally pass as they are.
_SAFE_KEY = re.compile(r"^[A-Za-z0-9._:/@+\-]{1,180}$")
_INCR_ATTEMPTS = 3


def acquire(
    key: str,
    rpm: int,
    *,
    max_wait_s: float,
    window_s: float = DEFAULT_WINDOW_S,
    cache_alias: str = "default",
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Wait until one more request to ``key`` fits in ``rpm`` per window; return seconds waited.

    ``rpm <= 0`` disables the limit. Raises :class:`LLMTransientError` with code
    ``llm_rate_limited_locally`` when the next free window is more than ``max_wait_s`` away, so
    a worker gives the job back instead of sleeping indefinitely. ``window_s``, ``clock`` and
    ``sleep`` exist so tests can run a minute in no time; ``clock`` is wall-clock time, because
    workers on different hosts must agree on where a window starts.
    """
    if rpm <= 0:
        return 0.0
    cache = caches[cache_alias]
    slot = _slot(key)
    ttl = math.ceil(window_s * 2)  # outlives its window, even with clock skew between hosts
    start = clock()
    while True:
        now = clock()
        window = int(now // window_s)
        count = _increment(cache, f"{KEY_PREFIX}:{slot}:{window}", ttl)
        if count is None or count <= rpm:
            return max(0.0, now - start)
        jitter = random.uniform(0.0, min(MAX_JITTER_S, window_s * JITTER_FRACTION))  # noqa: S311
        delay = (window + 1) * window_s - now + jitter
        if (now - start) + delay > max_wait_s:
            raise LLMTransientError(
                f"Local rate limit of {rpm} requests per {window_s:g}s for {key!r} is used up; "
                f"the next slot is {delay:.1f}s away, more than the {max_wait_s:g}s allowed.",
                code="llm_rate_limited_locally",
                attempts=0,
            )
        logger.info(
            "LLM rate limit %s/%gs reached for %s; waiting %.2fs", rpm, window_s, key, delay
        )
        sleep(delay)


def _slot(key: str) -> str:
    if _SAFE_KEY.match(key):
        return key
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _increment(cache: BaseCache, counter: str, ttl: int) -> int | None:
    """This caller's number in the window, or None if the cache cannot be reached."""
    try:
        for _ in range(_INCR_ATTEMPTS):
            cache.add(counter, 0, timeout=ttl)
            try:
                return cache.incr(counter)
            except ValueError:
                # The counter expired (or was evicted) between add and incr: create it again.
                continue
    except Exception:
        # The limit is a courtesy to the provider, whose 429s the backend still handles; a cache
        # outage should not stop generation, so let the request through and say so.
        logger.warning("LLM rate limit cache unavailable; not limiting", exc_info=True)
        return None
    logger.warning("LLM rate limit counter %s kept vanishing; not limiting", counter)
    return None
