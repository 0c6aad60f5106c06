"""Template helpers for the mock-interview pages, and the plan page's trend per kind."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from cards.templatetags.cards_tags import markdown_filter
from prep.mock_selectors import duration, kind_trends

register = template.Library()


@register.filter
def markdown_inline(text: str) -> SafeString:
    """One line of Markdown with math (a rubric point, a phase's hint) as inline HTML,
    rendered and sanitised as the drill renders cards: a single paragraph loses its <p>,
    so the line can sit in a legend or a sentence."""
    html = str(markdown_filter(text)).strip()
    if html.startswith("<p>") and html.endswith("</p>") and html.count("<p>") == 1:
        html = html[3:-4]
    return mark_safe(html)  # noqa: S308  (sanitised by cards.rendering)


@register.filter
def mock_duration(seconds: int) -> str:
    """Seconds as m:ss."""
    return duration(int(seconds or 0))


@register.filter
def mul60(minutes: int) -> int:
    return int(minutes) * 60


@register.filter
def next_title(phases: list[Any], index: int) -> str:
    return str(phases[int(index) + 1].title) if int(index) + 1 < len(phases) else ""


@register.filter
def percent(score: float | None) -> str:
    return "—" if score is None else f"{round(100 * score)}%"


@register.inclusion_tag("prep/mock_index.html#trend", takes_context=True)
def mock_trend(context: dict[str, Any]) -> dict[str, Any]:
    """The person's mock scores per kind, for the plan page."""
    request = context["request"]
    return {"trends": kind_trends(user=request.user), "on_plan": True}


@register.filter
def mul14(count: int) -> int:
    """The width of a trend chart: 14 units a bar."""
    return max(int(count) * 14 - 4, 10)


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key, "")
