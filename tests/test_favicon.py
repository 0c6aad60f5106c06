from __future__ import annotations

from typing import Any

from django.test import Client


def test_favicon_ico_leads_to_the_icon_without_logging_in(db: Any, client: Client) -> None:
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[0][0].endswith("favicon.svg")
    assert b"<svg" in b"".join(response.streaming_content)  # type: ignore[attr-defined]
