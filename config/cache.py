"""Django's Redis cache, with one client object per connection pool.

Django's backend builds a new ``redis.Redis`` client for every cache call; building it
costs more than a GET to a local Redis (about 0.1 ms, then a slower first command on the
new object), and the drill makes a few cache calls a request. A client is safe to share
between threads (each command takes a connection from the pool) and survives a fork (the
pool notices the new process and opens its own connections).
"""

from __future__ import annotations

from typing import Any

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


class RedisCache(DjangoRedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedClient
