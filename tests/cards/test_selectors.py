from __future__ import annotations

import datetime as dt
from typing import Any

from cards.models import StudyDay
from cards.selectors import streaks

TODAY = dt.date(2026, 11, 23)


def streak_days(*, user: Any, today: dt.date) -> int:
    return streaks(user_ids=[user.pk], today=today).get(user.pk, 0)


def finish(user: Any, *days_ago: int) -> None:
    for ago in days_ago:
        StudyDay.objects.create(
            user=user,
            local_date=TODAY - dt.timedelta(days=ago),
            finished_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        )


def test_the_streak_counts_consecutive_finished_days_up_to_today(owner: Any) -> None:
    finish(owner, 0, 1, 2, 4)
    assert streak_days(user=owner, today=TODAY) == 3


def test_an_unfinished_today_does_not_break_the_streak(owner: Any) -> None:
    finish(owner, 1, 2)
    assert streak_days(user=owner, today=TODAY) == 2


def test_a_missed_day_ends_the_streak(owner: Any, other_user: Any) -> None:
    finish(owner, 2, 3)
    finish(other_user, 0, 1)
    assert streak_days(user=owner, today=TODAY) == 0


def test_streaks_for_many_users_come_from_one_query(
    owner: Any, other_user: Any, django_assert_num_queries: Any
) -> None:
    finish(owner, 0, 1, 2)
    finish(other_user, 1)
    with django_assert_num_queries(1):
        found = streaks(user_ids=[owner.pk, other_user.pk], today=TODAY)
    assert found == {owner.pk: 3, other_user.pk: 1}
