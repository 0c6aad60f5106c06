"""The study thresholds every template may name, so no page restates them as numbers."""

from __future__ import annotations

from django.http import HttpRequest

from cards.models import LEECH_LAPSES, MATURE_DAYS
from cards.scheduling import PASSING_QUALITY


def thresholds(request: HttpRequest) -> dict[str, int]:
    """The mature interval (days), the leech threshold (lapses) and the passing grade."""
    return {
        "MATURE_DAYS": MATURE_DAYS,
        "LEECH_LAPSES": LEECH_LAPSES,
        "PASSING_QUALITY": PASSING_QUALITY,
    }
