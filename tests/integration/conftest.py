"""Real Celery workers and beats in their own processes, a real SMTP sink, the real broker.

The broker is the configured one: Redis when REDIS_URL is set (CI's second run), else the
filesystem broker in the test data folder. Workers use the solo pool so that killing the
process kills the task with it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app
from tests.integration.smtp_sink import SinkHandler, SmtpSink
from tests.workers import wait_for

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))

pytestmark = pytest.mark.worker

__all__ = ["wait_for"]


def purge_broker(broker_url: str | None = None) -> None:
    """Drop whatever an earlier test left on the queue."""
    # suppress: the queue may not exist yet.
    with app.connection_for_write(broker_url) as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge(app.conf.task_default_queue)


class Processes:
    """Starts celery worker/beat processes and stops (or kills) them."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.running: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(
        self, *args: str, name: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            [CELERY, "-A", "config", *args],
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg takes all of it
        )
        self.running.append((process, log))
        return process

    def worker(self, name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        process = self.start(
            "worker",
            "--pool=solo",
            f"--hostname={name}@%h",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
            name=name,
            env=env,
        )
        log = self.workdir / f"{name}.log"
        assert wait_for(lambda: b" ready." in log.read_bytes() or process.poll() is not None), (
            log.read_text()
        )
        assert process.poll() is None, log.read_text()
        return process

    def beat(self, name: str) -> subprocess.Popen[bytes]:
        return self.start(
            "beat",
            f"--schedule={self.workdir / name}-schedule",
            f"--pidfile={self.workdir / name}.pid",
            "--loglevel=INFO",
            name=name,
        )

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process, _ in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.running:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(SinkHandler()) as running:
        yield running


@pytest.fixture
def celery_env(transactional_db: Any, sink: SmtpSink) -> dict[str, str]:
    """The environment of the worker and beat processes."""
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "COV_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.integration.worker_settings",
        PYTHONPATH=str(ROOT),
        CADENCE_TEST_DB_NAME=str(connection.settings_dict["NAME"]),
        CADENCE_DATA_DIR=str(settings.DATA_DIR),
        SECRET_KEY=settings.SECRET_KEY,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(sink.port),
        EMAIL_USE_TLS="0",
        EMAIL_TIMEOUT="30",
        # Fast enough for a test: beat every second, a chunk of two, retries after ~1 s.
        CADENCE_SWEEP_SECONDS="1",
        CADENCE_REMINDER_CHUNK="2",
        CADENCE_MAIL_RETRY_BACKOFF="1",
        LOG_LEVEL="INFO",
    )
    return env


@pytest.fixture
def processes(celery_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    purge_broker()
    running = Processes(celery_env, tmp_path)
    try:
        yield running
    finally:
        running.stop_all()
        purge_broker()


def minutes_ago(n: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=n)
