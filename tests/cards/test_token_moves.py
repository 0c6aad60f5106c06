"""A grade's token move held back to go with the next read (cards.versions.tokens_deferred):
never lost, and on Redis in the read's round trip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache import cache, caches

from cards.versions import _user_key, data_changed, data_version, tokens_deferred
from config.cache import RedisCache
from tests.caches import shared_cache

USER = 424_242


# Outside a test's transaction, so that a write's on_commit runs at once, as in a request.
@pytest.fixture
def shared(settings: Any, transactional_db: None) -> Iterator[None]:
    with shared_cache(settings):
        yield


def _token() -> str | None:
    return cache.get(_user_key(USER))  # type: ignore[no-any-return]


def test_a_move_waits_for_the_next_read_which_sees_it(shared: None) -> None:
    before = data_version(user_id=USER)
    with tokens_deferred():
        data_changed(user_id=USER, graded=True)
        assert before.startswith(str(_token())), "the move was sent before any read"
        after = data_version(user_id=USER)
        assert after != before
        assert after.startswith(str(_token()))
    assert data_version(user_id=USER) == after


def test_a_move_no_read_follows_is_sent_on_leaving(shared: None) -> None:
    before = data_version(user_id=USER)
    with tokens_deferred():
        data_changed(user_id=USER)
    assert data_version(user_id=USER) != before


def test_a_move_is_sent_even_when_the_request_fails(shared: None) -> None:
    before = data_version(user_id=USER)

    def failing_view() -> None:
        with tokens_deferred():
            data_changed(user_id=USER, graded=True)
            raise RuntimeError("the view failed after the grade")

    with pytest.raises(RuntimeError):
        failing_view()
    assert data_version(user_id=USER) != before


def test_outside_it_a_move_is_sent_at_once(shared: None) -> None:
    before = data_version(user_id=USER)
    data_changed(user_id=USER, graded=True)
    assert not before.startswith(str(_token()))


def test_on_redis_the_move_and_the_read_are_one_round_trip(
    shared: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = caches["default"]
    data_version(user_id=USER)
    calls: list[str] = []
    command, execute = redis.Redis.execute_command, redis.client.Pipeline.execute

    def counted_command(self: Any, *args: Any, **options: Any) -> Any:
        calls.append(str(args[0]))
        return command(self, *args, **options)

    def counted_execute(self: Any, *args: Any, **options: Any) -> Any:
        calls.append("pipeline")
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counted_command)
    monkeypatch.setattr(redis.client.Pipeline, "execute", counted_execute)
    with tokens_deferred():
        data_changed(user_id=USER, graded=True)
        moved = data_version(user_id=USER)
    if isinstance(backend, RedisCache):
        assert calls == ["pipeline"]  # the SET and the MGET sent together
    else:
        assert calls == []  # another backend: its own two calls, no Redis
    assert moved.startswith(str(_token()))


def test_the_backends_write_then_read_keeps_the_prefix_and_the_timeout(shared: None) -> None:
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        # The only backend with the method; others take the two-call way (above).
        assert not hasattr(backend, "set_many_get_many")
        return
    found = backend.set_many_get_many({"a": 1, "b": [2]}, ["b", "missing", "a"], timeout=60)
    assert found == {"a": 1, "b": [2]}
    assert cache.get("a") == 1
    client = backend._cache.get_client(write=True)
    assert 0 < client.ttl(backend.make_and_validate_key("a")) <= 60
