"""Mock-interview services: the clock, autosave with a version check, scoring and the
cards it brings forward, share links."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from cards.models import Card, ReviewState
from cards.services import cards_bring_forward
from prep.mock_selectors import phases_of, prompt_weights, surprise_prompt
from prep.mocks import (
    MAX_NOTE_CHARS,
    MockError,
    SessionFinished,
    StaleNote,
    mock_finish,
    mock_note_save,
    mock_pause,
    mock_phase_go,
    mock_score,
    mock_share_create,
    mock_share_revoke,
    mock_start,
    share_from_token,
    share_token,
    weighted_score,
)
from prep.models import MockMark, MockNote, MockPrompt, MockSession

BERLIN = __import__("zoneinfo").ZoneInfo("Europe/Berlin")
ALL_MET = {k: ("met", "") for k in ("proj", "scale", "mask", "cost", "heads", "shapes")}


@pytest.fixture
def session(owner: Any, prompt: MockPrompt, now: dt.datetime) -> MockSession:
    return mock_start(user=owner, prompt=prompt, now=now)


@pytest.fixture
def finished(session: MockSession, now: dt.datetime) -> MockSession:
    return mock_finish(session=session, now=now + dt.timedelta(minutes=12))


def test_a_session_copies_its_prompt_and_opens_one_note_per_phase(
    session: MockSession, prompt: MockPrompt
) -> None:
    assert session.rubric == prompt.rubric
    assert list(session.notes.values_list("phase", "version")) == [(0, 0), (1, 0), (2, 0)]


def test_the_clock_counts_per_phase_pauses_and_survives_a_reload(
    session: MockSession, now: dt.datetime
) -> None:
    later = now + dt.timedelta(minutes=7)
    session = mock_pause(session=session, paused=True, now=later)
    # Paused for an hour: the clock stands still.
    phases = phases_of(session=session, now=later + dt.timedelta(hours=1))
    assert phases[0].seconds == 7 * 60
    assert phases[0].over  # a 5-minute box
    session = mock_pause(session=session, paused=False, now=later + dt.timedelta(hours=1))
    session = mock_phase_go(session=session, phase=1, now=later + dt.timedelta(hours=1, minutes=1))
    assert MockNote.objects.get(session=session, phase=0).seconds == 8 * 60
    session = mock_finish(session=session, now=later + dt.timedelta(hours=1, minutes=4))
    assert MockNote.objects.get(session=session, phase=1).seconds == 3 * 60
    assert session.is_finished


def test_autosave_moves_the_version_on_and_refuses_a_stale_save(
    session: MockSession, now: dt.datetime
) -> None:
    first = mock_note_save(session=session, phase=0, text="Q = XW", version=0, now=now)
    assert (first.text, first.version) == ("Q = XW", 1)
    # A second tab still on version 0 does not overwrite it; it is told what is saved.
    with pytest.raises(StaleNote) as stale:
        mock_note_save(session=session, phase=0, text="K = XW", version=0, now=now)
    assert (stale.value.note.text, stale.value.note.version) == ("Q = XW", 1)
    # Keeping its own text is a deliberate save on the version it now knows.
    kept = mock_note_save(session=session, phase=0, text="K = XW", version=1, now=now)
    assert (kept.text, kept.version) == ("K = XW", 2)
    # A retry of a save that already landed is no conflict.
    assert mock_note_save(session=session, phase=0, text="K = XW", version=1, now=now).version == 2


def test_an_oversized_note_is_refused_and_changes_nothing(
    session: MockSession, now: dt.datetime
) -> None:
    mock_note_save(session=session, phase=0, text="kept", version=0, now=now)
    with pytest.raises(MockError, match="20,000 characters"):
        mock_note_save(
            session=session, phase=0, text="x" * (MAX_NOTE_CHARS + 1), version=1, now=now
        )
    note = MockNote.objects.get(session=session, phase=0)
    assert (note.text, note.version) == ("kept", 1)


def test_notes_of_a_finished_session_no_longer_change(
    finished: MockSession, now: dt.datetime
) -> None:
    with pytest.raises(SessionFinished):
        mock_note_save(session=finished, phase=0, text="late", version=0, now=now)
    with pytest.raises(MockError):
        mock_note_save(session=finished, phase=7, text="", version=0, now=now)


def test_the_score_is_the_weighted_share_met_with_partly_as_half() -> None:
    rubric = [{"key": "a", "weight": 3}, {"key": "b", "weight": 1}]
    assert weighted_score(rubric, {"a": "met", "b": "missed"}) == 0.75
    assert weighted_score(rubric, {"a": "partly", "b": "met"}) == 0.625
    assert weighted_score(rubric, {"a": "met"}) is None


def test_scoring_brings_the_missed_and_partly_met_points_cards_forward_to_tomorrow(
    finished: MockSession, owner: Any, now: dt.datetime
) -> None:
    proj, scale, mask, cost = (
        Card.objects.get(key=k) for k in ("c-proj", "c-scale", "c-mask", "c-cost")
    )
    today = now.astimezone(BERLIN).date()
    tomorrow = today + dt.timedelta(days=1)
    # Seen cards: one due in a month, one due today already (it must not move later).
    ReviewState.objects.create(
        user=owner,
        card=proj,
        due=today + dt.timedelta(days=30),
        introduced_on=today,
        repetitions=3,
        interval=30,
        last_reviewed_at=now,
    )
    ReviewState.objects.create(
        user=owner,
        card=scale,
        due=today,
        introduced_on=today,
        repetitions=1,
        interval=1,
        last_reviewed_at=now,
    )
    ReviewState.objects.create(
        user=owner,
        card=cost,
        due=today + dt.timedelta(days=9),
        introduced_on=today,
        repetitions=2,
        interval=6,
        last_reviewed_at=now,
    )
    marks = {
        **ALL_MET,
        "proj": ("missed", "forgot W^O"),
        "scale": ("partly", ""),
        "mask": ("missed", ""),
        "heads": ("partly", ""),  # no cards of its own: the prompt's cards
    }
    outcome = mock_score(session=finished, scorer=owner, marks=marks, now=now, zone=BERLIN)
    # proj 0 + scale 2·½ + mask 0 + cost 2 + heads 1·½ + shapes 1, of 10
    assert outcome.score == pytest.approx(0.45)
    assert outcome.due_by == tomorrow
    states = {s.card.key: s for s in ReviewState.objects.filter(user=owner).select_related("card")}
    assert states["c-proj"].due == tomorrow
    assert states["c-proj"].interval == 30  # the schedule itself is untouched
    assert states["c-scale"].due == today  # never later
    assert states["c-cost"].due == today + dt.timedelta(days=9)  # met: not moved
    # Unseen cards get a state row the way the nightly rollover introduces one.
    assert states["c-mask"].due == tomorrow
    assert states["c-mask"].last_reviewed_at is None
    assert states["c-general"].due == tomorrow
    finished.refresh_from_db()
    assert finished.score == pytest.approx(0.45)
    assert MockMark.objects.get(session=finished, point="proj").note == "forgot W^O"


def test_bring_forward_ignores_other_peoples_cards_and_suspended_ones(
    owner: Any, other_user: Any, prompt: MockPrompt, now: dt.datetime
) -> None:
    from tests.factories import CardFactory

    private = CardFactory(owner=other_user, key="")
    suspended = Card.objects.get(key="c-scale")
    ReviewState.objects.create(
        user=owner,
        card=suspended,
        due=dt.date(2027, 1, 1),
        introduced_on=dt.date(2026, 1, 1),
        suspended=True,
    )
    moved = cards_bring_forward(
        user=owner, card_ids=[private.pk, suspended.pk], due_by=dt.date(2026, 11, 24)
    )
    assert moved == []
    assert not ReviewState.objects.filter(user=owner, card=private).exists()
    assert ReviewState.objects.get(user=owner, card=suspended).due == dt.date(2027, 1, 1)


def test_a_mark_for_a_point_that_does_not_exist_changes_nothing(
    finished: MockSession, owner: Any, now: dt.datetime
) -> None:
    with pytest.raises(MockError, match="no point 'bogus'"):
        mock_score(
            session=finished,
            scorer=owner,
            marks={**ALL_MET, "bogus": ("met", "")},
            now=now,
            zone=BERLIN,
        )
    with pytest.raises(MockError, match="met, partly or missed"):
        mock_score(
            session=finished,
            scorer=owner,
            marks={**ALL_MET, "proj": ("great", "")},
            now=now,
            zone=BERLIN,
        )
    with pytest.raises(MockError, match="Mark every point"):
        mock_score(
            session=finished, scorer=owner, marks={"proj": ("met", "")}, now=now, zone=BERLIN
        )
    assert not MockMark.objects.exists()
    assert not ReviewState.objects.exists()
    finished.refresh_from_db()
    assert finished.score is None


def test_an_unfinished_session_cannot_be_scored(
    session: MockSession, owner: Any, now: dt.datetime
) -> None:
    with pytest.raises(MockError, match="Finish"):
        mock_score(session=session, scorer=owner, marks=ALL_MET, now=now, zone=BERLIN)


def test_finishing_a_session_started_for_a_plan_item_ticks_it(
    owner: Any, prompt: MockPrompt, track: Any, now: dt.datetime
) -> None:
    from prep.models import PlanItem, Profile
    from prep.services import plan_generate

    Profile.objects.filter(user=owner).update(track=track, interview_date=dt.date(2027, 1, 20))
    plan_generate(user=owner, today=dt.date(2026, 11, 23))
    item = PlanItem.objects.filter(week__plan__user=owner, kind="mock").first()
    assert item is not None
    session = mock_start(user=owner, prompt=prompt, now=now, plan_item_id=item.pk)
    mock_finish(session=session, now=now)
    item.refresh_from_db()
    assert item.done_at == now


def test_a_plan_item_of_someone_else_is_refused(
    other_user: Any, prompt: MockPrompt, track: Any, owner: Any, now: dt.datetime
) -> None:
    from prep.models import PlanItem, Profile
    from prep.services import plan_generate

    Profile.objects.filter(user=owner).update(track=track, interview_date=dt.date(2027, 1, 20))
    plan_generate(user=owner, today=dt.date(2026, 11, 23))
    item = PlanItem.objects.filter(week__plan__user=owner).first()
    assert item is not None
    with pytest.raises(MockError):
        mock_start(user=other_user, prompt=prompt, now=now, plan_item_id=item.pk)


def test_a_partners_score_is_kept_apart_and_moves_no_cards(
    finished: MockSession, owner: Any, other_user: Any, now: dt.datetime
) -> None:
    mock_share_create(session=finished, recipient=other_user, now=now)
    outcome = mock_score(
        session=finished,
        scorer=other_user,
        marks={**ALL_MET, "proj": ("missed", "")},
        now=now,
        zone=BERLIN,
    )
    assert outcome.score == pytest.approx(7 / 10)
    assert outcome.brought_forward == []
    finished.refresh_from_db()
    assert finished.score is None
    assert not ReviewState.objects.exists()


def test_a_share_link_opens_for_its_recipient_only_until_revoked(
    finished: MockSession, owner: Any, other_user: Any, now: dt.datetime
) -> None:
    from prep.services import user_create

    third = user_create(username="tess", email="tess@example.com", password="a-long-pass-42")
    share = mock_share_create(session=finished, recipient=other_user, now=now)
    token = share_token(share)
    assert share_from_token(token=token, user=other_user) == share
    # Another user, the owner, a tampered token: nothing.
    assert share_from_token(token=token, user=third) is None
    assert share_from_token(token=token, user=owner) is None
    assert (
        share_from_token(
            token=token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1], user=other_user
        )
        is None
    )
    assert share_from_token(token="not-a-token", user=other_user) is None
    mock_share_revoke(share=share, now=now)
    assert share_from_token(token=token, user=other_user) is None
    # Sharing again makes a new link; the revoked one stays dead.
    again = mock_share_create(session=finished, recipient=other_user, now=now)
    assert share_from_token(token=token, user=other_user) is None
    assert share_from_token(token=share_token(again), user=other_user) == again


def test_an_unfinished_session_cannot_be_shared_nor_with_oneself(
    session: MockSession, owner: Any, other_user: Any, now: dt.datetime
) -> None:
    with pytest.raises(MockError):
        mock_share_create(session=session, recipient=other_user, now=now)
    mock_finish(session=session, now=now)
    with pytest.raises(MockError):
        mock_share_create(session=session, recipient=owner, now=now)
    with pytest.raises(MockError):
        mock_share_create(session=session, recipient=None, now=now)


def test_surprise_me_favours_prompts_whose_points_were_missed(
    owner: Any, prompt: MockPrompt, now: dt.datetime
) -> None:
    strong = MockPrompt.objects.create(
        key="mk-strong",
        kind=prompt.kind,
        title="Strong",
        seed="002",
        source="Seed 002",
        body="b",
        phases=prompt.phases,
        outline="o",
        card_keys=[],
        rubric=[{**p, "key": f"s-{p['key']}"} for p in prompt.rubric],
    )
    for target, mark in ((prompt, "missed"), (strong, "met")):
        session = mock_start(user=owner, prompt=target, now=now)
        mock_finish(session=session, now=now)
        mock_score(
            session=session,
            scorer=owner,
            marks={p["key"]: (mark, "") for p in target.rubric},
            now=now,
            zone=BERLIN,
        )
    weights = dict(prompt_weights(user=owner, prompts=[prompt, strong]))
    assert weights[prompt] > 5 * weights[strong]
    rng = random.Random(7)
    picks = [surprise_prompt(user=owner, rng=rng) for _ in range(200)]
    assert picks.count(prompt) > 150
