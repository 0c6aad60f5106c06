"""A token per person that moves whenever their cards, review states or review log change,
and one for the built-in deck: what cached reads of that data are keyed by.

Every write service calls :func:`data_changed` (the built-in deck's loader,
:func:`deck_changed`); the new token is set once the write has committed, so a read that
raced the write stores its result under the old token, which no later read asks for.
Tokens are random, never counters: a token the cache lost is replaced by a new one, never
by an old value, so a lost key only costs a recompute, never a stale answer.

Only a cache every process shares can hold them (Redis): with a per-process cache a write
in one process could not move the token another process reads. ``tokens_shared()`` says
whether to cache at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

TOKEN_SECONDS = 14 * 24 * 60 * 60
READ_SECONDS = 26 * 60 * 60
DECK_KEY = "cards:data:deck"


def _user_key(user_id: int) -> str:
    return f"cards:data:user:{user_id}"


def _new_token() -> str:
    return secrets.token_hex(8)


def tokens_shared() -> bool:
    return bool(settings.CADENCE_SHARED_CACHE)


def _tokens(keys: list[str]) -> dict[str, str]:
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            # add, not set: a token a concurrent write has just set wins.
            cache.add(key, _new_token(), timeout=TOKEN_SECONDS)
            found[key] = cache.get(key) or _new_token()
    return found


def data_version(*, user_id: int) -> str:
    """The current token of a person's data and of the built-in deck, as one string."""
    keys = [_user_key(user_id), DECK_KEY]
    found = _tokens(keys)
    return f"{found[keys[0]]}.{found[keys[1]]}"


def data_changed(*, user_id: int | None) -> None:
    """A person's cards, states or log changed (called inside or outside a transaction).
    None is no one: the built-in deck changes only through :func:`deck_changed`."""
    if user_id is not None and tokens_shared():
        key = _user_key(user_id)
        transaction.on_commit(lambda: cache.set(key, _new_token(), timeout=TOKEN_SECONDS))


def deck_changed() -> None:
    """The built-in deck changed: everyone's token moves."""
    if tokens_shared():
        transaction.on_commit(lambda: cache.set(DECK_KEY, _new_token(), timeout=TOKEN_SECONDS))


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
