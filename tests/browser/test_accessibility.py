"""axe-core on every page, light and dark: no serious or critical violation.

axe-core comes from npm (package.json; `make test` installs it into node_modules/).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from cards.models import Card, ReviewState
from tests.browser.conftest import log_in
from tests.browser.test_pages import planned  # noqa: F401
from tests.conftest import PASSWORD
from tests.factories import CardFactory, TopicFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = {"serious", "critical"}


def _axe(page: Any) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result
        if v["impact"] in SERIOUS
    ]


@pytest.fixture
def pages(planned: Any, owner: Any) -> list[str]:  # noqa: F811
    mine = TopicFactory(owner=owner, title="My notes", slug="my-notes")
    own = CardFactory(owner=owner, key="", topic=mine, front="Mine: $$x^2$$", tags="own")
    builtin = Card.objects.filter(owner__isnull=True).order_by("pk").first()
    assert builtin is not None
    ReviewState.objects.create(
        user=owner,
        card=builtin,
        due=builtin.created_at.date(),
        introduced_on=builtin.created_at.date(),
    )
    # A card of each state in the browser: new, learning, mature, suspended.
    for interval, suspended in ((3, False), (30, False), (3, True)):
        card = CardFactory(owner=owner, key="", topic=mine, front=f"{interval} {suspended}")
        ReviewState.objects.create(
            user=owner,
            card=card,
            repetitions=3,
            interval=interval,
            due=builtin.created_at.date(),
            introduced_on=builtin.created_at.date(),
            last_reviewed_at=builtin.created_at,
            suspended=suspended,
        )
    return [
        "/plan/",
        "/review/",
        "/review/?show=1",
        f"/review/cards/{builtin.pk}/history/",
        "/cards/",
        "/cards/new/",
        f"/cards/{own.pk}/",
        f"/cards/{builtin.pk}/",
        "/cards/topics/",
        "/cards/import/",
        "/cards/export/",
        "/accounts/profile/",
        "/mocks/",
        "/review/custom/",
        "/welcome/",
        "/accounts/password_change/",
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_page_has_a_serious_or_critical_violation(
    browser: Any, live_server: Any, pages: list[str], scheme: str, artifacts: Path
) -> None:
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail("axe-core is not installed: run `make test-tools`.")
        pytest.skip("axe-core is not installed (make test-tools)")
    context = browser.new_context(
        viewport={"width": 1100, "height": 900}, color_scheme=scheme, bypass_csp=True
    )
    page = context.new_page()
    found: dict[str, Any] = {}
    for path in ["/accounts/login/", "/accounts/signup/"]:
        page.goto(f"{live_server.url}{path}")
        if violations := _axe(page):
            found[path] = violations
    log_in(page, live_server, "olivia", PASSWORD)
    for path in pages:
        page.goto(f"{live_server.url}{path}")
        if violations := _axe(page):
            found[path] = violations
    # The drill's end of the day.
    ReviewState.objects.filter(user__username="olivia").update(suspended=True)
    Card.objects.filter(owner__isnull=False).delete()
    from prep.models import Profile

    Profile.objects.filter(user__username="olivia").update(new_cards_per_day=0)
    page.goto(f"{live_server.url}/review/")
    assert page.locator("#summary-title").count() == 1
    if violations := _axe(page):
        found["/review/ (done)"] = violations
    (artifacts / f"axe-{scheme}.json").write_text(json.dumps(found, indent=2))
    context.close()
    assert found == {}
