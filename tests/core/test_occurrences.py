"""core.occurrences: the next reminder instant, DST-correct. Pure: no database."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.occurrences import next_occurrence, occurrence_on

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_a_plain_day_fires_at_the_local_time() -> None:
    assert occurrence_on(dt.date(2026, 6, 1), dt.time(8), ZoneInfo("Europe/Berlin")) == utc(
        2026, 6, 1, 6
    )


def test_a_time_in_the_spring_forward_gap_fires_when_the_gap_ends() -> None:
    # 02:30 does not exist in New York on 2026-03-08: clocks go 01:59:59 EST -> 03:00 EDT.
    instant = occurrence_on(dt.date(2026, 3, 8), dt.time(2, 30), NEW_YORK)
    assert instant == utc(2026, 3, 8, 7)
    assert instant is not None
    assert instant.astimezone(NEW_YORK).time() == dt.time(3, 0)


def test_a_time_in_the_fall_back_overlap_fires_once_at_its_first_occurrence() -> None:
    # 01:30 happens twice in New York on 2026-11-01 (EDT, then EST): the first one counts.
    assert occurrence_on(dt.date(2026, 11, 1), dt.time(1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)
    after_first = next_occurrence(zone=NEW_YORK, at=dt.time(1, 30), after=utc(2026, 11, 1, 5, 30))
    assert after_first.local_date == dt.date(2026, 11, 2)
    assert after_first.at == utc(2026, 11, 2, 6, 30)


def test_midnight_that_does_not_exist_rolls_over_at_one() -> None:
    # Cuba springs forward at midnight: 2026-03-08 begins at 01:00 CDT.
    havana = ZoneInfo("America/Havana")
    instant = occurrence_on(dt.date(2026, 3, 8), dt.time(0, 0), havana)
    assert instant is not None
    local = instant.astimezone(havana)
    assert (local.date(), local.time()) == (dt.date(2026, 3, 8), dt.time(1, 0))


def test_a_day_the_zone_skipped_has_no_occurrence_and_the_next_day_takes_it() -> None:
    apia = ZoneInfo("Pacific/Apia")  # Samoa went from 2011-12-29 to 2011-12-31
    assert occurrence_on(dt.date(2011, 12, 30), dt.time(8), apia) is None
    nxt = next_occurrence(zone=apia, at=dt.time(8), after=utc(2011, 12, 29, 20))
    assert nxt.local_date == dt.date(2011, 12, 31)


@pytest.mark.parametrize(
    ("zone", "after", "expected_at", "expected_date"),
    [
        # +14: already the next day there.
        ("Pacific/Kiritimati", utc(2026, 5, 10, 12), utc(2026, 5, 10, 18), dt.date(2026, 5, 11)),
        # -11: still the previous day there.
        ("Pacific/Pago_Pago", utc(2026, 5, 10, 12), utc(2026, 5, 10, 19), dt.date(2026, 5, 10)),
        # +05:30
        ("Asia/Kolkata", utc(2026, 5, 10, 1), utc(2026, 5, 10, 2, 30), dt.date(2026, 5, 10)),
    ],
)
def test_the_local_date_is_the_users_own(
    zone: str, after: dt.datetime, expected_at: dt.datetime, expected_date: dt.date
) -> None:
    nxt = next_occurrence(zone=ZoneInfo(zone), at=dt.time(8), after=after)
    assert (nxt.at, nxt.local_date) == (expected_at, expected_date)


def test_a_date_already_claimed_is_never_scheduled_again() -> None:
    # Reminded at 08:00 today; the time moves to 20:00 at noon: the next is tomorrow's.
    berlin = ZoneInfo("Europe/Berlin")
    nxt = next_occurrence(
        zone=berlin, at=dt.time(20), after=utc(2026, 6, 1, 10), not_before=dt.date(2026, 6, 2)
    )
    assert nxt.local_date == dt.date(2026, 6, 2)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_occurrence(zone=NEW_YORK, at=dt.time(8), after=dt.datetime(2026, 1, 1))  # noqa: DTZ001


ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Australia/Lord_Howe",
    "America/Havana",
    "Pacific/Chatham",
]


@given(
    zone=st.sampled_from(ZONES),
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    after=st.datetimes(
        # Hypothesis takes naive bounds and attaches the zone itself.
        min_value=dt.datetime(2025, 1, 1),  # noqa: DTZ001
        max_value=dt.datetime(2027, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
)
def test_successive_occurrences_are_one_per_local_date_and_in_order(
    zone: str, at: dt.time, after: dt.datetime
) -> None:
    tz = ZoneInfo(zone)
    first = next_occurrence(zone=tz, at=at, after=after)
    second = next_occurrence(
        zone=tz, at=at, after=first.at, not_before=first.local_date + dt.timedelta(days=1)
    )
    assert after < first.at < second.at
    assert first.at.astimezone(tz).date() == first.local_date
    assert second.local_date == first.local_date + dt.timedelta(days=1)
    # Never earlier than the chosen time, and only later when the time does not exist.
    local = first.at.astimezone(tz)
    assert local.time() >= at or local.date() > first.local_date
