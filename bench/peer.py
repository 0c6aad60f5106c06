"""Cadence's grade against a peer's over HTTP: the same gunicorn, the same PostgreSQL, one run.

Not a test: it prints figures. The peer is vr1e/flashcard-study on GitHub, a Django app with
SM-2 on each card and a JSON API behind its study page. It is not part of Cadence and not
in this repository: check it out and give it a Python with what it runs on (Django,
psycopg, gunicorn, python-decouple, whitenoise), then, with PostgreSQL and Redis:

    PEER_DIR=/path/to/flashcard-study PEER_PYTHON=/path/to/its/venv/bin/python \\
    DATABASE_URL=postgres://root@127.0.0.1:5432/cadence REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/peer.py

The peer runs on its own settings with one change, made here in a settings module of the
benchmark's (its database: PostgreSQL, in a throw-away database beside Cadence's). Both
serve with gunicorn, 2 workers × 4 threads, DEBUG off; each side has 4 users with 5,000
cards of which 1,000 due.

What each grade does. Cadence's (POST /review/grade/, htmx): checks the card is in today's
queue, writes the state and the log, ticks the plan, and returns the next card's drill
region, counts and grade buttons included. The peer's (POST /api/cards/<id>/review/, JSON,
as its study page sends it): reads the card, saves it, reads the study session, writes the
review and the session, and returns the card's new schedule; its next card comes from the
list the page loaded when the session began. So Cadence's request does more.

Requests alternate between the two: 1 client, then 4 clients on 4 users each side in
interleaved 5 s runs. PEER_PORT (8198) and BENCH_PORT (8199) choose the ports.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import drill_http  # noqa: E402  (sets Django up)
from bench.drill_http import (  # noqa: E402
    Session,
    gunicorn,
    percentile,
    rate,
    rewind,
    serving,
    timed,
)

PEER_PORT = int(os.environ.get("PEER_PORT", 8198))
PEER_BASE = f"http://127.0.0.1:{PEER_PORT}"
USERS = 4
CARDS, DUE = 5000, drill_http.DUE
ROUNDS = int(os.environ.get("BENCH_REQUESTS", 150))
RUNS = int(os.environ.get("BENCH_FOUR_RUNS", 5))

# The peer's settings as it ships them, its database PostgreSQL's.
PEER_SETTINGS = """
import os
from flashcard_project.settings import *  # noqa: F403
DATABASES = {{"default": {{
    "ENGINE": "django.db.backends.postgresql",
    "NAME": {name!r}, "USER": {user!r}, "HOST": {host!r}, "PORT": {port!r},
}}}}
"""

# Run with the peer's Python and settings: its users, decks, cards (DUE of them due), one
# study session each, and a signed-in Django session each, printed as JSON.
PEER_BUILD = """
import datetime as dt, json
import django
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from flashcards.models import Card, Deck, StudySession
now = timezone.now()
out = []
for n in range({users}):
    user = User.objects.create_user(username=f"peer-{{n}}", password="bench-password-1234")
    deck = Deck.objects.create(user=user, created_by=user, title=f"deck {{n}}")
    cards = Card.objects.bulk_create(
        Card(
            deck=deck,
            front=f"Question {{i}}: why sqrt(d_k)?",
            back=f"Answer {{i}}",
            ease_factor=2.5,
            interval=10,
            repetitions=3,
            next_review=(
                now - dt.timedelta(hours=1) if i < {due} else now + dt.timedelta(days=20 + i % 60)
            ),
        )
        for i in range({cards})
    )
    study = StudySession.objects.create(user=user, deck=deck)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    out.append({{"session": session.session_key, "study": study.pk,
                 "due": [c.pk for c in cards[:{due}]]}})
print(json.dumps(out))
"""


class PeerClient:
    """One signed-in browser of the peer's study page: its cookies and the due cards."""

    def __init__(self, user: dict[str, object]) -> None:
        self.csrf = secrets.token_hex(16)  # a 32-character secret, as Django's cookie holds
        self.cookie = f"sessionid={user['session']}; csrftoken={self.csrf}"
        self.study = user["study"]
        self.due = list(user["due"])  # type: ignore[call-overload]
        self.next = 0

    def grade(self) -> None:
        card = self.due[self.next % len(self.due)]
        self.next += 1
        body = json.dumps({"quality": 4, "session_id": self.study, "time_taken": 5}).encode()
        request = urllib.request.Request(
            f"{PEER_BASE}/api/cards/{card}/review/",
            data=body,
            headers={
                "Content-Type": "application/json",
                "Cookie": self.cookie,
                "X-CSRFToken": self.csrf,
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            reply = json.loads(response.read())
        assert reply["success"], reply


def peer_server(peer_dir: Path, python: str, database: dict[str, str]) -> tuple[object, list]:
    """The peer's database migrated and filled, and its gunicorn started."""
    settings_dir = Path(tempfile.mkdtemp(prefix="cadence-bench-peer-"))
    (settings_dir / "peer_bench_settings.py").write_text(PEER_SETTINGS.format(**database))
    env = {
        **os.environ,
        "PYTHONPATH": f"{settings_dir}{os.pathsep}{peer_dir}",
        "DJANGO_SETTINGS_MODULE": "peer_bench_settings",
        "SECRET_KEY": "bench-secret-key-" + "y" * 40,
        "DEBUG": "False",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    for command in (["migrate"], ["collectstatic", "--noinput"]):
        subprocess.run([python, "manage.py", *command, "-v0"], cwd=peer_dir, env=env, check=True)
    script = PEER_BUILD.format(users=USERS, cards=CARDS, due=DUE)
    built = subprocess.run(
        [python, "-c", script], cwd=peer_dir, env=env, check=True, capture_output=True, text=True
    )
    users = json.loads(built.stdout.strip().splitlines()[-1])
    process = subprocess.Popen(
        [python, "-m", "gunicorn", "flashcard_project.wsgi", "-b", f"127.0.0.1:{PEER_PORT}"]
        + ["-w", "2", "-k", "gthread", "--threads", "4", "--log-level", "warning"],
        cwd=peer_dir,
        env=env,
    )
    return serving(process, PEER_BASE + "/login/", "the peer's gunicorn"), users


def one_client(cadence: Session, peer: PeerClient) -> None:
    ours, theirs = [], []
    for _ in range(ROUNDS):
        ours.append(timed(cadence.grade))
        theirs.append(timed(peer.grade))
    p50, peer_p50 = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
    print(f"1 client, {ROUNDS} rounds, alternating:")
    print(f"  Cadence grade → next card: p50 {p50:.1f} ms, p99 {percentile(ours, 0.99):.1f} ms")
    print(f"  peer grade: p50 {peer_p50:.1f} ms, p99 {percentile(theirs, 0.99):.1f} ms")
    print(f"  Cadence / peer: {p50 / peer_p50:.2f}×")


def four_clients(
    sessions: list[Session], peers: list[PeerClient], names: list[str], since: dt.datetime
) -> None:
    ours, theirs = [], []
    for _ in range(RUNS):
        rewind(names, since)
        for session in sessions:
            session.open_drill()
        ours.append(rate([s.grade for s in sessions], 5)[0])
        theirs.append(rate([p.grade for p in peers], 5)[0])
    cadence_rate, peer_rate = statistics.median(ours), statistics.median(theirs)
    print(f"4 clients on 4 users each side, {RUNS} interleaved 5 s runs each:")
    print(
        f"  Cadence {cadence_rate:.0f} req/s, peer {peer_rate:.0f} req/s: "
        f"Cadence {cadence_rate / peer_rate:.2f}× the peer's rate"
    )


def main() -> None:
    from django.db import connection
    from django.test.utils import setup_test_environment

    peer_dir = Path(os.environ["PEER_DIR"]).resolve()
    python = os.environ.get("PEER_PYTHON", "python3")
    setup_test_environment()
    if connection.vendor != "postgresql":
        raise SystemExit("run it on PostgreSQL (DATABASE_URL) with Redis (REDIS_URL)")
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict["TEST"]["NAME"] = "cadence_bench_peer_cadence"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    settings = connection.settings_dict
    peer_db = "cadence_bench_peer"
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {peer_db}")
        cursor.execute(f"CREATE DATABASE {peer_db}")
    database = {
        "name": peer_db,
        "user": settings["USER"],
        "host": settings["HOST"],
        "port": str(settings["PORT"]),
    }
    cadence = peer = None
    try:
        names = drill_http.build({CARDS: USERS})[CARDS]
        built_at = dt.datetime.now(dt.UTC)
        url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
        cadence = gunicorn(url, tempfile.mkdtemp(prefix="cadence-bench-peer-"))
        peer, users = peer_server(peer_dir, python, database)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # Cadence's tables, as the build leaves them
        subprocess.run(
            ["psql", "-h", database["host"], "-p", database["port"], "-U"]
            + [database["user"], "-d", peer_db, "-qc", "VACUUM ANALYZE"],
            check=True,
        )
        print(
            "gunicorn 2 workers × 4 threads each side, DEBUG off, PostgreSQL (Cadence with "
            f"Redis); {USERS} users a side, {CARDS} cards, {DUE} due"
        )
        sessions = [Session(name) for name in names]
        peers = [PeerClient(user) for user in users]
        sessions[0].open_drill()
        one_client(sessions[0], peers[0])
        four_clients(sessions, peers, names, built_at)
    finally:
        for server in (cadence, peer):
            if server is not None:
                server.send_signal(signal.SIGTERM)  # type: ignore[attr-defined]
                server.wait(timeout=30)  # type: ignore[attr-defined]
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        with connection._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {peer_db}")


if __name__ == "__main__":
    main()
