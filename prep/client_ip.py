"""The address a request came from, as throttling counts it (login and account e-mails)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or behind CADENCE_TRUSTED_PROXIES proxies the address the outermost
    trusted one saw: X-Forwarded-For is read from the right, since a client can put
    anything at its left."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    hops = settings.CADENCE_TRUSTED_PROXIES
    if hops <= 0:
        return remote
    forwarded = [
        part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
    ]
    forwarded = [part for part in forwarded if part]
    # Fewer entries than proxies: the request did not come through them all.
    return forwarded[-hops] if len(forwarded) >= hops else remote
