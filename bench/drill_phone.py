"""Phone drill: tap on a grade to the next card painted, in real Chromium at 390×844.

Not a test: it prints figures. Run it explicitly (SQLite or PostgreSQL):

    .venv/bin/pytest bench/drill_phone.py -q -s -p no:randomly

Each run logs in on a touch viewport, then for every card taps the card (or its Show
answer button) to reveal, and taps "Good". The clock starts at the grade's pointerdown
and stops at the first animation frame after the next card is in the page (a frame
after the swap is a frame painted). Figures: the median and spread of every card's time.
"""

from __future__ import annotations

import os
import statistics
from typing import Any

import pytest

from tests.browser.conftest import browser, log_in  # noqa: F401
from tests.conftest import PASSWORD, owner  # noqa: F401
from tests.factories import CardFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CARDS = int(os.environ.get("BENCH_CARDS", "12"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))

PROBE = """
() => {
  window.__taps = [];
  document.addEventListener("pointerdown", (event) => {
    if (event.target.closest(".grade")) window.__t0 = performance.now();
  }, true);
  new MutationObserver(() => {
    const card = document.getElementById("card");
    if (window.__t0 === undefined || !card || card.dataset.card === window.__last) return;
    const t0 = window.__t0;
    window.__t0 = undefined;
    window.__last = card.dataset.card;
    requestAnimationFrame(() => window.__taps.push(performance.now() - t0));
  }).observe(document.body, { childList: true, subtree: true });
  window.__last = document.getElementById("card").dataset.card;
}
"""


def test_tap_to_next_card_painted(browser: Any, live_server: Any, owner: Any) -> None:  # noqa: F811
    topic = TopicFactory(title="Serving")
    for i in range(CARDS * RUNS + 1):
        CardFactory(topic=topic, front=f"Card {i}: why batch?", back="Throughput, **mostly**.")
    owner.profile.new_cards_per_day = CARDS * RUNS + 1
    owner.profile.save(update_fields=["new_cards_per_day"])
    times: list[float] = []
    for _ in range(RUNS):
        context = browser.new_context(
            viewport={"width": 390, "height": 844},
            device_scale_factor=3,
            is_mobile=True,
            has_touch=True,
        )
        page = context.new_page()
        log_in(page, live_server, "olivia", PASSWORD)
        page.goto(f"{live_server.url}/review/")
        page.evaluate(PROBE)
        for n in range(CARDS):
            reveal = page.locator("#card [data-reveal]")
            if reveal.count():
                reveal.tap()
            else:
                page.locator("#card .front").tap()
            page.locator('#card .grade[data-grade="4"]').tap()
            page.wait_for_function(f"() => window.__taps.length > {n}")
        times += page.evaluate("window.__taps")
        context.close()
    print(  # noqa: T201
        f"\ntap to next card painted, 390x844 touch, {len(times)} cards in {RUNS} runs: "
        f"median {statistics.median(times):.0f} ms, "
        f"p10 {statistics.quantiles(times, n=10)[0]:.0f} ms, "
        f"p90 {statistics.quantiles(times, n=10)[-1]:.0f} ms"
    )
