"""Every template of the project, read as source."""

from __future__ import annotations

import re
from pathlib import Path

from django.apps import apps
from django.conf import settings


def _templates() -> list[Path]:
    base = Path(settings.BASE_DIR)
    roots = [Path(d) for engine in settings.TEMPLATES for d in engine.get("DIRS", [])]
    roots += [
        Path(app.path) / "templates"
        for app in apps.get_app_configs()
        if Path(app.path).is_relative_to(base)
    ]
    return sorted(path for root in roots for path in root.rglob("*") if path.is_file())


def test_every_comment_closes_on_its_line() -> None:
    # {# ... #} is a one-line comment: one that runs on to the next line is shown as text.
    found = _templates()
    assert len(found) > 20
    unclosed = [
        f"{path.relative_to(settings.BASE_DIR)}:{number}"
        for path in found
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if len(re.findall(r"\{#", line)) != len(re.findall(r"#\}", line))
    ]
    assert unclosed == []
