"""Anki packages (.apkg, .colpkg), read without Anki (see the package docstring)."""

from __future__ import annotations

import html
import io
import json
import re
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard

from cards.deckfile import normalize_tags
from cards.imports.common import (
    COLLECTIONS,
    IMAGE_TYPES,
    RATIO_FLOOR,
    AnkiSchedule,
    ImportRejected,
    Limits,
    MediaUrl,
    ParsedCard,
    ParsedImport,
    Problem,
    Progress,
    check_card,
    check_count,
    format_size,
    media_name,
)
from cards.imports.html import TAG_RE, html_to_markdown, sounds


def _varint(data: bytes, index: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if index >= len(data):
            raise ValueError("truncated varint")
        byte = data[index]
        index += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def protobuf_fields(data: bytes) -> dict[int, list[Any]]:
    """The top-level fields of a protobuf message: enough for Anki's few small messages."""
    fields: dict[int, list[Any]] = {}
    index = 0
    while index < len(data):
        key, index = _varint(data, index)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, index = _varint(data, index)
        elif wire == 2:
            length, index = _varint(data, index)
            if index + length > len(data):
                raise ValueError("truncated field")
            value, index = data[index : index + length], index + length
        elif wire == 1:
            value, index = data[index : index + 8], index + 8
        elif wire == 5:
            value, index = data[index : index + 4], index + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        fields.setdefault(number, []).append(value)
    return fields


def _unsafe_member(name: str) -> bool:
    parts = re.split(r"[/\\]", name)
    return (
        not name
        or "\x00" in name
        or name.startswith(("/", "\\"))
        or bool(re.match(r"^[A-Za-z]:", name))
        or ".." in parts
    )


@dataclass
class _Package:
    zip: zipfile.ZipFile
    members: dict[str, zipfile.ZipInfo]
    version: int  # 1: collection.anki2, 2: .anki21, 3: .anki21b with zstd media
    budget: int  # bytes still allowed to be unpacked
    limits: Limits

    def read(self, name: str, *, zstd: bool = False) -> bytes:
        info = self.members[name]
        if info.file_size > self.budget:
            raise ImportRejected(self._too_big())
        try:
            with self.zip.open(info) as handle:
                data = handle.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise ImportRejected(
                f"The package is damaged: {name} cannot be read ({error})."
            ) from None
        if len(data) != info.file_size:
            raise ImportRejected(f"The package is damaged: {name} is not the size it claims.")
        self.budget -= len(data)
        return self._unzstd(data, name) if zstd else data

    def _unzstd(self, data: bytes, name: str) -> bytes:
        chunks: list[bytes] = []
        total = 0
        try:
            with zstandard.ZstdDecompressor().stream_reader(data) as reader:
                while chunk := reader.read(1 << 20):
                    total += len(chunk)
                    if total > self.budget:
                        raise ImportRejected(self._too_big())
                    if total > RATIO_FLOOR and total > self.limits.max_ratio * max(len(data), 1):
                        raise ImportRejected(_bomb(name, self.limits))
                    chunks.append(chunk)
        except zstandard.ZstdError as error:
            raise ImportRejected(
                f"The package is damaged: {name} cannot be unpacked ({error})."
            ) from None
        self.budget -= total
        return b"".join(chunks)

    def _too_big(self) -> str:
        return (
            "This package unpacks to more than "
            f"{format_size(self.limits.max_uncompressed_bytes)}, the limit for an import."
        )


def _bomb(name: str, limits: Limits) -> str:
    return (
        f"This package looks like a zip bomb: {name} is compressed more than "
        f"{limits.max_ratio}:1. It was not unpacked."
    )


def _open_package(data: bytes, limits: Limits) -> _Package:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ImportRejected(
            "This file is not an Anki package: an .apkg is a zip archive, and this is not one."
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ImportRejected(f"This zip archive is damaged: {error}.") from None
    for info in infos:
        if _unsafe_member(info.filename):
            raise ImportRejected(
                f"This package holds a file named {info.filename!r}, which points outside the "
                "package (path traversal). It was not unpacked."
            )
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed_bytes:
        raise ImportRejected(
            f"This package unpacks to {format_size(total)}; the limit for an import is "
            f"{format_size(limits.max_uncompressed_bytes)}."
        )
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise ImportRejected(_bomb(info.filename, limits))
    members = {info.filename: info for info in infos}
    if not any(name in members for name in COLLECTIONS):
        raise ImportRejected(
            "This zip archive holds no Anki collection (collection.anki21b, collection.anki21 "
            "or collection.anki2), so it is not an Anki package."
        )
    package = _Package(
        zip=archive, members=members, version=0, budget=limits.max_uncompressed_bytes, limits=limits
    )
    version = 0
    if "meta" in members:
        try:
            version = int(protobuf_fields(package.read("meta")).get(1, [0])[0])
        except (ValueError, TypeError):
            raise ImportRejected("The package is damaged: its meta file cannot be read.") from None
    if not version:
        version = 2 if "collection.anki21" in members else 1
    package.version = version
    return package


# Every statement Cadence runs on a package together gets this long inside SQLite; a real
# collection of the largest import allowed reads in well under a second.
QUERY_SECONDS = 5.0
# How many SQLite virtual-machine steps between looks at the clock.
PROGRESS_STEPS = 10_000
# Rows fetched from SQLite at a time while the clock runs.
FETCH_ROWS = 500


class _Reader:
    """A package's database, read with a budget on the time SQLite itself spends.

    The clock runs only while Cadence waits on SQLite (a statement's first step, each
    batch of rows), not while it converts the rows it was given: a large honest
    collection read on a busy machine is not cut off, while a schema that makes each row
    cost seconds still is, however its rows are fetched.
    """

    def __init__(self, connection: sqlite3.Connection, budget: float) -> None:
        self._connection = connection
        self._budget = budget
        self._spent = 0.0
        self._entered: float | None = None
        # A non-zero answer interrupts the running statement (sqlite3.OperationalError).
        connection.set_progress_handler(self._over, PROGRESS_STEPS)

    def _over(self) -> bool:
        entered = self._entered
        return entered is not None and self._spent + time.monotonic() - entered > self._budget

    def _timed(self, call: Callable[[], Any]) -> Any:
        self._entered = time.monotonic()
        try:
            return call()
        finally:
            self._spent += time.monotonic() - self._entered
            self._entered = None

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> _Rows:
        cursor = self._timed(lambda: self._connection.execute(sql, params))
        return _Rows(self, cursor)


class _Rows:
    def __init__(self, reader: _Reader, cursor: sqlite3.Cursor) -> None:
        self._reader = reader
        self._cursor = cursor

    def fetchone(self) -> Any:
        return self._reader._timed(self._cursor.fetchone)

    def fetchall(self) -> list[Any]:
        rows: list[Any] = self._reader._timed(self._cursor.fetchall)
        return rows

    def __iter__(self) -> Iterator[Any]:
        while batch := self._reader._timed(lambda: self._cursor.fetchmany(FETCH_ROWS)):
            yield from batch


def _distrust_schema(connection: _Reader, name: str) -> None:
    """Refuse a package whose schema would run code of its author's choosing on a read.

    A collection is data, but its schema is SQL: a generated column, a view or a trigger
    is evaluated by Cadence's own SELECTs (a generated column of
    ``length(replace(hex(zeroblob(1000000)), ...))`` costs seconds a row). Anki writes
    none of these, so a package that has one is refused, before any table is read.
    """
    objects = connection.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    for kind, object_name, sql in objects:
        if kind in {"view", "trigger"}:
            raise ImportRejected(
                f"The Anki collection in this package ({name}) holds a {kind} "
                f"({object_name}); Anki never writes one, so Cadence does not read it."
            )
        if kind == "table" and (sql or "").lstrip().upper().startswith("CREATE VIRTUAL"):
            raise ImportRejected(
                f"The Anki collection in this package ({name}) holds a virtual table "
                f"({object_name}); Cadence does not read it."
            )
    for kind, table, _sql in objects:
        if kind != "table":
            continue
        # table_xinfo's "hidden" is 2 or 3 for a generated column (1: a virtual table's).
        for column in connection.execute("SELECT * FROM pragma_table_xinfo(?)", (table,)):
            if column[6]:
                raise ImportRejected(
                    f"The Anki collection in this package ({name}) computes column "
                    f"{table}.{column[1]} (a generated column); Anki never writes one, so "
                    "Cadence does not read it."
                )


@contextmanager
def _collection(package: _Package) -> Iterator[_Reader]:
    if "collection.anki21b" in package.members:
        name, db = "collection.anki21b", package.read("collection.anki21b", zstd=True)
    elif "collection.anki21" in package.members:
        name, db = "collection.anki21", package.read("collection.anki21")
    else:
        name, db = "collection.anki2", package.read("collection.anki2")
    with tempfile.TemporaryDirectory(prefix="cadence-import-") as folder:
        path = Path(folder) / "collection.sqlite"
        path.write_bytes(db)
        del db
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        # Functions a schema names run only if they are harmless; nothing is written.
        connection.execute("PRAGMA trusted_schema=OFF")
        connection.execute("PRAGMA query_only=ON")
        # Anki's own collation; declared on some columns, so SQLite needs it by name.
        connection.create_collation("unicase", _unicase)
        reader = _Reader(connection, QUERY_SECONDS)
        try:
            try:
                _distrust_schema(reader, name)
                check = reader.execute("PRAGMA quick_check").fetchone()
                tables = {
                    row[0]
                    for row in reader.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
            except sqlite3.DatabaseError as error:
                _too_slow(error)
                raise ImportRejected(
                    f"The Anki collection in this package ({name}) is damaged: {error}."
                ) from None
            if not check or check[0] != "ok":
                raise ImportRejected(
                    f"The Anki collection in this package ({name}) is damaged: "
                    f"{check[0] if check else 'the integrity check failed'}."
                )
            if not {"notes", "cards", "col"} <= tables:
                raise ImportRejected(
                    f"The Anki collection in this package ({name}) is damaged: "
                    "it has no notes or cards table."
                )
            yield reader
        finally:
            connection.close()


def _too_slow(error: Exception) -> None:
    """Turn the progress handler's interruption into a refusal that says so."""
    if isinstance(error, sqlite3.OperationalError) and str(error) == "interrupted":
        raise ImportRejected(
            f"Reading the Anki collection in this package took longer than "
            f"{QUERY_SECONDS:g} seconds, so Cadence stopped. A real collection of this size "
            "reads much faster: export it again from Anki."
        ) from None


def _unicase(a: str, b: str) -> int:
    x, y = a.casefold(), b.casefold()
    return (x > y) - (x < y)


# Anki's stock note types by kind (original_stock_kind): Image Occlusion is 6.
IMAGE_OCCLUSION_KIND = 6
# The fields of the "Image Occlusion Enhanced" add-on's note type, which older decks use:
# its masks are SVG images over the picture, so without them the front shows the answer.
OCCLUSION_ADDON_FIELDS = {"Question Mask", "Answer Mask"}
# Anki's text to speech: a {{tts ...:Field}} in a template, or [anki:tts] in a field.
TTS_RE = re.compile(r"\{\{tts[ :]|\[anki:tts\b", re.I)


@dataclass(frozen=True)
class _Notetype:
    name: str
    cloze: bool
    fields: tuple[str, ...]
    templates: tuple[tuple[str, str], ...]  # (question, answer) by ord
    occlusion: bool = False


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _notetypes(connection: _Reader) -> dict[int, _Notetype]:
    tables = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    if "notetypes" in tables:
        fields: dict[int, list[str]] = {}
        for ntid, name in connection.execute("SELECT ntid, name FROM fields ORDER BY ntid, ord"):
            fields.setdefault(ntid, []).append(name)
        templates: dict[int, list[tuple[str, str]]] = {}
        for ntid, config in connection.execute(
            "SELECT ntid, config FROM templates ORDER BY ntid, ord"
        ):
            parsed = protobuf_fields(config or b"")
            templates.setdefault(ntid, []).append(
                (_text(parsed.get(1, [b""])[0]), _text(parsed.get(2, [b""])[0]))
            )
        result = {}
        for ntid, name, config in connection.execute("SELECT id, name, config FROM notetypes"):
            parsed_config = protobuf_fields(config or b"")
            kind = parsed_config.get(1, [0])[0]
            stock = parsed_config.get(9, [0])[0]
            result[ntid] = _Notetype(
                name=name,
                cloze=kind == 1,
                fields=tuple(fields.get(ntid, ())),
                templates=tuple(templates.get(ntid, ())),
                occlusion=stock == IMAGE_OCCLUSION_KIND,
            )
        return result
    (models,) = connection.execute("SELECT models FROM col").fetchone()
    result = {}
    for key, model in (json.loads(models or "{}") or {}).items():
        flds = sorted(model.get("flds", []), key=lambda f: f.get("ord", 0))
        tmpls = sorted(model.get("tmpls", []), key=lambda t: t.get("ord", 0))
        result[int(key)] = _Notetype(
            name=str(model.get("name", "")),
            cloze=model.get("type") == 1,
            fields=tuple(str(f.get("name", "")) for f in flds),
            templates=tuple((str(t.get("qfmt", "")), str(t.get("afmt", ""))) for t in tmpls),
            occlusion=model.get("originalStockKind") == IMAGE_OCCLUSION_KIND,
        )
    return result


def _decks(connection: _Reader) -> dict[int, str]:
    tables = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    if "decks" in tables:
        return {
            did: str(name).replace("\x1f", "::")
            for did, name in connection.execute("SELECT id, name FROM decks")
        }
    (decks,) = connection.execute("SELECT decks FROM col").fetchone()
    return {int(k): str(v.get("name", "")) for k, v in (json.loads(decks or "{}") or {}).items()}


def _media_index(package: _Package) -> dict[str, str]:
    """Media file name in the collection → zip member holding it."""
    if "media" not in package.members:
        return {}
    if package.version >= 3:
        try:
            entries = protobuf_fields(package.read("media", zstd=True)).get(1, [])
            index = {}
            for number, entry in enumerate(entries):
                parsed = protobuf_fields(entry)
                name = _text(parsed.get(1, [b""])[0])
                member = str(parsed[255][0]) if 255 in parsed else str(number)
                index[name] = member
            return index
        except (ValueError, KeyError, IndexError):
            raise ImportRejected("The package is damaged: its media list cannot be read.") from None
    try:
        listing = json.loads(package.read("media") or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ImportRejected("The package is damaged: its media list cannot be read.") from None
    return {str(name): str(member) for member, name in (listing or {}).items()}


SECTION_RE = re.compile(r"\{\{([#^])\s*([^}]+?)\s*\}\}(.*?)\{\{/\s*\2\s*\}\}", re.S)
FIELD_RE = re.compile(r"\{\{\s*([^}#^/!][^}]*?)\s*\}\}")
CLOZE_RE = re.compile(
    r"\{\{c(\d+)::((?:(?!\{\{c\d+::)(?!\}\}).)*?)(?:::((?:(?!\}\}).)*?))?\}\}", re.S
)
ANSWER_RULE_RE = re.compile(r"<hr\s+id\s*=\s*[\"']?answer[\"']?\s*/?>", re.I)
IMAGE_OCCLUSION_REASON = (
    "an Image Occlusion note: Cadence cannot draw its masks, and without them the card "
    "would show the answer"
)


def occlusion_fields(fields: Sequence[str]) -> bool:
    """Whether a note's fields are Anki's Image Occlusion masks (in a package or a text
    export, whatever its note type is called)."""
    return any(field.startswith("{{c1::image-occlusion:") for field in fields)


IMG_SRC_RE = re.compile(r"<img[^>]+src\s*=\s*[\"']?([^\"'>\s]+)", re.I)


def _has_text(value: str) -> bool:
    return bool(html.unescape(TAG_RE.sub("", value)).strip())


def cloze_side(text: str, number: int, *, front: bool) -> str:
    """One cloze deletion's side: the asked deletion hidden (front) or shown in bold (back)."""

    def replace(match: re.Match[str]) -> str:
        content, hint = match.group(2), match.group(3)
        if int(match.group(1)) != number:
            return content
        if front:
            return f"<b>[{hint or '...'}]</b>"
        return f"<b>{content}</b>"

    previous = None
    while previous != text:  # innermost deletions first, for nested clozes
        previous, text = text, CLOZE_RE.sub(replace, text)
    # Two deletions side by side ({{c1::a}}{{c1::b}}) read as one bold run, as in Anki;
    # as two, Markdown would show the asterisks between them.
    return text.replace("</b><b>", "")


def render_template(
    template: str, values: dict[str, str], *, cloze: int | None, front: bool
) -> str:
    """The subset of Anki's card templates that notes need: fields, sections, filters."""

    def section(match: re.Match[str]) -> str:
        kind, name, inner = match.groups()
        shown = _has_text(values.get(name, ""))
        if shown == (kind == "#"):
            return render_template(inner, values, cloze=cloze, front=front)
        return ""

    template = SECTION_RE.sub(section, template)

    def field(match: re.Match[str]) -> str:
        spec = match.group(1)
        *filters, name = [part.strip() for part in spec.split(":")]
        if name == "FrontSide" or any(f.startswith("tts") for f in filters) or "tts" in name:
            return ""
        value = values.get(name)
        if value is None:
            return ""
        for name_filter in reversed(filters):
            if name_filter == "cloze":
                value = cloze_side(value, cloze or 1, front=front)
            elif name_filter == "cloze-only":
                value = ""
            elif name_filter == "type":
                value = "" if front else value
            elif name_filter == "text":
                value = html.escape(html.unescape(TAG_RE.sub("", value)))
        return value

    return FIELD_RE.sub(field, template)


def estimate_apkg(data: bytes, limits: Limits) -> int:
    """Check the package as a whole (a bad one raises ImportRejected) and count its cards."""
    package = _open_package(data, limits)
    with _collection(package) as connection:
        try:
            (count,) = connection.execute("SELECT count() FROM cards").fetchone()
        except sqlite3.DatabaseError as error:
            _too_slow(error)
            raise ImportRejected(
                f"The Anki collection in this package is damaged: {error}."
            ) from None
    check_count(int(count), limits)
    return int(count)


@dataclass(frozen=True)
class _CardRow:
    id: int
    ord: int
    did: int
    schedule: AnkiSchedule | None


def _columns(connection: _Reader, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


SCHEDULE_COLUMNS = ("odid", "odue", "type", "queue", "due", "ivl", "factor", "reps", "lapses")


def _created(connection: _Reader) -> int:
    if "crt" not in _columns(connection, "col"):
        return 0
    row = connection.execute("SELECT crt FROM col").fetchone()
    return int(row[0] or 0) if row else 0


def _card_rows(connection: _Reader, created: int) -> dict[int, list[_CardRow]]:
    by_note: dict[int, list[_CardRow]] = {}
    have = _columns(connection, "cards")
    # A hand-made collection may lack the scheduling columns: its cards are new.
    columns = ", ".join(name if name in have else "0" for name in ("id", *SCHEDULE_COLUMNS))
    for row in connection.execute(f"SELECT {columns}, nid, ord, did FROM cards ORDER BY nid, ord"):
        cid, odid, odue, type_, queue, due, ivl, factor, reps, lapses, nid, ord_, did = row
        schedule = None
        if type_ or queue:  # a new card, neither suspended nor buried, has nothing to keep
            schedule = AnkiSchedule(
                type=int(type_),
                queue=int(queue),
                # In a filtered deck the card's own due day waits in odue.
                due=int(odue if odid and odue else due),
                interval=max(int(ivl), 0),
                factor=int(factor),
                reps=int(reps),
                lapses=int(lapses),
                created=created,
            )
        by_note.setdefault(nid, []).append(_CardRow(cid, ord_, odid or did, schedule))
    return by_note


def _history(connection: _Reader) -> dict[int, list[tuple[int, ...]]]:
    """Each card's graded reviews, oldest first (ease 0 rows are reschedules, not grades)."""
    tables = {
        row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    if "revlog" not in tables:
        return {}
    history: dict[int, list[tuple[int, ...]]] = {}
    for rid, cid, ease, ivl, last_ivl, factor, taken, type_ in connection.execute(
        "SELECT id, cid, ease, ivl, lastIvl, factor, time, type FROM revlog "
        "WHERE ease BETWEEN 1 AND 4 ORDER BY cid, id"
    ):
        history.setdefault(cid, []).append(
            (int(rid), int(ease), int(ivl), int(last_ivl), int(factor), int(taken), int(type_))
        )
    return history


def parse_apkg(
    data: bytes,
    *,
    limits: Limits,
    media_url: MediaUrl,
    progress: Progress | None = None,
) -> ParsedImport:
    """Notes to cards: one per Basic template, one per cloze deletion; the deck is the topic.

    Each card carries Anki's scheduling and review history when the package has them
    (an export "with scheduling"); what becomes of them is cards.import_jobs' choice.
    """
    package = _open_package(data, limits)
    result = ParsedImport()
    media_members = _media_index(package)
    stored: dict[str, str | None] = {}
    missing: list[str] = []

    def image_url(src: str) -> str | None:
        if src in stored:
            if stored[src] is None and src not in missing:
                missing.append(src)
            return stored[src]
        url = None
        member = media_members.get(src)
        if (
            member is not None
            and member in package.members
            and Path(src).suffix.lower() in IMAGE_TYPES
        ):
            content = package.read(member, zstd=package.version >= 3)
            name = media_name(src, content)
            result.media[name] = content
            url = media_url(name)
        else:
            missing.append(src)
        stored[src] = url
        return url

    with _collection(package) as connection:
        try:
            notetypes = _notetypes(connection)
            decks = _decks(connection)
            cards_by_note = _card_rows(connection, _created(connection))
            check_count(sum(len(c) for c in cards_by_note.values()), limits)
            history = _history(connection)
            notes = connection.execute("SELECT id, mid, tags, flds FROM notes ORDER BY id")
            for done, (nid, mid, tags, flds) in enumerate(notes, start=1):
                _note_cards(
                    result,
                    nid=nid,
                    notetype=notetypes.get(mid),
                    tags=str(tags or ""),
                    flds=str(flds),
                    note_cards=cards_by_note.get(nid, []),
                    decks=decks,
                    history=history,
                    image_url=image_url,
                    missing=missing,
                )
                if progress and done % 200 == 0:
                    progress(len(result.cards) + len(result.problems))
        except (sqlite3.DatabaseError, ValueError, TypeError, KeyError) as error:
            _too_slow(error)
            raise ImportRejected(
                f"The Anki collection in this package is damaged: {error}."
            ) from None
    return result


def _note_cards(
    result: ParsedImport,
    *,
    nid: int,
    notetype: _Notetype | None,
    tags: str,
    flds: str,
    note_cards: list[_CardRow],
    decks: dict[int, str],
    history: dict[int, list[tuple[int, ...]]],
    image_url: Callable[[str], str | None],
    missing: list[str],
) -> None:
    ref = f"note {nid}"
    if notetype is None:
        result.problems.append(Problem(ref, "its note type is missing from the collection"))
        return
    fields = flds.split("\x1f")
    if (
        notetype.occlusion
        or set(notetype.fields) >= OCCLUSION_ADDON_FIELDS
        or occlusion_fields(fields)
    ):
        result.problems.append(Problem(ref, IMAGE_OCCLUSION_REASON))
        return
    values = dict(zip(notetype.fields, fields, strict=False))
    note_tags = normalize_tags(tags)
    played: list[str] = []
    speaks = False
    for card in note_cards:
        card_ref = ref if len(note_cards) == 1 else f"{ref}, card {card.ord + 1}"
        topic = decks.get(card.did, "")[:120]
        if notetype.cloze:
            template = notetype.templates[0] if notetype.templates else ("", "")
            number: int | None = card.ord + 1
        elif card.ord < len(notetype.templates):
            template, number = notetype.templates[card.ord], None
        else:
            result.problems.append(Problem(card_ref, "its card template is missing"))
            continue
        # Anki's special fields, unless the note has real fields by those names.
        card_values = {
            "Tags": " ".join(note_tags),
            "Deck": topic,
            "Subdeck": topic.rsplit("::", 1)[-1],
            "Type": notetype.name,
            **values,
        }
        question = render_template(template[0], card_values, cloze=number, front=True)
        answer = render_template(template[1], card_values, cloze=number, front=False)
        # Before Anki's answer rule the answer side repeats the question ({{FrontSide}},
        # or the question's fields, as "type in the answer" templates write them).
        parts = ANSWER_RULE_RE.split(answer, maxsplit=1)
        answer = parts[-1]
        for name in sounds(question) + sounds(answer):
            if name not in played:
                played.append(name)
        speaks = speaks or bool(TTS_RE.search(template[0] + template[1] + question + answer))
        missing.clear()
        front = html_to_markdown(question, image_url=image_url)
        back = html_to_markdown(answer, image_url=image_url)
        reason = check_card(front, back)
        if reason:
            result.problems.append(Problem(card_ref, reason))
            continue
        for src in dict.fromkeys(missing):
            result.problems.append(
                Problem(
                    card_ref,
                    f"it shows the image {src}, which is not in the package: the card is "
                    "imported without it",
                    kept=True,
                )
            )
        result.cards.append(
            ParsedCard(
                front=front,
                back=back,
                ref=card_ref,
                topic=topic,
                tags=note_tags,
                schedule=card.schedule,
                history=tuple(history.get(card.id, ())),
            )
        )
    if played:
        result.problems.append(
            Problem(
                ref,
                f"it plays {', '.join(played)}: Cadence cards do not play sound, so the "
                "cards are imported without it",
                kept=True,
            )
        )
    if speaks:
        result.problems.append(
            Problem(
                ref,
                "it reads text aloud (Anki's text to speech): Cadence cards do not, so the "
                "cards are imported without it",
                kept=True,
            )
        )
