"""The drill pages: full pages and htmx partials, access, CSRF, idempotency, query counts."""

from __future__ import annotations

import datetime as dt
import re
import threading
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.urls import reverse

from cards.models import Card, ReviewLog, ReviewState, Topic
from cards.queue import most_overdue_first
from cards.services import card_html
from prep.models import Profile
from tests.factories import CardFactory, deck_with_history

HTMX = {"HTTP_HX_REQUEST": "true"}
NOON_BERLIN = dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOON_BERLIN, tick=False):
        yield


def shown(html: str) -> dict[str, int]:
    return {
        "card": int(re.search(r'name="card" value="(\d+)"', html).group(1)),  # type: ignore[union-attr]
        "version": int(re.search(r'name="version" value="(\d+)"', html).group(1)),  # type: ignore[union-attr]
    }


def test_the_drill_shows_the_first_card_with_counters_and_grade_buttons(
    owner_client: Client,
) -> None:
    CardFactory(front="What is $\\sqrt{d_k}$ for?", back="Scaling.")
    CardFactory()
    html = owner_client.get(reverse("drill")).content.decode()
    assert 'data-count="new">2<' in html
    assert "<msqrt>" in html  # math rendered on the server
    assert 'class="answer" hidden' in html  # the back waits for Space
    for word, interval in [("Blank", "1d"), ("Good", "1d"), ("Easy", "1d")]:
        assert word in html
        assert interval in html
    assert "hx-post" in html
    assert "<!doctype html>" in html.lower()


def test_show_reveals_the_answer_without_javascript(owner_client: Client) -> None:
    CardFactory(back="The **answer**.")
    html = owner_client.get(reverse("drill") + "?show=1").content.decode()
    assert '<div class="answer" >' in html or '<div class="answer">' in html
    assert "<strong>answer</strong>" in html


def test_grading_with_htmx_returns_the_next_card_partial(owner_client: Client, owner: Any) -> None:
    first, second = CardFactory(), CardFactory()
    token = shown(owner_client.get(reverse("drill")).content.decode())
    assert token == {"card": first.pk, "version": 0}
    response = owner_client.post(reverse("grade"), {**token, "quality": 4, "shown_at": 0}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<!doctype" not in html.lower()  # a partial, not a page
    assert html.lstrip().startswith('<div id="drill"')
    assert shown(html)["card"] == second.pk
    assert 'data-count="new">1<' in html
    assert ReviewLog.objects.get().quality == 4


def test_grading_without_javascript_redirects_back_to_the_drill(owner_client: Client) -> None:
    CardFactory()
    token = shown(owner_client.get(reverse("drill")).content.decode())
    response = owner_client.post(reverse("grade"), {**token, "quality": 5})
    assert response.status_code == 302
    assert response["Location"] == reverse("drill")
    assert "Done for today" in owner_client.get(reverse("drill")).content.decode()


def test_a_double_submit_records_one_grade(owner_client: Client) -> None:
    CardFactory()
    CardFactory()
    token = shown(owner_client.get(reverse("drill")).content.decode())
    owner_client.post(reverse("grade"), {**token, "quality": 4}, **HTMX)
    owner_client.post(reverse("grade"), {**token, "quality": 1}, **HTMX)
    assert list(ReviewLog.objects.values_list("quality", flat=True)) == [4]


@pytest.mark.parametrize("bad", [{"quality": 9}, {"quality": "x"}, {"card": ""}, {"version": "v"}])
def test_a_malformed_grade_changes_nothing(owner_client: Client, bad: dict[str, Any]) -> None:
    CardFactory()
    token = shown(owner_client.get(reverse("drill")).content.decode())
    response = owner_client.post(reverse("grade"), {**token, "quality": 4, **bad})
    assert response.status_code == 302
    assert not ReviewLog.objects.exists()
    assert "not understood" in owner_client.get(reverse("drill")).content.decode()


def test_undo_brings_the_card_back_as_it_was(owner_client: Client, owner: Any) -> None:
    card = CardFactory()
    CardFactory()
    token = shown(owner_client.get(reverse("drill")).content.decode())
    owner_client.post(reverse("grade"), {**token, "quality": 2}, **HTMX)
    html = owner_client.post(reverse("undo"), **HTMX).content.decode()
    assert shown(html)["card"] == card.pk
    assert not ReviewLog.objects.exists()
    assert not ReviewState.objects.exists()


def test_undo_without_javascript_shows_the_card_again(owner_client: Client) -> None:
    card = CardFactory()
    CardFactory()
    token = shown(owner_client.get(reverse("drill")).content.decode())
    owner_client.post(reverse("grade"), {**token, "quality": 5})
    response = owner_client.post(reverse("undo"))
    assert response["Location"] == f"{reverse('drill')}?card={card.pk}"
    assert shown(owner_client.get(response["Location"]).content.decode())["card"] == card.pk


def test_suspend_takes_the_card_out_of_the_queue(owner_client: Client, owner: Any) -> None:
    card, other = CardFactory(), CardFactory()
    html = owner_client.post(
        reverse("card_suspension", args=[card.pk]),
        {"suspended": "1", "next": "drill"},
        **HTMX,
    ).content.decode()
    assert shown(html)["card"] == other.pk
    assert ReviewState.objects.get(user=owner, card=card).suspended


def test_history_lists_past_grades(owner_client: Client) -> None:
    card = CardFactory()
    token = shown(owner_client.get(reverse("drill")).content.decode())
    owner_client.post(reverse("grade"), {**token, "quality": 3}, **HTMX)
    html = owner_client.get(reverse("card_history", args=[card.pk]), **HTMX).content.decode()
    assert "History of this card" in html
    assert "0d → 1d" in html


def test_an_edit_from_the_drill_saves_and_returns_to_the_same_card(
    owner_client: Client, owner: Any
) -> None:
    card = CardFactory(owner=owner, key="")
    url = reverse("card_change", args=[card.pk]) + "?next=drill"
    page = owner_client.get(url).content.decode()
    assert 'name="next" value="drill"' in page
    response = owner_client.post(
        url,
        {
            "topic": card.topic_id,
            "front": "New $x^2$ front",
            "back": "New back",
            "tags": "A, b",
            "next": "drill",
        },
    )
    card.refresh_from_db()
    assert (card.front, card.tags) == ("New $x^2$ front", "A b")
    assert response["Location"] == f"{reverse('drill')}?card={card.pk}&show=1"
    assert "New back" in owner_client.get(response["Location"]).content.decode()


def test_an_edit_with_broken_math_is_refused_and_keeps_the_text(
    owner_client: Client, owner: Any
) -> None:
    card = CardFactory(owner=owner, key="", front="Old")
    response = owner_client.post(
        reverse("card_change", args=[card.pk]),
        {"topic": card.topic_id, "front": "Bad $\\frac{a$", "back": "b", "next": "drill"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "does not typeset" in html
    assert "Bad $\\frac{a$" in html
    card.refresh_from_db()
    assert card.front == "Old"


def test_a_built_in_card_is_copied_before_it_can_be_changed_and_the_edit_lands(
    owner_client: Client, owner: Any
) -> None:
    card = CardFactory()
    url = reverse("card_change", args=[card.pk]) + "?next=drill"
    assert "built-in deck" in owner_client.get(url).content.decode()
    response = owner_client.post(reverse("card_copy", args=[card.pk]), {"next": "drill"})
    copy = Card.objects.get(owner=owner)
    assert response["Location"] == reverse("card_change", args=[copy.pk]) + "?next=drill"
    assert copy.front == card.front
    assert ReviewState.objects.get(user=owner, card=card).suspended
    owner_client.post(
        response["Location"],
        {"topic": copy.topic_id, "front": "My own words", "back": copy.back, "next": "drill"},
    )
    copy.refresh_from_db()
    assert copy.front == "My own words"


def test_the_old_drill_editor_address_opens_the_one_editor(
    owner_client: Client, owner: Any
) -> None:
    card = CardFactory(owner=owner, key="")
    response = owner_client.get(reverse("card_edit", args=[card.pk]))
    assert response.status_code == 301
    assert response["Location"] == reverse("card_change", args=[card.pk])


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "card_history"),
        ("get", "card_change"),
        ("post", "card_change"),
        ("post", "card_suspension"),
    ],
)
def test_another_users_card_is_a_404(
    other_client: Client, owner: Any, method: str, name: str
) -> None:
    private = CardFactory(owner=owner, key="")
    response = getattr(other_client, method)(reverse(name, args=[private.pk]), {"copy": "1"})
    assert response.status_code == 404
    assert not ReviewState.objects.filter(card=private).exclude(user=owner).exists()


def test_another_users_card_cannot_be_graded(other_client: Client, owner: Any) -> None:
    private = CardFactory(owner=owner, key="")
    response = other_client.post(reverse("grade"), {"card": private.pk, "version": 0, "quality": 5})
    assert response.status_code == 404
    assert not ReviewLog.objects.exists()


@pytest.mark.parametrize("name", ["drill", "card_history"])
def test_a_stranger_is_sent_to_log_in(stranger_client: Client, name: str) -> None:
    card = CardFactory()
    url = reverse(name) if name == "drill" else reverse(name, args=[card.pk])
    assert stranger_client.get(url)["Location"].startswith(reverse("login"))


def test_every_post_checks_csrf_htmx_included(owner: Any) -> None:
    CardFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    html = client.get(reverse("drill")).content.decode()
    assert client.post(reverse("grade"), {**shown(html), "quality": 4}, **HTMX).status_code == 403
    token = client.cookies["csrftoken"].value
    response = client.post(
        reverse("grade"), {**shown(html), "quality": 4}, HTTP_X_CSRFTOKEN=token, **HTMX
    )
    assert response.status_code == 200
    assert 'hx-headers=\'{"x-csrftoken": "' in html


def big_deck(user: Any, cards: int = 5000) -> None:
    deck_with_history(user, now=NOON_BERLIN, cards=cards)


# What a request may cost, whatever the deck size: the user with the profile and the memory
# parameters, the state read with its card, its update with the log's insert (one statement
# on PostgreSQL; elsewhere two in a transaction, under pytest a savepoint and its release),
# the counts in one statement, the next card with its state (the session is not written:
# undo finds the grade in the log), the week's open drill items of the card's topic with
# the time spent on it (one statement; none here).
GET_QUERIES = 4
GRADE_DUE_QUERIES = 6 if connection.vendor == "postgresql" else 9
# A first answer also reads the card alone, counts the day's new cards, inserts the state in
# a savepoint of its own, and the next new card reads the plan week's topics, the waiting
# cards, then the unseen ones.
GRADE_NEW_QUERIES = 15


@pytest.mark.parametrize("cards", [200, 5000])
def test_a_review_costs_the_same_queries_at_any_deck_size(
    owner_client: Client, owner: Any, django_assert_max_num_queries: Any, cards: int
) -> None:
    big_deck(owner, cards=cards)
    with django_assert_max_num_queries(GET_QUERIES):
        html = owner_client.get(reverse("drill"), **HTMX).content.decode()
    for _ in range(3):
        with django_assert_max_num_queries(GRADE_DUE_QUERIES):
            response = owner_client.post(reverse("grade"), {**shown(html), "quality": 4}, **HTMX)
        assert response.status_code == 200
        html = response.content.decode()
    assert ReviewLog.objects.filter(local_date=dt.date(2026, 11, 23)).count() == 3


@pytest.mark.parametrize("cards", [200, 5000])
def test_a_first_answer_costs_the_same_queries_at_any_deck_size(
    owner_client: Client, owner: Any, django_assert_max_num_queries: Any, cards: int
) -> None:
    big_deck(owner, cards=cards)
    ReviewState.objects.filter(user=owner).delete()
    with django_assert_max_num_queries(GET_QUERIES + 1):
        html = owner_client.get(reverse("drill"), **HTMX).content.decode()
    for _ in range(3):
        with django_assert_max_num_queries(GRADE_NEW_QUERIES):
            response = owner_client.post(reverse("grade"), {**shown(html), "quality": 4}, **HTMX)
        assert response.status_code == 200
        html = response.content.decode()
    assert ReviewState.objects.filter(user=owner).count() == 3


def test_the_full_drill_page_runs_a_fixed_number_of_queries_with_5000_cards(
    owner_client: Client, owner: Any, django_assert_max_num_queries: Any
) -> None:
    big_deck(owner)
    with django_assert_max_num_queries(GET_QUERIES):
        owner_client.get(reverse("drill"))


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_grades_of_one_showing_record_one(owner: Any) -> None:
    # PostgreSQL: the row lock and the version check; SQLite: serialised writers and the
    # same version check.
    card = CardFactory()
    clients = []
    for _ in range(2):
        client = Client()
        client.force_login(owner)
        clients.append(client)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post(client: Client, quality: int) -> None:
        barrier.wait()
        statuses.append(
            client.post(
                reverse("grade"), {"card": card.pk, "version": 0, "quality": quality}, **HTMX
            ).status_code
        )

    threads = [
        threading.Thread(target=post, args=(c, q)) for c, q in zip(clients, (4, 2), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200]
    assert ReviewLog.objects.count() == 1
    assert ReviewState.objects.get().version == 1


def test_the_queue_query_uses_the_index(owner: Any, other_user: Any) -> None:
    """With many users and most cards not yet due, the due query reads the queue index."""
    topic = Topic.objects.create(slug="t", title="T")
    cards = Card.objects.bulk_create(
        Card(topic=topic, key=f"k{i}", front=f"Q{i}", back="A", position=i) for i in range(3000)
    )
    today = dt.date(2026, 11, 23)
    ReviewState.objects.bulk_create(
        ReviewState(
            user=user,
            card=card,
            repetitions=3,
            interval=30,
            easiness=2.5,
            due=today + dt.timedelta(days=(i % 300) - 10),
            introduced_on=today,
            last_reviewed_at=NOON_BERLIN,
        )
        for user in (owner, other_user)
        for i, card in enumerate(cards)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    due = ReviewState.objects.filter(user=owner).due_on(today)
    plan = most_overdue_first(due, today)[:1].explain()
    assert "reviewstate_queue" in plan, plan


def test_emptying_the_queue_marks_the_day_and_undo_unmarks_it(
    owner_client: Client, owner: Any
) -> None:
    from cards.models import StudyDay

    CardFactory()
    token = shown(owner_client.get(reverse("drill")).content.decode())
    html = owner_client.post(reverse("grade"), {**token, "quality": 5}, **HTMX).content.decode()
    assert "Done for today" in html
    assert list(StudyDay.objects.values_list("local_date", flat=True)) == [dt.date(2026, 11, 23)]
    owner_client.post(reverse("undo"), **HTMX)
    assert not StudyDay.objects.exists()


def _reviewed(owner: Any, card: Card, *, due: dt.date) -> None:
    ReviewState.objects.create(
        user=owner,
        card=card,
        repetitions=2,
        interval=6,
        due=due,
        introduced_on=dt.date(2026, 11, 1),
        last_reviewed_at=NOON_BERLIN - dt.timedelta(days=6),
    )


def test_a_card_not_due_cannot_be_shown_by_its_id(owner_client: Client, owner: Any) -> None:
    later = CardFactory(front="Due next week")
    queued = CardFactory(front="New today")
    _reviewed(owner, later, due=dt.date(2026, 11, 30))
    html = owner_client.get(f"{reverse('drill')}?card={later.pk}&show=1").content.decode()
    assert "Due next week" not in html
    assert shown(html)["card"] == queued.pk


def test_a_card_not_due_cannot_be_graded(owner_client: Client, owner: Any) -> None:
    later = CardFactory()
    _reviewed(owner, later, due=dt.date(2026, 11, 30))
    response = owner_client.post(
        reverse("grade"), {"card": later.pk, "version": 0, "quality": 5}, **HTMX
    )
    assert response.status_code == 400
    assert not ReviewLog.objects.exists()
    assert ReviewState.objects.get(card=later).due == dt.date(2026, 11, 30)


def test_a_due_card_and_the_undo_target_can_be_shown_by_id(
    owner_client: Client, owner: Any
) -> None:
    due = CardFactory(front="Due today")
    CardFactory(front="New one")
    _reviewed(owner, due, due=dt.date(2026, 11, 23))
    html = owner_client.get(f"{reverse('drill')}?card={due.pk}").content.decode()
    assert shown(html)["card"] == due.pk


def test_show_answer_after_an_undo_without_javascript_keeps_the_card(
    owner_client: Client,
) -> None:
    first = CardFactory()
    CardFactory()
    token = shown(owner_client.get(reverse("drill")).content.decode())
    owner_client.post(reverse("grade"), {**token, "quality": 5})
    location = owner_client.post(reverse("undo"))["Location"]
    html = owner_client.get(location).content.decode()
    reveal = re.search(r'href="([^"]+)"[^>]*data-reveal', html)
    assert reveal is not None
    href = reveal.group(1).replace("&amp;", "&")
    assert f"card={first.pk}" in href
    revealed = owner_client.get(href).content.decode()
    assert shown(revealed)["card"] == first.pk
    assert 'class="answer" hidden' not in revealed


def test_a_second_submit_of_a_showing_already_graded_shows_the_next_card(
    owner_client: Client,
) -> None:
    CardFactory()
    CardFactory()
    token = shown(owner_client.get(reverse("drill")).content.decode())
    first = owner_client.post(reverse("grade"), {**token, "quality": 5}, **HTMX)
    again = owner_client.post(reverse("grade"), {**token, "quality": 5}, **HTMX)
    assert (first.status_code, again.status_code) == (200, 200)
    assert ReviewLog.objects.count() == 1


def test_the_grade_buttons_say_what_will_really_happen(owner_client: Client) -> None:
    CardFactory()
    html = owner_client.get(reverse("drill")).content.decode()
    labels = re.findall(r'<span class="g-ivl">([^<]+)</span>', html)
    assert labels[:4] == ["again today, then 1d"] * 4
    assert labels[4:] == ["1d", "1d"]
    words = re.findall(r"<kbd>\d</kbd> (\w+)</span>", html)
    assert len(set(words)) == 6  # grades 1 and 2 have words of their own


def test_each_card_shows_its_own_grade_buttons_whatever_was_shown_before(
    owner_client: Client, owner: Any
) -> None:
    # The buttons are rendered once per grading mode and set of labels
    # (cards.views.drill.grade_buttons): no card or mode is shown another's.
    studied, unseen = CardFactory(), CardFactory()
    ReviewState.objects.create(
        user=owner,
        card=studied,
        repetitions=3,
        interval=10,
        easiness=2.5,
        due=dt.date(2026, 11, 23),
        introduced_on=dt.date(2026, 10, 1),
        last_reviewed_at=NOON_BERLIN - dt.timedelta(days=10),
    )

    def labels(html: str) -> list[str]:
        return re.findall(r'<span class="g-ivl">([^<]+)</span>', html)

    html = owner_client.get(reverse("drill")).content.decode()
    assert shown(html)["card"] == studied.pk
    studied_labels = labels(html)
    assert studied_labels[4] not in ("1d", "6d")  # a long interval grows on
    html = owner_client.post(reverse("grade"), {**shown(html), "quality": 5}, **HTMX).content
    assert shown(html.decode())["card"] == unseen.pk
    assert labels(html.decode()) == ["again today, then 1d"] * 4 + ["1d", "1d"]
    owner.profile.grading = "four"
    owner.profile.save(update_fields=["grading"])
    html = owner_client.get(reverse("drill")).content.decode()
    assert labels(html) == ["again today, then 1d"] * 2 + ["1d", "1d"]
    assert re.findall(r'data-grade="(\d)" data-key="(\d)"', html) == [
        ("1", "1"),
        ("3", "2"),
        ("4", "3"),
        ("5", "4"),
    ]


def test_the_four_button_mode_maps_onto_sm2s_qualities(owner_client: Client, owner: Any) -> None:
    owner.profile.grading = "four"
    owner.profile.save(update_fields=["grading"])
    CardFactory()
    html = owner_client.get(reverse("drill")).content.decode()
    buttons = re.findall(r'value="(\d)" class="grade q\d" data-grade="\d" data-key="(\d)"', html)
    assert buttons == [("1", "1"), ("3", "2"), ("4", "3"), ("5", "4")]
    for word in ("Again", "Hard", "Good", "Easy"):
        assert word in html
    assert "Blank" not in html
    token = shown(html)
    owner_client.post(reverse("grade"), {**token, "quality": 1}, **HTMX)
    assert ReviewLog.objects.get().quality == 1


def test_the_profile_chooses_the_four_button_mode(owner_client: Client, owner: Any) -> None:
    from prep.models import Profile

    html = owner_client.get(reverse("profile")).content.decode()
    assert "Again 1, Hard 3, Good 4, Easy 5" in html
    owner_client.post(
        reverse("profile"),
        {
            "time_zone": "Europe/Berlin",
            "reminder_time": "08:00",
            "new_cards_per_day": 10,
            "max_reviews_per_day": 150,
            "hours_per_week": "6",
            "grading": "four",
        },
    )
    assert Profile.objects.get(user=owner).grading == "four"


def test_undo_takes_back_a_suspension_and_says_so(owner_client: Client, owner: Any) -> None:
    card = CardFactory(front="Why does **batching** help?")
    CardFactory()
    owner_client.post(
        reverse("card_suspension", args=[card.pk]), {"suspended": "1", "next": "drill"}, **HTMX
    )
    assert ReviewState.objects.get(user=owner, card=card).suspended
    html = owner_client.post(reverse("undo"), **HTMX).content.decode()
    assert not ReviewState.objects.get(user=owner, card=card).suspended
    assert shown(html)["card"] == card.pk
    assert "Undone: the suspension of “Why does **batching** help?”" in html


def test_undo_names_the_grade_it_took_back(owner_client: Client) -> None:
    CardFactory(front="Front one")
    CardFactory()
    token = shown(owner_client.get(reverse("drill")).content.decode())
    owner_client.post(reverse("grade"), {**token, "quality": 4}, **HTMX)
    html = owner_client.post(reverse("undo"), **HTMX).content.decode()
    assert "Undone: your grade of “Front one”" in html
    assert not ReviewLog.objects.exists()


# --- Leeches suspended at the grade that makes them one ---------------------------------


def _almost_a_leech(user: Any) -> Card:
    """A learned card failed 7 times, due today."""
    card = CardFactory(front="Why does ZeRO-3 gather parameters?", back="To compute a layer.")
    ReviewState.objects.create(
        user=user,
        card=card,
        repetitions=3,
        interval=4,
        due=dt.date(2026, 11, 23),
        introduced_on=dt.date(2026, 10, 1),
        lapses=7,
        last_reviewed_at=NOON_BERLIN - dt.timedelta(days=4),
    )
    return card


def _fail(client: Client) -> Any:
    current = shown(client.get(reverse("drill")).content.decode())
    return client.post(reverse("grade"), {**current, "quality": 1}, follow=True)


def test_the_eighth_failure_suspends_the_card_when_the_profile_asks_and_says_so(
    owner_client: Client, owner: Any
) -> None:
    card = _almost_a_leech(owner)
    Profile.objects.filter(user=owner).update(suspend_leeches=True)
    html = _fail(owner_client).content.decode()
    assert "is a leech: failed 8 times, so it is suspended" in html
    state = ReviewState.objects.get(user=owner, card=card)
    assert (state.lapses, state.suspended, state.repeat_on) == (8, True, None)
    # It is not asked again today, and the leech list shows it, suspended.
    assert "Why does ZeRO-3" not in owner_client.get(reverse("drill")).content.decode()
    listed = owner_client.get(reverse("card_browser") + "?state=leech").content.decode()
    assert "Why does ZeRO-3" in listed
    assert "state-suspended" in listed
    assert "state-leech" in listed


def test_undo_takes_back_the_grade_and_the_leechs_suspension(
    owner_client: Client, owner: Any
) -> None:
    card = _almost_a_leech(owner)
    Profile.objects.filter(user=owner).update(suspend_leeches=True)
    _fail(owner_client)
    owner_client.post(reverse("undo"))
    state = ReviewState.objects.get(user=owner, card=card)
    assert (state.lapses, state.suspended) == (7, False)


def test_by_default_a_leech_is_flagged_not_suspended(owner_client: Client, owner: Any) -> None:
    card = _almost_a_leech(owner)
    html = _fail(owner_client).content.decode()
    assert "is a leech" not in html
    state = ReviewState.objects.get(user=owner, card=card)
    assert (state.lapses, state.suspended) == (8, False)
    assert state.repeat_on == dt.date(2026, 11, 23)


def test_only_the_grade_that_makes_the_leech_suspends_it(owner_client: Client, owner: Any) -> None:
    card = _almost_a_leech(owner)
    ReviewState.objects.filter(user=owner, card=card).update(lapses=9)
    Profile.objects.filter(user=owner).update(suspend_leeches=True)
    _fail(owner_client)
    # Already a leech the person chose to keep drilling: left as it is.
    assert not ReviewState.objects.get(user=owner, card=card).suspended


def test_the_profile_offers_the_choice_off_by_default(owner_client: Client, owner: Any) -> None:
    html = owner_client.get(reverse("profile")).content.decode()
    assert "Suspend leeches automatically" in html
    assert not Profile.objects.get(user=owner).suspend_leeches


def test_undo_takes_back_an_edit_made_from_the_drill_text_html_and_topic(
    owner_client: Client, owner: Any
) -> None:
    front, back = "Why $\\sqrt{d_k}$?", "Old **back**"
    card = CardFactory(
        owner=owner, key="", front=front, back=back, tags="a", **card_html(front, back)
    )
    old_html = (card.front_html, card.back_html)
    assert "<msqrt>" in old_html[0]
    elsewhere = Topic.objects.create(slug="elsewhere", title="Elsewhere", owner=owner, order=9)
    owner_client.post(
        reverse("card_change", args=[card.pk]),
        {
            "topic": elsewhere.pk,
            "front": "A rewrite",
            "back": "New back",
            "tags": "b",
            "next": "drill",
        },
    )
    card.refresh_from_db()
    assert (card.front, card.topic_id) == ("A rewrite", elsewhere.pk)

    html = owner_client.post(reverse("undo"), **HTMX).content.decode()

    card.refresh_from_db()
    assert (card.front, card.back, card.tags) == ("Why $\\sqrt{d_k}$?", "Old **back**", "a")
    assert (card.front_html, card.back_html) == old_html
    assert card.topic_id != elsewhere.pk
    assert "Undone: your edit of “A rewrite”" in html
    assert shown(html)["card"] == card.pk


def test_an_edit_from_the_drill_that_changes_nothing_leaves_nothing_to_undo(
    owner_client: Client, owner: Any
) -> None:
    card = CardFactory(owner=owner, key="", front="Same", back="Same back")
    owner_client.post(
        reverse("card_change", args=[card.pk]),
        {"topic": card.topic_id, "front": "Same", "back": "Same back", "next": "drill"},
    )
    html = owner_client.post(reverse("undo"), **HTMX).content.decode()
    assert "Nothing to undo today." in html


def test_bury_hides_the_card_until_tomorrow_and_keeps_its_schedule(
    owner_client: Client, owner: Any
) -> None:
    card, other = CardFactory(), CardFactory()
    html = owner_client.post(reverse("card_bury", args=[card.pk]), **HTMX).content.decode()
    assert shown(html)["card"] == other.pk
    assert "Card buried: it comes back tomorrow" in html
    state = ReviewState.objects.get(user=owner, card=card)
    assert state.last_reviewed_at is None
    # Not by its id either, today.
    assert (
        shown(owner_client.get(f"{reverse('drill')}?card={card.pk}").content.decode())["card"]
        == other.pk
    )
    with time_machine.travel(NOON_BERLIN + dt.timedelta(days=1), tick=False):
        html = owner_client.get(f"{reverse('drill')}?card={card.pk}").content.decode()
    assert shown(html)["card"] == card.pk


def test_a_buried_review_is_not_due_today_but_is_tomorrow(owner_client: Client, owner: Any) -> None:
    card = CardFactory()
    ReviewState.objects.create(
        user=owner,
        card=card,
        repetitions=2,
        interval=6,
        due=dt.date(2026, 11, 23),
        last_reviewed_at=NOON_BERLIN - dt.timedelta(days=6),
        introduced_on=dt.date(2026, 11, 1),
    )
    owner_client.post(reverse("card_bury", args=[card.pk]), **HTMX)
    html = owner_client.get(reverse("drill")).content.decode()
    assert 'data-count="due">0<' in html
    state = ReviewState.objects.get(user=owner, card=card)
    assert (state.due, state.interval) == (dt.date(2026, 11, 23), 6)
    with time_machine.travel(NOON_BERLIN + dt.timedelta(days=1), tick=False):
        html = owner_client.get(reverse("drill")).content.decode()
    assert 'data-count="due">1<' in html


def test_undo_takes_back_a_burial_and_says_so(owner_client: Client, owner: Any) -> None:
    card = CardFactory(front="What does a KV cache store?")
    CardFactory()
    owner_client.post(reverse("card_bury", args=[card.pk]), **HTMX)
    html = owner_client.post(reverse("undo"), **HTMX).content.decode()
    assert ReviewState.objects.get(user=owner, card=card).buried_on is None
    assert shown(html)["card"] == card.pk
    assert "Undone: burying “What does a KV cache store?”" in html


def test_a_stranger_cannot_bury_and_another_users_card_is_not_found(
    stranger_client: Client, other_client: Client, owner: Any
) -> None:
    card = CardFactory(owner=owner, key="")
    response = stranger_client.post(reverse("card_bury", args=[card.pk]))
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert other_client.post(reverse("card_bury", args=[card.pk])).status_code == 404
    assert not ReviewState.objects.exists()


def test_undo_takes_back_grades_and_a_suspension_newest_first(
    owner_client: Client, owner: Any
) -> None:
    first, suspended, last, _spare = CardFactory(), CardFactory(), CardFactory(), CardFactory()

    def grade(card: Card) -> None:
        version = ReviewState.objects.filter(user=owner, card=card).first()
        data = {"card": card.pk, "version": version.version if version else 0, "quality": 4}
        assert owner_client.post(reverse("grade"), data, **HTMX).status_code == 200

    grade(first)
    owner_client.post(
        reverse("card_suspension", args=[suspended.pk]), {"suspended": "1", "next": "drill"}, **HTMX
    )
    grade(last)
    owner_client.post(reverse("undo"), **HTMX)
    assert list(ReviewLog.objects.values_list("card_id", flat=True)) == [first.pk]
    assert ReviewState.objects.get(user=owner, card=suspended).suspended
    owner_client.post(reverse("undo"), **HTMX)
    assert not ReviewState.objects.get(user=owner, card=suspended).suspended
    assert ReviewLog.objects.count() == 1
    owner_client.post(reverse("undo"), **HTMX)
    assert ReviewLog.objects.count() == 0
