"""Django's Redis cache, with one client object per connection pool, and writes sent with a
read in one round trip.

Django's backend builds a new ``redis.Redis`` client for every cache call; building it
costs more than a GET to a local Redis (about 0.1 ms, then a slower first command on the
new object), and the drill makes a few cache calls a request. A client is safe to share
between threads (each command takes a connection from the pool) and survives a fork (the
pool notices the new process and opens its own connections).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class SharedClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        base: Any = self  # the stubs leave out the base class's private helpers
        index = base._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = base._get_connection_pool(write)
            client = self._clients.setdefault(index, base._client(connection_pool=pool))
        return client

    def set_many_get_many(
        self, data: Mapping[str, Any], timeout: int | None, keys: list[str]
    ) -> dict[str, Any]:
        base: Any = self
        # The primary, which the writes go to: the reads see them.
        pipeline = self.get_client(write=True).pipeline(transaction=False)
        for key, value in data.items():
            pipeline.set(key, base._serializer.dumps(value), ex=timeout)
        pipeline.mget(keys)
        found = pipeline.execute()[-1]
        return {
            k: base._serializer.loads(v) for k, v in zip(keys, found, strict=True) if v is not None
        }


class RedisCache(DjangoRedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedClient

    def set_many_get_many(
        self, data: Mapping[str, Any], keys: Iterable[str], timeout: Any = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        """``set_many(data, timeout)`` then ``get_many(keys)``, in one round trip."""
        made = {self.make_and_validate_key(key): value for key, value in data.items()}
        names = {self.make_and_validate_key(key): key for key in keys}
        client: Any = self._cache
        found = client.set_many_get_many(made, self.get_backend_timeout(timeout), list(names))
        return {names[key]: value for key, value in found.items()}
