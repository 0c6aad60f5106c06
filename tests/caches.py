"""Emptying the cache between tests without touching another test process's keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache


def cache_clear() -> None:
    """Empty this process's cache: with Redis, only the keys under its own prefix (the
    test settings give each pytest-xdist worker one), as a Redis restarted empty would."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        backend.clear()
        return
    client = backend._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{backend.key_prefix}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


@contextmanager
def shared_cache(settings: Any) -> Iterator[None]:
    """The cached reads on (cards.versions: only a cache every process shares holds
    them), in a cache empty before and after."""
    settings.CADENCE_SHARED_CACHE = True
    cache_clear()
    try:
        yield
    finally:
        cache_clear()
