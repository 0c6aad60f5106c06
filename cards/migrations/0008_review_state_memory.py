from __future__ import annotations

from typing import Any

from django.db import migrations, models


def compute_memory(apps: Any, schema_editor: Any) -> None:
    # The historical models, with the pure model: the same replay as memory_rebuild.
    from cards.memory import Grade, Model

    review_log = apps.get_model("cards", "ReviewLog")
    review_state = apps.get_model("cards", "ReviewState")
    history: dict[tuple[int, int], list[Grade]] = {}
    rows = review_log.objects.order_by("user_id", "card_id", "reviewed_at", "id").values_list(
        "user_id", "card_id", "quality", "local_date"
    )
    for user_id, card_id, quality, on in rows.iterator(chunk_size=5000):
        history.setdefault((user_id, card_id), []).append(Grade(quality=quality, on=on))
    model = Model()
    changed = []
    for state in review_state.objects.only("id", "user_id", "card_id").iterator(chunk_size=2000):
        grades = history.get((state.user_id, state.card_id))
        if not grades:
            continue
        memory = model.replay(grades)
        state.stability, state.difficulty = memory.stability, memory.difficulty
        state.memory_on = grades[-1].on
        changed.append(state)
    review_state.objects.bulk_update(
        changed, ["stability", "difficulty", "memory_on"], batch_size=1000
    )


class Migration(migrations.Migration):
    dependencies = [
        ("cards", "0007_queue_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="reviewstate",
            name="difficulty",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="reviewstate",
            name="memory_on",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="reviewstate",
            name="stability",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.RunPython(compute_memory, migrations.RunPython.noop),
    ]
