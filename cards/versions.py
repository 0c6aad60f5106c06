"""A token per person that moves whenever their cards, review states or review log change,
and one for the built-in deck: what cached reads of that data are keyed by.

Every write service calls :func:`data_changed` (the built-in deck's loader,
:func:`deck_changed`); the new token is set once the write has committed, so a read that
raced the write stores its result under the old token, which no later read asks for.
Tokens are random, never counters: a token the cache lost is replaced by a new one, never
by an old value, so a lost key only costs a recompute, never a stale answer.

A second token per person, the queue's, moves with every write but the drill's grade:
today's due reviews in order (cards.dayqueue) and the dashboard's reads of the whole deck
(prep.stats.deck_reads) are kept under it. A grade only takes a card out of the day's
reviews and moves the card's interval and due date, all of which its log row says: the
day queue and those reads follow grades from the log rather than from a new token. (A
grade that suspends a leech moves both tokens.)

Only a cache every process shares can hold them (Redis): with a per-process cache a write
in one process could not move the token another process reads. ``tokens_shared()`` says
whether to cache at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

TOKEN_SECONDS = 14 * 24 * 60 * 60
READ_SECONDS = 26 * 60 * 60
DECK_KEY = "cards:data:deck"


def _user_key(user_id: int) -> str:
    return f"cards:data:user:{user_id}"


def _queue_key(user_id: int) -> str:
    return f"cards:queue:user:{user_id}"


def _new_token() -> str:
    return secrets.token_hex(8)


def tokens_shared() -> bool:
    return bool(settings.CADENCE_SHARED_CACHE)


# Token moves held back inside :func:`tokens_deferred`, to be sent with the next read.
_held: ContextVar[dict[str, str] | None] = ContextVar("cadence_held_tokens", default=None)


@contextmanager
def tokens_deferred() -> Iterator[None]:
    """Tokens moved inside are set with the next read of tokens, in the same round trip on
    Redis (the drill's grade, then its next card), and on leaving at the latest, so no
    request ends with a move unsent."""
    held: dict[str, str] = {}
    reset = _held.set(held)
    try:
        yield
    finally:
        _held.reset(reset)
        if held:
            cache.set_many(held, timeout=TOKEN_SECONDS)


def _move(tokens: dict[str, str]) -> None:
    held = _held.get()
    if held is None:
        cache.set_many(tokens, timeout=TOKEN_SECONDS)
    else:
        held.update(tokens)


def _read(keys: list[str]) -> dict[str, Any]:
    """``cache.get_many(keys)``, after the token moves held back, if any."""
    held = _held.get()
    if not held:
        return dict(cache.get_many(keys))
    moves = dict(held)
    held.clear()
    # The Redis backend's one round trip (config.cache); any other, two calls.
    together = getattr(cache, "set_many_get_many", None)
    if together is not None:
        return dict(together(moves, keys, timeout=TOKEN_SECONDS))
    cache.set_many(moves, timeout=TOKEN_SECONDS)
    return dict(cache.get_many(keys))


def _tokens(keys: list[str], found: dict[str, Any] | None = None) -> dict[str, str]:
    """The tokens under ``keys``, a new one set for any missing (``found``: what a read of
    these keys with others gave already)."""
    found = _read(keys) if found is None else {k: found[k] for k in keys if k in found}
    for key in keys:
        if key not in found:
            # add, not set: a token a concurrent write has just set wins.
            cache.add(key, _new_token(), timeout=TOKEN_SECONDS)
            found[key] = cache.get(key) or _new_token()
    return found


def _version_with(token_key: str, keys: list[str]) -> tuple[str, dict[str, Any]]:
    """A person's token under ``token_key`` and the built-in deck's, as one string, and
    what the cache holds under ``keys``, in one read."""
    tokens = [token_key, DECK_KEY]
    found = _read([*tokens, *keys])
    version = _tokens(tokens, found)
    return f"{version[token_key]}.{version[DECK_KEY]}", {k: found[k] for k in keys if k in found}


def data_version(*, user_id: int) -> str:
    """The current token of a person's data and of the built-in deck, as one string."""
    return _version_with(_user_key(user_id), [])[0]


def queue_version_with(*, user_id: int, keys: list[str]) -> tuple[str, dict[str, Any]]:
    """The current token of a person's day queue and of the built-in deck, as one string,
    and what the cache holds under ``keys``, in one read."""
    return _version_with(_queue_key(user_id), keys)


def data_changed(*, user_id: int | None, graded: bool = False) -> None:
    """A person's cards, states or log changed (called inside or outside a transaction).
    None is no one: the built-in deck changes only through :func:`deck_changed`.

    ``graded``: the change is the drill's grade of a card of today's queue, which leaves
    the queue's token (cards.dayqueue follows a grade from the log)."""
    if user_id is not None and tokens_shared():
        keys = [_user_key(user_id)] if graded else [_user_key(user_id), _queue_key(user_id)]
        transaction.on_commit(lambda: _move({key: _new_token() for key in keys}))


def deck_changed() -> None:
    """The built-in deck changed: everyone's token moves."""
    if tokens_shared():
        transaction.on_commit(lambda: _move({DECK_KEY: _new_token()}))


def cached_per_version[T](*, user_id: int, name: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept under the person's current token (when the cache is shared)."""
    if not tokens_shared():
        return compute()
    return _cached(f"cards:read:{user_id}:{name}:{data_version(user_id=user_id)}", compute)


def cached_per_deck[T](*, name: str, compute: Callable[[], T]) -> T:
    """``compute()`` of the built-in deck alone, kept under the deck's token: shared by
    everyone, and moved only by :func:`deck_changed` (a person's writes leave it)."""
    if not tokens_shared():
        return compute()
    return _cached(f"cards:deck-read:{name}:{_tokens([DECK_KEY])[DECK_KEY]}", compute)


def _cached[T](key: str, compute: Callable[[], T]) -> T:
    found = cache.get(key)
    if found is None:
        found = compute()
        cache.set(key, found, timeout=READ_SECONDS)
    return found  # type: ignore[no-any-return]
