"""How the app talks to PostgreSQL and Redis: statements prepared by the server unless a
pooler forbids it, and one Redis client object per connection pool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from config.cache import RedisCache

ROOT = Path(__file__).resolve().parent.parent


def _database_options(tmp_path: Path, **env: str) -> dict[str, object]:
    keep = {name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ}
    script = "import json; from django.conf import settings; " + (
        "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT,
        env={
            **keep,
            **env,
            "SECRET_KEY": "x" * 50,
            "CADENCE_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "config.settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_postgresql_statements_are_bound_and_prepared_by_the_server(tmp_path: Path) -> None:
    options = _database_options(tmp_path, DATABASE_URL="postgres://u@db:5432/cadence")
    assert options == {"server_side_binding": True, "prepare_threshold": 5}


def test_behind_a_pooler_preparing_is_turned_off(tmp_path: Path) -> None:
    options = _database_options(
        tmp_path, DATABASE_URL="postgres://u@db:5432/cadence", DATABASE_PREPARED="0"
    )
    assert "server_side_binding" not in options
    assert "prepare_threshold" not in options


def test_sqlite_is_left_as_it_is(tmp_path: Path) -> None:
    options = _database_options(tmp_path)
    assert "server_side_binding" not in options


def test_one_redis_client_serves_every_call_and_thread() -> None:
    # No server is needed: a client connects at its first command, not when built.
    backend = RedisCache("redis://127.0.0.1:1/0", {})
    client = backend._cache.get_client()
    seen: list[object] = []
    threads = [
        threading.Thread(target=lambda: seen.append(backend._cache.get_client(write=True)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(other is client for other in seen)
    assert backend._cache.get_client("some-key") is client


def test_each_server_has_its_own_client() -> None:
    backend = RedisCache("redis://127.0.0.1:1/0,redis://127.0.0.1:2/0", {})
    writer = backend._cache.get_client(write=True)
    reader = backend._cache.get_client(write=False)
    assert writer is not reader
    assert writer.connection_pool.connection_kwargs["port"] == 1
    assert reader.connection_pool.connection_kwargs["port"] == 2
