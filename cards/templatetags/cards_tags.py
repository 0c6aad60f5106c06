from __future__ import annotations

from functools import lru_cache

from django import template
from django.utils.safestring import SafeString, mark_safe

from cards.models import Card
from cards.rendering import RENDER_VERSION, render_markdown

register = template.Library()


@lru_cache(maxsize=4096)
def _render(text: str) -> str:
    return render_markdown(text)


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    """Card Markdown as sanitised HTML (cards.rendering does the sanitising)."""
    return mark_safe(_render(text or ""))  # noqa: S308


@register.filter
def front_html(card: Card) -> SafeString:
    """A card's front as stored at write time; rendered now only if the renderer changed."""
    html = card.front_html if card.html_version == RENDER_VERSION else _render(card.front)
    return mark_safe(html)  # noqa: S308  (sanitised by cards.rendering)


@register.filter
def back_html(card: Card) -> SafeString:
    html = card.back_html if card.html_version == RENDER_VERSION else _render(card.back)
    return mark_safe(html)  # noqa: S308  (sanitised by cards.rendering)


@register.filter
def duration(seconds: int) -> str:
    minutes, seconds = divmod(int(seconds or 0), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
