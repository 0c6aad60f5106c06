"""Template helpers for the plan page."""

from __future__ import annotations

from django import template

from prep.models import PlanItem
from prep.selectors import plan_item_url

register = template.Library()


@register.filter
def where_done(item: PlanItem) -> str:
    """The page where ``item`` is done (prep.selectors.plan_item_url)."""
    return plan_item_url(item)
