"""A person sets an interview date, drills, and sees readiness move, in real Chromium."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from prep.models import Profile
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.factories import CardFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def overall(page: Any) -> int:
    label = page.locator("tr[data-topic=all] svg").get_attribute("aria-label")
    return int(label.split()[0])


def test_set_a_date_drill_and_see_readiness_rise(
    page: Any, live_server: Any, owner: Any, artifacts: Path
) -> None:
    topic = TopicFactory(title="RLHF and reward models")
    CardFactory.create_batch(4, topic=topic)
    Profile.objects.filter(user=owner).update(onboarded_at=timezone.now())
    log_in(page, live_server, "olivia", PASSWORD)

    page.goto(f"{live_server.url}/accounts/profile/")
    interview = timezone.localdate() + dt.timedelta(days=21)
    page.fill("input[name=interview_date]", interview.isoformat())
    page.click("button.primary")
    page.wait_for_selector(".messages, [role=status], .message", state="attached")

    page.goto(f"{live_server.url}/plan/")
    assert "count as not known" in page.locator("#ready-how").inner_text()
    assert overall(page) == 0
    # What the schedule still brings in is shown apart from what is studied (nothing yet).
    assert "(0% studied)" in page.locator("tr[data-topic=all]").inner_text()

    page.goto(f"{live_server.url}/review/")
    for _ in range(3):
        shown = page.locator("#card").get_attribute("data-card")
        page.keyboard.press("Space")
        page.keyboard.press("5")
        page.wait_for_function(
            "id => !document.documentElement.dataset.busy && "
            "(!document.querySelector('#card') || "
            "document.querySelector('#card').dataset.card != id)",
            arg=shown,
        )

    page.goto(f"{live_server.url}/plan/")
    page.screenshot(path=str(artifacts / "readiness.png"), full_page=True)
    # Three of four cards studied: three quarters at most, and well above nothing.
    assert 50 <= overall(page) <= 75
    row = page.locator(f"tr[data-topic='{topic.pk}']")
    assert f"({overall(page)}% studied)" in row.inner_text()
