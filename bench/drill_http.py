"""Grade → next card over HTTP under gunicorn, against a bare-view floor in the same run.

Not a test: it prints figures. Needs PostgreSQL and Redis, for example:

    DATABASE_URL=postgres://root@127.0.0.1:5432/cadence REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/drill_http.py

BENCH_PORT (8199) and BENCH_DATABASE (cadence_bench_http) choose the port and the throw-away
database; BENCH_REQUESTS (150) the rounds of the one-client run, BENCH_FOUR_RUNS (5) the
4-client runs of each kind.

It builds a throw-away database with users at 200, 5,000 and 50,000 cards (1,000 of them
due, or all of them below that), starts gunicorn (2 workers × 4 threads, DEBUG off) on the
project's settings with one extra URL, a bare "ok" view (bench/http_urls.py), and drives
real sessions: log in, GET the drill as htmx, POST grades with the CSRF token. Requests to
the drill and to the floor are interleaved, with 1 client and with 4 clients on 4 users.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

PORT = int(os.environ.get("BENCH_PORT", 8199))
BASE = f"http://127.0.0.1:{PORT}"
SIZES = (200, 5000, 50_000)
USERS_AT = {200: 1, 5000: 4, 50_000: 1}
DUE = 1000
PASSWORD = "bench-password-1234"
# Fewer rounds than the 200-card user has cards: each round grades one of them out of the day.
REQUESTS = int(os.environ.get("BENCH_REQUESTS", 150))
# The 4-client runs: this many of each, interleaved (their median is printed).
FOUR_RUNS = int(os.environ.get("BENCH_FOUR_RUNS", 5))
HTMX = {"HX-Request": "true"}


class Session:
    """One browser: a cookie jar, the CSRF token, the card on screen."""

    def __init__(self, username: str) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, "no CSRF token on the log-in page"
        self.post(
            "/accounts/login/",
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
        )
        self.csrf = next(str(c.value) for c in self.jar if c.name == "csrftoken")
        self.card: dict[str, str] = {}

    def request(
        self, path: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> str:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(BASE + path, data=body, headers=headers or {})
        with self.opener.open(request, timeout=30) as response:
            return str(response.read().decode())

    def get(self, path: str, headers: dict[str, str] | None = None) -> str:
        return self.request(path, headers=headers)

    def post(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> str:
        return self.request(path, data, headers)

    def show(self, html: str) -> None:
        card = re.search(r'name="card" value="(\d+)"', html)
        version = re.search(r'name="version" value="(\d+)"', html)
        title = re.search(r"<title>([^<]*)", html)
        assert card, f"the drill showed no card: {title.group(1) if title else html[:300]!r}"
        assert version
        self.card = {"card": card.group(1), "version": version.group(1), "quality": "4"}

    def open_drill(self) -> None:
        self.show(self.get("/review/", HTMX))

    def grade(self) -> None:
        headers = {**HTMX, "X-CSRFToken": self.csrf}
        self.show(self.post("/review/grade/", self.card, headers))

    def floor(self) -> None:
        self.get("/bench/floor/")


def build(users_at: dict[int, int] = USERS_AT) -> dict[int, list[str]]:
    """Users of each size (cards → how many users), each with DUE reviews due."""
    from cards.models import Card, ReviewLog, ReviewState, Topic
    from cards.services import cards_render_stale
    from prep.models import Profile
    from prep.services import user_create

    names: dict[int, list[str]] = {}
    today = dt.datetime.now(dt.UTC).date()
    for size, users in users_at.items():
        for n in range(users):
            name = f"u{size}-{n}"
            user = user_create(username=name, email=f"{name}@example.com", password=PASSWORD)
            Profile.objects.filter(user=user).update(
                new_cards_per_day=0, max_reviews_per_day=5000, onboarded_at=dt.datetime.now(dt.UTC)
            )
            topic = Topic.objects.create(owner=user, slug=name, title=name, order=1000)
            cards = Card.objects.bulk_create(
                (
                    Card(
                        owner=user,
                        topic=topic,
                        front=f"Question {i}: why $\\sqrt{{d_k}}$?",
                        back=f"Answer {i} with $$QK^\\top$$",
                        position=i,
                    )
                    for i in range(size)
                ),
                batch_size=5000,
            )
            ReviewState.objects.bulk_create(
                (
                    ReviewState(
                        user=user,
                        card=card,
                        repetitions=3,
                        interval=10,
                        easiness=2.5,
                        due=today if i < DUE else today + dt.timedelta(days=20 + i % 60),
                        introduced_on=today - dt.timedelta(days=60),
                        last_reviewed_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=10),
                    )
                    for i, card in enumerate(cards)
                ),
                batch_size=5000,
            )
            # A past grade of each card, over the 60 days before the last 10, as a person's
            # history is (a log of today's grades alone is no one's).
            now = dt.datetime.now(dt.UTC)
            ReviewLog.objects.bulk_create(
                (
                    ReviewLog(
                        user=user,
                        card=card,
                        quality=4,
                        reviewed_at=now - dt.timedelta(days=10 + i % 60),
                        local_date=today - dt.timedelta(days=10 + i % 60),
                        repetitions_before=2,
                        interval_before=6,
                        easiness_before=2.5,
                        repetitions_after=3,
                        interval_after=10,
                        easiness_after=2.5,
                        due_after=today,
                    )
                    for i, card in enumerate(cards)
                ),
                batch_size=5000,
            )
            names.setdefault(size, []).append(name)
    cards_render_stale()
    with connection.cursor() as cursor:
        # As autovacuum leaves a server's tables: the build rewrote every card (its HTML), and
        # dead rows and an empty visibility map would rule out index-only scans.
        cursor.execute("VACUUM ANALYZE")
    return names


def gunicorn(database: str, data_dir: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.http_settings",
        "DATABASE_URL": database,
        "DEBUG": "0",
        "SECRET_KEY": "bench-secret-key-" + "x" * 40,
        "SECURE_COOKIES": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PYTHONPATH": str(ROOT),
        "CADENCE_DATA_DIR": data_dir,
        # Each log-in's INFO lines would bury the figures.
        "LOG_LEVEL": "WARNING",
    }
    # Production serves hashed static files from the manifest collectstatic writes.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            "2",
            "-k",
            "gthread",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    return serving(process, BASE + "/accounts/login/", "gunicorn")


def serving(process: subprocess.Popen[bytes], url: str, what: str) -> subprocess.Popen[bytes]:
    """``process`` once ``url`` answers (any HTTP status), within 30 s."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return process
        except urllib.error.HTTPError:
            return process  # it answers
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"{what} did not start")


def rate(actions: list[Callable[[], None]], seconds: float) -> tuple[float, int]:
    """Requests per second with one client thread per action, each repeating its action
    for ``seconds``; and how many were made."""
    done = [0] * len(actions)
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        while time.monotonic() < stop:
            actions[index]()
            done[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / seconds, sum(done)


def timed(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * share), len(ordered) - 1)] * 1000


def one_client(names: dict[int, list[str]]) -> None:
    floor_session = Session(names[5000][0])
    by_size = {size: Session(names[size][0]) for size in SIZES}
    for session in by_size.values():
        session.open_drill()
    samples: dict[str, list[float]] = {"floor": [], **{f"grade@{s}": [] for s in SIZES}}
    gets: dict[int, list[float]] = {s: [] for s in SIZES}
    for _ in range(REQUESTS):
        samples["floor"].append(timed(floor_session.floor))
        for size, session in by_size.items():
            samples[f"grade@{size}"].append(timed(session.grade))
            gets[size].append(timed(session.open_drill))
    floor_p50 = statistics.median(samples["floor"]) * 1000
    print(f"1 client, {REQUESTS} rounds, interleaved:")
    floor_p99 = percentile(samples["floor"], 0.99)
    print(f"  floor (bare view): p50 {floor_p50:.1f} ms, p99 {floor_p99:.1f} ms")
    for size in SIZES:
        grade = samples[f"grade@{size}"]
        p50, p99 = statistics.median(grade) * 1000, percentile(grade, 0.99)
        get_p50 = statistics.median(gets[size]) * 1000
        print(
            f"  grade → next card, {size} cards: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
            f"{p50 / floor_p50:.1f}× the floor; drill GET p50 {get_p50:.1f} ms"
        )
    base = statistics.median(samples["grade@5000"])
    for size in (200, 50_000):
        ratio = statistics.median(samples[f"grade@{size}"]) / base
        print(f"  grade at {size} cards / at 5000: {ratio:.2f}×")


def rewind(names: list[str], since: dt.datetime) -> None:
    """The users' day as it began: the grades made since ``since`` taken out of the log,
    their cards due again as built, and the server's kept day queue and read caches of
    theirs dropped (a lost token costs a rebuild, as the first request of a day does), so
    a run never empties a queue however fast it grades."""
    from django.contrib.auth import get_user_model
    from django.utils.module_loading import import_string

    from cards.models import ReviewLog, ReviewState
    from cards.versions import _queue_key, _user_key
    from config import settings as served

    user_ids = list(
        get_user_model().objects.filter(username__in=names).values_list("pk", flat=True)
    )
    ReviewLog.objects.filter(user_id__in=user_ids, reviewed_at__gte=since).delete()
    ReviewState.objects.filter(user_id__in=user_ids, last_reviewed_at__gte=since).update(
        due=since.date(),
        repetitions=3,
        interval=10,
        easiness=2.5,
        last_reviewed_at=since - dt.timedelta(days=10),
        stability=None,
        difficulty=None,
        memory_on=None,
    )
    # The server's cache, as gunicorn's settings make it (the test settings' has a prefix
    # of its own).
    params = served.CACHES["default"]
    server = import_string(params["BACKEND"])(params["LOCATION"], params)
    server.delete_many([key(user_id) for user_id in user_ids for key in (_queue_key, _user_key)])


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(server: subprocess.Popen[bytes]) -> dict[str, float]:
    """CPU time used so far (user + system) by gunicorn's workers, PostgreSQL's processes,
    Redis and this process (the clients), read from /proc: where a run's time went."""
    used = {"gunicorn": 0.0, "postgres": 0.0, "redis": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process has gone
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        parent, seconds = int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK
        if parent == server.pid:
            used["gunicorn"] += seconds
        elif name.startswith("postgres"):
            used["postgres"] += seconds
        elif name.startswith("redis-server"):
            used["redis"] += seconds
    times = os.times()
    used["clients"] = times.user + times.system
    return used


def four_clients(
    names: dict[int, list[str]], since: dt.datetime, server: subprocess.Popen[bytes]
) -> None:
    spent: dict[str, list[dict[str, float]]] = {"floor": [], "grade": []}

    def run(actions: list[Callable[[], None]], seconds: float, kind: str) -> float:
        before = cpu_seconds(server)
        per_second, made = rate(actions, seconds)
        after = cpu_seconds(server)
        spent[kind].append({k: (after[k] - before[k]) * 1000 / made for k in after})
        return per_second

    sessions = [Session(name) for name in names[5000]]
    grade_rates, floor_rates = [], []
    for _ in range(FOUR_RUNS):
        floor_rates.append(run([s.floor for s in sessions], 5, "floor"))
        # Each run starts from the day as built: 1,000 reviews due a user.
        rewind(names[5000], since)
        for session in sessions:
            session.open_drill()
        grade_rates.append(run([s.grade for s in sessions], 5, "grade"))
    floor_rate, grade_rate = statistics.median(floor_rates), statistics.median(grade_rates)
    print(f"4 clients on 4 users (5000 cards), {FOUR_RUNS} interleaved 5 s runs each:")
    print(
        f"  floor {floor_rate:.0f} req/s, grade → next card {grade_rate:.0f} req/s, "
        f"{100 * grade_rate / floor_rate:.0f}% of the floor; the runs' shares "
        + ", ".join(f"{100 * g / f:.0f}%" for f, g in zip(floor_rates, grade_rates, strict=True))
    )
    for kind, runs in spent.items():
        parts = ", ".join(
            f"{name} {statistics.median(run[name] for run in runs):.2f}" for name in runs[0]
        )
        print(f"  CPU ms a request, {kind} (median of the runs): {parts}")


def main() -> None:
    setup_test_environment()
    if connection.vendor != "postgresql":
        raise SystemExit("run it on PostgreSQL (DATABASE_URL) with Redis (REDIS_URL)")
    old_name = connection.settings_dict["NAME"]
    # BENCH_DATABASE: a name of one's own when several people bench on one server.
    connection.settings_dict["TEST"]["NAME"] = os.environ.get(
        "BENCH_DATABASE", "cadence_bench_http"
    )
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    settings = connection.settings_dict
    database = (
        f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    )
    server = None
    try:
        names = build()
        built_at = dt.datetime.now(dt.UTC)
        server = gunicorn(database, tempfile.mkdtemp(prefix="cadence-bench-http-"))
        print(f"gunicorn 2 workers × 4 threads, DEBUG off, PostgreSQL, Redis; {DUE} due per user")
        one_client(names)
        four_clients(names, built_at, server)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
