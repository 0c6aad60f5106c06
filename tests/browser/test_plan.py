"""A new person signs up, sets up their plan and ticks off an item, in real Chromium."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from prep.accounts import activation_url
from prep.models import PlanItem
from tests.factories import CardFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def track(db: Any) -> Any:
    from prep.models import Track, TrackTopic

    track = Track.objects.create(
        slug="llm",
        title="LLM training engineer — three technical rounds",
        order=1,
        summary="Transformer derivations, pre-training data, SFT and RLHF, distributed training.",
        finale=[
            {
                "kind": "mock",
                "title": "Mock interview: design a training system for a 100B model",
                "minutes": 60,
            }
        ],
    )
    for order, title in enumerate(["Transformer fundamentals", "RLHF and reward models"]):
        topic = TopicFactory(title=title, order=order)
        CardFactory.create_batch(6, topic=topic)
        TrackTopic.objects.create(
            track=track,
            topic=topic,
            order=order,
            weight=2,
            activities=[
                {
                    "kind": "derive",
                    "title": f"Derive the key results of {title} on paper",
                    "minutes": 45,
                },
                {"kind": "drill", "title": f"Drill {title} cards", "minutes": 20},
            ],
        )
    return track


def test_a_new_user_onboards_and_checks_off_an_item_without_a_reload(
    page: Any, live_server: Any, track: Any, artifacts: Path
) -> None:
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=username]", "grace")
    page.fill("input[name=email]", "grace@example.com")
    page.fill("input[name=password1]", "a-long-passphrase-42")
    page.fill("input[name=password2]", "a-long-passphrase-42")
    page.select_option("select[name=time_zone]", "Asia/Kolkata")
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/accounts/signup/done/")
    assert "Check your inbox" in page.locator("h1").inner_text()
    # The link the activation e-mail carries, on the live server.
    link = activation_url(get_user_model().objects.get(username="grace"))
    page.goto(live_server.url + "/" + link.split("://", 1)[1].split("/", 1)[1])
    page.click("text=Finish and log in")
    page.wait_for_url(f"{live_server.url}/welcome/")

    page.check(f"input[name=track][value='{track.pk}']")
    interview = timezone.localdate() + dt.timedelta(days=40)
    page.fill("input[name=interview_date]", interview.isoformat())
    page.fill("input[name=hours_per_week]", "7")
    page.screenshot(path=str(artifacts / "onboarding.png"), full_page=True)
    page.click("text=Make my plan")
    page.wait_for_url(f"{live_server.url}/plan/")

    assert "days to your interview" in page.locator("h1").inner_text()
    page.evaluate("window.__cadenceMarker = 'still here'")
    first = page.locator(".this-week .item").first
    title = first.locator(".item-title").inner_text()
    first.locator("button.tick").click()
    page.wait_for_selector(".this-week .item.done")
    assert page.evaluate("window.__cadenceMarker") == "still here"
    assert "min done" in page.locator("#week-progress").inner_text()
    assert PlanItem.objects.get(title=title, week__plan__user__username="grace").done_at is not None
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

    # And back again.
    page.locator(".this-week .item.done button.tick").first.click()
    page.wait_for_function("() => !document.querySelector('.this-week .item.done')")
    assert PlanItem.objects.get(title=title, week__plan__user__username="grace").done_at is None
    assert page.evaluate("window.__cadenceMarker") == "still here"
