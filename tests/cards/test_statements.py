"""The drill's statements built once and bound per call (cards.statements): each bound
statement is the one its queryset builds for those arguments, its rows are the instances
the ORM reads, and the row writes store what ``save`` stores."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, OuterRef, Subquery
from django.forms.models import model_to_dict

from cards.dayqueue import STATE_CARD_TOPIC
from cards.models import Card, ReviewLog, ReviewState
from cards.queue import (
    _next_due,
    _next_repeat,
    next_due_queryset,
    next_repeat_queryset,
)
from cards.services import (
    _locked_state,
    _state_with_card,
    locked_state_queryset,
    state_with_card_queryset,
)
from cards.statements import (
    ANY_DAY,
    ANY_ID,
    Statement,
    built,
    loader,
    row_insert,
    row_update,
    unplanned,
)
from tests.factories import CardFactory, TopicFactory

TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 11, 0, tzinfo=dt.UTC)
ARGUMENTS = ((7, TODAY, 3), (123_456, dt.date(2031, 2, 28), 99), (1, dt.date(2000, 1, 1), 1))


def fields(instance: Any) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_next_due_statement_binds_to_any_user_and_day(db: Any) -> None:
    texts = set()
    for user_id, today, _ in ARGUMENTS:
        sql, params = next_due_queryset(user_id=user_id, today=today).query.sql_with_params()
        bound = _next_due(connection.vendor).statement
        assert (bound.sql, bound.bind(user=user_id, day=today)) == (sql, list(params))
        texts.add(sql)
    assert len(texts) == 1


@pytest.mark.parametrize("excluding", [False, True])
def test_the_next_repeat_statement_binds_to_any_user_day_and_card(db: Any, excluding: bool) -> None:
    for user_id, today, card_id in ARGUMENTS:
        queryset = next_repeat_queryset(
            user_id=user_id, today=today, exclude_card_id=card_id if excluding else None
        )
        sql, params = queryset.query.sql_with_params()
        bound = _next_repeat(connection.vendor, excluding).statement
        values: dict[str, Any] = {"user": user_id, "day": today}
        if excluding:
            values["card"] = card_id
        assert (bound.sql, bound.bind(**values)) == (sql, list(params))


def test_the_grades_locking_read_binds_to_any_user_and_card(db: Any) -> None:
    with transaction.atomic():
        for user_id, _, card_id in ARGUMENTS:
            queryset = locked_state_queryset(user_id=user_id, card_id=card_id)
            sql, params = queryset.query.sql_with_params()
            bound = _locked_state(connection.vendor).statement
            assert (bound.sql, bound.bind(user=user_id, card=card_id)) == (sql, list(params))
    if connection.vendor == "postgresql":
        # Only the state row is locked, never the (perhaps shared) card read with it.
        assert 'FOR UPDATE OF "cards_reviewstate"' in bound.sql


def test_the_grades_first_read_binds_to_any_user_and_card(db: Any) -> None:
    for user_id, _, card_id in ARGUMENTS:
        queryset = state_with_card_queryset(user_id=user_id, card_id=card_id)[:1]
        sql, params = queryset.query.sql_with_params()
        bound = _state_with_card(connection.vendor).statement
        assert (bound.sql, bound.bind(user=user_id, card=card_id)) == (sql, list(params))
    assert "FOR UPDATE" not in bound.sql


def state(user: Any, card: Card, **values: Any) -> ReviewState:
    return ReviewState.objects.create(
        user=user,
        card=card,
        repetitions=3,
        interval=values.pop("interval", 10),
        easiness=2.5,
        introduced_on=TODAY - dt.timedelta(days=40),
        last_reviewed_at=NOW - dt.timedelta(days=10),
        stability=4.5,
        difficulty=5.25,
        memory_on=TODAY - dt.timedelta(days=10),
        **values,
    )


def test_a_loaded_state_is_the_orms_with_its_card_and_topic(
    owner: Any, other_user: Any, django_assert_num_queries: Any
) -> None:
    topic = TopicFactory()
    cards = CardFactory.create_batch(4, topic=topic, tags="a b")
    state(owner, cards[0], due=TODAY - dt.timedelta(days=1))
    state(owner, cards[1], due=TODAY - dt.timedelta(days=5), interval=3)  # the most overdue
    state(owner, cards[2], due=TODAY - dt.timedelta(days=2), repeat_on=TODAY)
    state(other_user, cards[1], due=TODAY - dt.timedelta(days=30), interval=1)
    read = [
        (_next_due(connection.vendor).first, {"user": owner.pk, "day": TODAY}),
        (_next_repeat(connection.vendor, False).first, {"user": owner.pk, "day": TODAY}),
    ]
    expected = [
        next_due_queryset(user_id=owner.pk, today=TODAY).first(),
        next_repeat_queryset(user_id=owner.pk, today=TODAY).first(),
    ]
    assert [e.card_id for e in expected] == [cards[1].pk, cards[2].pk]
    for (first, values), orm in zip(read, expected, strict=True):
        with django_assert_num_queries(1):
            loaded = first(**values)
            # The card and its topic come with the state, as select_related brings them.
            assert fields(loaded.card) == fields(orm.card)
            assert fields(loaded.card.topic) == fields(orm.card.topic)
        assert fields(loaded) == fields(orm)
        assert type(loaded.due) is dt.date
        assert loaded.last_reviewed_at == orm.last_reviewed_at
        assert not loaded._state.adding
    assert (
        _next_repeat(connection.vendor, True).first(user=owner.pk, day=TODAY, card=cards[2].pk)
        is None
    )


def test_the_grades_reads_find_only_a_card_the_user_can_see(owner: Any, other_user: Any) -> None:
    own = CardFactory(owner=owner, key="")
    theirs = CardFactory(owner=other_user, key="")
    state(owner, own, due=TODAY)
    # A state left on another person's card (it cannot be made in the app) is not read.
    state(owner, theirs, due=TODAY)
    with transaction.atomic():
        first = _locked_state(connection.vendor).first
        assert first(user=owner.pk, card=own.pk).card == own
        assert first(user=owner.pk, card=theirs.pk) is None
        assert first(user=other_user.pk, card=own.pk) is None
    unlocked = _state_with_card(connection.vendor).first
    assert unlocked(user=owner.pk, card=own.pk).card == own
    assert unlocked(user=owner.pk, card=theirs.pk) is None
    assert unlocked(user=other_user.pk, card=own.pk) is None


def test_a_chain_not_read_in_its_columns_order_is_refused(db: Any) -> None:
    with pytest.raises(ValueError, match="columns"):
        loader(
            ReviewState.objects.select_related("card"),
            chain=STATE_CARD_TOPIC,
            stand_ins={},
        )
    with pytest.raises(ValueError, match="argument"):
        loader(
            ReviewState.objects.select_related("card__topic"),
            chain=STATE_CARD_TOPIC,
            stand_ins={"user": -5},
        )


def test_an_annotation_is_read_onto_the_first_model_and_the_chain_after_it(
    owner: Any, other_user: Any
) -> None:
    topic = TopicFactory()
    card = CardFactory(topic=topic)
    state(owner, card, due=TODAY)
    for user in (owner, other_user):
        ReviewLog.objects.create(
            user=user,
            card=card,
            quality=4,
            reviewed_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
            local_date=TODAY,
            repetitions_before=0,
            interval_before=0,
            easiness_before=2.5,
            repetitions_after=1,
            interval_after=1,
            easiness_after=2.5,
            due_after=TODAY,
        )
    graded = ReviewLog.objects.filter(user=OuterRef("user"), card=OuterRef("card")).values("user")

    def states(user_id: int) -> Any:
        return (
            ReviewState.objects.filter(user_id=user_id)
            .select_related("card__topic")
            .annotate(graded=Subquery(graded.annotate(n=Count("id")).values("n")))
        )

    queryset = states(ANY_ID)
    read = loader(
        queryset, chain=STATE_CARD_TOPIC, stand_ins={"user": ANY_ID}, annotations=("graded",)
    ).first(user=owner.pk)
    orm = states(owner.pk).get()
    assert (read.graded, read.card, read.card.topic) == (1, card, topic)
    assert fields(read) == fields(orm)
    assert fields(read.card) == fields(orm.card)
    with pytest.raises(ValueError, match="annotations"):
        loader(queryset, chain=STATE_CARD_TOPIC, stand_ins={"user": ANY_ID})
    with pytest.raises(ValueError, match="annotations"):
        loader(queryset, chain=STATE_CARD_TOPIC, stand_ins={"user": ANY_ID}, annotations=("other",))


@pytest.mark.parametrize("before", [None, {"due": "2026-11-20", "suspended": False}])
def test_an_inserted_row_is_the_one_create_stores(owner: Any, before: Any) -> None:
    card = CardFactory()
    values: dict[str, Any] = {
        "user": owner,
        "card": card,
        "quality": 3,
        "reviewed_at": NOW,
        "local_date": TODAY,
        "answer_ms": None,
        "repetitions_before": 2,
        "interval_before": 6,
        "easiness_before": 2.36,
        "due_before": None,
        "repetitions_after": 3,
        "interval_after": 14,
        "easiness_after": 2.36,
        "due_after": TODAY + dt.timedelta(days=14),
        "state_before": before,
        "predicted_recall": 0.8125,
    }
    created = ReviewLog.objects.create(**values)
    inserted = ReviewLog(**values)
    row_insert(inserted)
    assert inserted.pk is not None
    assert inserted.pk != created.pk
    assert not inserted._state.adding
    stored = {log.pk: fields(log) for log in ReviewLog.objects.all()}
    assert {**stored[inserted.pk], "id": None} == {**stored[created.pk], "id": None}
    # JSON null and SQL NULL are not the same: both writes store SQL NULL for no state.
    assert ReviewLog.objects.filter(state_before__isnull=True).count() == (
        2 if before is None else 0
    )


def test_an_updated_row_changes_only_the_fields_named(owner: Any) -> None:
    card = CardFactory()
    row = state(owner, card, due=TODAY)
    before = model_to_dict(ReviewState.objects.get(pk=row.pk))
    row.due, row.interval, row.version = TODAY + dt.timedelta(days=3), 3, 7
    row.suspended = True  # not named: not written
    row_update(row, ["due", "interval", "version"])
    after = model_to_dict(ReviewState.objects.get(pk=row.pk))
    assert after == {**before, "due": TODAY + dt.timedelta(days=3), "interval": 3, "version": 7}
    ReviewState.objects.filter(pk=row.pk).delete()
    with pytest.raises(DatabaseError):
        row_update(row, ["due"])


def test_unplanned_values_are_read_through_a_sub_select_and_bound_as_before() -> None:
    statement = built(
        "SELECT 1 FROM t WHERE a = %s AND b LIKE '%%x' AND c = %s AND d = %s",
        (ANY_ID, 5, TODAY),
        {"user": ANY_ID, "day": TODAY},
    )
    opaque = unplanned(statement, ("user", "day"))
    assert opaque.sql == (
        "SELECT 1 FROM t WHERE a = (SELECT %s) AND b LIKE '%%x' AND c = %s AND d = (SELECT %s)"
    )
    assert opaque.bind(user=7, day=TODAY) == statement.bind(user=7, day=TODAY) == [7, 5, TODAY]
    with pytest.raises(ValueError, match="1 placeholders for 2 parameters"):
        unplanned(Statement(sql="a = %s", params=(1, 2), slots={"user": (0,)}), ("user",))


@pytest.mark.postgresql
def test_an_unplanned_statement_reads_what_the_plain_one_reads(owner: Any) -> None:
    card = CardFactory()
    ReviewState.objects.create(user=owner, card=card, due=TODAY, introduced_on=TODAY)
    rows = ReviewState.objects.filter(user_id=ANY_ID, due__lte=ANY_DAY).values_list("card_id")
    plain = built(*rows.query.sql_with_params(), {"user": ANY_ID, "day": ANY_DAY})
    opaque = unplanned(plain, ("user", "day"))
    with connection.cursor() as cursor:
        for statement in (plain, opaque):
            cursor.execute(statement.sql, statement.bind(user=owner.pk, day=TODAY))
            assert cursor.fetchall() == [(card.pk,)]
        # The sub-select's value can still be an index condition (this table is too small
        # for the planner to choose an index without being told).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + opaque.sql, opaque.bind(user=owner.pk, day=TODAY))
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "Seq Scan" not in plan
    assert re.search(r"Index Cond: \(\(user_id = \$\d\) AND \(due <= \$\d\)\)", plan)
