"""How many account e-mails (password resets, sign-ups) one address or one client may
cause in an hour, counted in the cache (Redis in production, shared by every process)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import caches

WINDOW_SECONDS = 60 * 60


def _key(scope: str, value: str) -> str:
    # Hashed: an e-mail address is not kept in the cache as it is.
    digest = hashlib.sha256(value.strip().casefold().encode()).hexdigest()[:32]
    return f"cadence:throttle:{scope}:{digest}"


def throttle_allow(*, scope: str, values: list[str], limit: int | None = None) -> bool:
    """Count one more for each value; False when any of them is over ``limit`` this hour.

    A fixed window per value: ``add`` starts it with its expiry, ``incr`` counts (atomic in
    Redis). Every request counts, refused ones too, so hammering keeps the window shut.
    """
    cache = caches[settings.CADENCE_THROTTLE_CACHE]
    allowed_count = settings.CADENCE_ACCOUNT_EMAILS_PER_HOUR if limit is None else limit
    allowed = True
    for value in values:
        key = _key(scope, value)
        if cache.add(key, 1, timeout=WINDOW_SECONDS):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=WINDOW_SECONDS)
                count = 1
        allowed = allowed and count <= allowed_count
    return allowed
