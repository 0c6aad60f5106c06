"""Every page at a glance in real Chromium: the plan's rows, the zone list, and the phone."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from prep.models import Profile, Track, TrackTopic
from prep.services import plan_generate
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import CardFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def planned(owner: Any) -> Any:
    """Olivia, four days before her interview: this week holds topic work and a mock."""
    track = Track.objects.create(
        slug="sys",
        title="AI system design",
        order=1,
        finale=[{"kind": "mock", "title": "Mock interview: design a RAG system", "minutes": 45}],
    )
    topic = TopicFactory(title="Model serving and inference at scale")
    for i in range(8):
        CardFactory(
            topic=topic,
            front=f"Card {i}: what does a **KV cache** hold?",
            back="| Layer | Freshness budget | Bytes per token |\n|---|---|---|\n"
            "| attention | unboundedly fresh | $2 \\cdot n_{layers} \\cdot d_{model}$ |",
            tags="serving inference",
        )
    TrackTopic.objects.create(
        track=track,
        topic=topic,
        order=0,
        weight=3,
        activities=[
            {"kind": "sketch", "title": "Sketch a serving stack with batching", "minutes": 45},
            {"kind": "drill", "title": "Drill serving cards", "minutes": 20},
        ],
    )
    today = timezone.localdate()
    Profile.objects.filter(user=owner).update(
        track=track,
        interview_date=today + dt.timedelta(days=4),
        hours_per_week=10,
        onboarded_at=timezone.now(),
        time_zone="UTC",
    )
    plan_generate(user=owner, today=today)
    return owner


def test_every_plan_badge_sits_clear_of_its_title(
    page: Any, live_server: Any, planned: Any
) -> None:
    log_in(page, live_server, "olivia", PASSWORD)
    page.goto(f"{live_server.url}/plan/")
    rows = page.locator(".this-week .item")
    assert rows.count() >= 2
    assert page.locator(".this-week .item .kind-mock").count() == 1
    for i in range(rows.count()):
        kind = rows.nth(i).locator(".kind").bounding_box()
        title = rows.nth(i).locator(".item-title").bounding_box()
        assert kind is not None
        assert title is not None
        assert kind["x"] + kind["width"] <= title["x"] + 0.5


def test_the_browsers_zone_comes_first_and_is_chosen_on_sign_up(
    browser: Any, live_server: Any, db: Any
) -> None:
    context = browser.new_context(timezone_id="Asia/Kolkata")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/signup/")
    first = page.locator("select[name=time_zone] option").first
    assert first.get_attribute("value") in {"Asia/Kolkata", "Asia/Calcutta"}
    assert page.input_value("select[name=time_zone]") == first.get_attribute("value")
    assert page.locator("select[name=time_zone] optgroup").first.get_attribute("label") == (
        "Your browser's zone"
    )
    context.close()
