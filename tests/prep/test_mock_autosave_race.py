"""Autosave from two tabs at once: real concurrent requests on the real database
(PostgreSQL in CI: DATABASE_URL). Last write wins per phase, with a version check."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.db import connection

from prep.mocks import StaleNote, mock_note_save, mock_start
from prep.models import MockNote, MockPrompt

pytestmark = pytest.mark.django_db(transaction=True)


def _race(session: Any, texts: list[str], version: int) -> list[str]:
    """Save every text at once on ``version``; returns 'ok' or 'stale' per text."""
    barrier = threading.Barrier(len(texts))
    results: list[str] = [""] * len(texts)

    def save(index: int) -> None:
        try:
            barrier.wait()
            mock_note_save(
                session=session,
                phase=0,
                text=texts[index],
                version=version,
                now=dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
            )
            results[index] = "ok"
        except StaleNote:
            results[index] = "stale"
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_tabs_saving_the_same_version_at_once_one_wins_whole_and_one_is_told(
    owner: Any, prompt: MockPrompt
) -> None:
    session = mock_start(user=owner, prompt=prompt, now=dt.datetime(2026, 11, 23, tzinfo=dt.UTC))
    texts = ["tab A: Q = XW_Q", "tab B: scores over sqrt(d_k)"]
    results = _race(session, texts, version=0)
    assert sorted(results) == ["ok", "stale"]
    note = MockNote.objects.get(session=session, phase=0)
    # Exactly the winner's text: nothing lost into a mix, nothing appended twice.
    assert note.text == texts[results.index("ok")]
    assert note.version == 1


def test_many_concurrent_saves_move_the_version_once_each_round_and_keep_one_text(
    owner: Any, prompt: MockPrompt
) -> None:
    session = mock_start(user=owner, prompt=prompt, now=dt.datetime(2026, 11, 23, tzinfo=dt.UTC))
    for version in range(4):
        texts = [f"round {version} writer {w}" for w in range(6)]
        results = _race(session, texts, version=version)
        assert results.count("ok") == 1, results
        note = MockNote.objects.get(session=session, phase=0)
        assert note.version == version + 1
        assert note.text == texts[results.index("ok")]
    # Other phases were never touched.
    assert list(
        MockNote.objects.filter(session=session, phase__gt=0).values_list("version", flat=True)
    ) == [0, 0]
