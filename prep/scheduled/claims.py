"""The claim: one conditional UPDATE that moves a profile's marker forward, and the raw SQL
around it (the batch reschedule, the delivery rows, the status compare-and-set).

Both sweeps use it: the reminders (``last_reminder_on``) and the nightly rollover
(``last_rollover_on``). See the package docstring for why it makes every sweep safe to run
twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection

from prep.models import EmailDelivery, Profile


@dataclass(frozen=True)
class Claimed:
    profile_id: int
    user_id: int
    local_date: dt.date
    due_at: dt.datetime
    time_zone: str
    reminder_time: dt.time
    email_reminders: bool
    weekly_summary: bool
    last_rollover_on: dt.date | None = None


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _as_time(value: Any) -> dt.time:
    return value if isinstance(value, dt.time) else dt.time.fromisoformat(value)


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def db_params(values: Sequence[Any]) -> list[Any]:
    """Parameters for raw SQL: aware datetimes as the backend stores them (on SQLite, a
    naive UTC text, as Django's own queries write them)."""
    adapt = connection.ops.adapt_datetimefield_value
    return [adapt(v) if isinstance(v, dt.datetime) else v for v in values]


def claim_sql(*, marker: str, next_on: str, next_at: str, batch_size: int) -> str:
    """UPDATE ... RETURNING that moves ``marker`` up to ``next_on`` on due profiles.

    On PostgreSQL the rows are locked FOR UPDATE SKIP LOCKED (two sweeps take disjoint
    batches); SQLite has one writer at a time, so the compare-and-set alone is enough.
    """
    table = Profile._meta.db_table
    lock = " FOR UPDATE SKIP LOCKED" if _is_postgres() else ""
    return (
        f"UPDATE {table} SET {marker} = {next_on} "
        f"WHERE id IN (SELECT id FROM {table} WHERE {next_at} <= %s "
        f"AND ({marker} IS NULL OR {marker} < {next_on}) "
        f"ORDER BY {next_at} LIMIT {int(batch_size)}{lock}) "
        f"RETURNING id, user_id, {next_on}, {next_at}, time_zone, reminder_time, "
        f"email_reminders, weekly_summary, last_rollover_on"
    )


def claim(sql: str, now: dt.datetime) -> list[Claimed]:
    with connection.cursor() as cursor:
        cursor.execute(sql, db_params([now]))
        rows = cursor.fetchall()
    return [
        Claimed(
            profile_id=row[0],
            user_id=row[1],
            local_date=_as_date(row[2]),
            due_at=_as_datetime(row[3]),
            time_zone=row[4],
            reminder_time=_as_time(row[5]),
            email_reminders=bool(row[6]),
            weekly_summary=bool(row[7]),
            last_rollover_on=_as_date(row[8]) if row[8] else None,
        )
        for row in rows
    ]


def profiles_reschedule(rows: Sequence[Sequence[Any]], *, columns: Sequence[str]) -> None:
    """Set ``columns`` on many profiles in one UPDATE ... FROM (VALUES ...).

    Each row is the profile id followed by one value per column. Django's bulk_update
    would build a CASE expression per column with a branch per row, which costs more to
    compile than the claim itself. The one way the sweeps move many profiles at once.
    """
    if not rows:
        return
    table = Profile._meta.db_table
    fields = [Profile._meta.get_field("id"), *(Profile._meta.get_field(c) for c in columns)]
    names = ", ".join(["id", *columns])
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    if _is_postgres():
        # One array a column: a handful of parameters however many rows (the client
        # binds each parameter in Python, and a VALUES list has one per value).
        casts = {"DateTimeField": "timestamptz", "DateField": "date", "BigAutoField": "bigint"}
        arrays = ", ".join(f"%s::{casts[f.get_internal_type()]}[]" for f in fields)
        sql = (
            f"UPDATE {table} SET {assignments} "
            f"FROM unnest({arrays}) AS v({names}) WHERE {table}.id = v.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])
        return
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    values = ", ".join([row] * len(rows))
    params = db_params([value for values_ in rows for value in values_])
    if connection.vendor == "sqlite":
        sql = (
            f"WITH v({names}) AS (VALUES {values}) "
            f"UPDATE {table} SET {assignments} FROM v WHERE {table}.id = v.id"
        )
    else:
        sql = (
            f"UPDATE {table} SET {assignments} "
            f"FROM (VALUES {values}) AS v({names}) WHERE {table}.id = v.id"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


DeliveryRow = tuple[int, str, dt.date, dt.datetime, str]


def deliveries_insert(rows: Sequence[DeliveryRow], now: dt.datetime) -> list[int]:
    """Insert (user, kind, date, due_at, status) rows; a row that exists stays as it is.
    The ids of the new rows that are queued."""
    if not rows:
        return []
    table = EmailDelivery._meta.db_table
    if _is_postgres():
        # As in profiles_reschedule: an array a column, not a parameter a value.
        sql = (
            f"INSERT INTO {table} (user_id, kind, local_date, due_at, status, claimed_at, "
            f"enqueued_at, attempts, error) SELECT v.user_id, v.kind, v.local_date, v.due_at, "
            f"v.status, %s, %s, 0, '' FROM unnest(%s::integer[], %s::varchar[], %s::date[], "
            f"%s::timestamptz[], %s::varchar[]) AS v(user_id, kind, local_date, due_at, status) "
            f"ON CONFLICT (user_id, kind, local_date) DO NOTHING RETURNING id, status"
        )
        user_ids, kinds, days, due_ats, statuses = (list(c) for c in zip(*rows, strict=True))
        arrays = [user_ids, [str(k) for k in kinds], days, due_ats, [str(s) for s in statuses]]
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, now, *arrays])
            return [row[0] for row in cursor.fetchall() if row[1] == EmailDelivery.Status.QUEUED]
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, 0, '')"] * len(rows))
    params: list[Any] = []
    for user_id, kind, local_date, due_at, status in rows:
        params += [user_id, kind, local_date, due_at, status, now, now]
    sql = (
        f"INSERT INTO {table} (user_id, kind, local_date, due_at, status, claimed_at, "
        f"enqueued_at, attempts, error) VALUES {values} "
        f"ON CONFLICT (user_id, kind, local_date) DO NOTHING RETURNING id, status"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, db_params(params))
        return [row[0] for row in cursor.fetchall() if row[1] == EmailDelivery.Status.QUEUED]


def deliveries_move(
    ids: Iterable[int],
    *,
    from_status: str,
    to_status: str,
    extra: str = "",
    params: Sequence[Any] = (),
) -> list[int]:
    """Conditionally move deliveries from one status to another; the ids that moved.

    The WHERE on the old status is the compare-and-set: of two senders racing for the
    same rows, only one sees them move.
    """
    ids = list(ids)
    if not ids:
        return []
    table = EmailDelivery._meta.db_table
    if _is_postgres():
        # Joined to the ids, the rows are found by primary key and their status checked
        # on each. Written ``WHERE id IN (...) AND status = ...``, PostgreSQL may AND in the
        # partial index of pending deliveries, which the statistics think small (a
        # morning's claim adds 100,000 queued rows within a minute) and then scan it whole
        # for every chunk: most of the database's time in the 100,000-user benchmark.
        sql = (
            f"UPDATE {table} AS d SET status = %s{extra} FROM unnest(%s::bigint[]) AS v(id) "
            f"WHERE d.id = v.id AND d.status = %s RETURNING d.id"
        )
        id_params: list[Any] = [ids]
    else:
        marks = ", ".join(["%s"] * len(ids))
        sql = (
            f"UPDATE {table} SET status = %s{extra} WHERE id IN ({marks}) AND status = %s "
            "RETURNING id"
        )
        id_params = ids
    with connection.cursor() as cursor:
        cursor.execute(sql, db_params([to_status, *params, *id_params, from_status]))
        return [row[0] for row in cursor.fetchall()]
