"""The images imported cards show: where they are stored and the one URL they are served
at. Card text holds that URL (written at import, read back at export), so both ends use
:func:`media_url` and :func:`media_src_re`; nothing else spells it."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from django.conf import settings
from django.urls import reverse

# A stored name (cards.imports.media_name): content-addressed, safe in a path and a URL.
MEDIA_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,150}"
MEDIA_NAME_RE = re.compile(rf"^{MEDIA_NAME}$")


def media_folder(user_id: int) -> Path:
    """Under MEDIA_ROOT, which nothing serves directly: the owner-only view does."""
    return Path(settings.MEDIA_ROOT) / str(user_id)


def media_url(user_id: int, name: str) -> str:
    return reverse("card_media", args=[user_id, name])


@functools.cache
def media_src_re() -> re.Pattern[str]:
    """``src="<media url>"`` in a card's HTML: groups (user id, name)."""
    prefix = media_url(0, "x").removesuffix("0/x")
    return re.compile(rf'src="{re.escape(prefix)}(\d+)/({MEDIA_NAME})"')
