"""Reading import files (cards/imports/): pure, no database."""

from __future__ import annotations

import io
import sqlite3
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import zstandard

from cards.imports import (
    ImportRejected,
    Limits,
    detect_format,
    estimate,
    media_name,
    parse,
)
from cards.imports.anki import cloze_side, protobuf_fields, render_template
from cards.imports.delimited import parse_delimited
from cards.imports.html import html_to_markdown
from cards.imports.markdown import parse_markdown
from tests.cards.conftest import png, zip_bytes

LIMITS = Limits(
    max_bytes=1024 * 1024,
    max_uncompressed_bytes=8 * 1024 * 1024,
    max_ratio=100,
    max_cards=1000,
)


def media_url(name: str) -> str:
    return f"/cards/media/7/{name}"


def csv_cards(text: str | bytes, fmt: str = "csv") -> tuple[list[tuple[str, ...]], list[str]]:
    data = text.encode() if isinstance(text, str) else text
    result = parse_delimited(data, fmt=fmt, limits=LIMITS, default_topic="Default")
    cards = [(c.front, c.back, " ".join(c.tags), c.topic) for c in result.cards]
    return cards, [f"{p.ref}: {p.reason}" for p in result.problems]


# --- CSV and TSV ----------------------------------------------------------------------


def test_a_csv_with_a_header_reads_its_columns_by_name() -> None:
    cards, problems = csv_cards('topic,back,front,tags\nRLHF,Answer one,Question one,"a, B"\n')
    assert cards == [("Question one", "Answer one", "a B", "RLHF")]
    assert problems == []


def test_a_csv_without_a_header_is_front_back_tags_topic() -> None:
    cards, _ = csv_cards("Q1,A1\nQ2,A2,x y,Serving\n")
    assert cards == [("Q1", "A1", "", "Default"), ("Q2", "A2", "x y", "Serving")]


def test_a_utf8_bom_is_read_and_dropped() -> None:
    cards, _ = csv_cards("\ufefffront,back\nÜber $x$,Straße\n".encode())
    assert cards == [("Über $x$", "Straße", "", "Default")]


def test_tsv_splits_on_tabs_and_keeps_commas() -> None:
    cards, _ = csv_cards("front\tback\nWhat, exactly?\tThis, that\n", fmt="tsv")
    assert cards == [("What, exactly?", "This, that", "", "Default")]


def test_a_semicolon_csv_is_sniffed() -> None:
    cards, _ = csv_cards("front;back\nQ;A\n")
    assert cards == [("Q", "A", "", "Default")]


def test_anki_plain_text_export_headers_are_understood() -> None:
    text = "#separator:tab\n#html:true\n#tags column:3\n<b>Bold</b> \\(x^2\\)\tline<br>two\tml rl\n"
    cards, _ = csv_cards(text, fmt="tsv")
    assert cards == [("**Bold** $x^2$", "line\\\ntwo", "ml rl", "Default")]


def test_each_problem_row_is_reported_with_its_line_and_reason() -> None:
    text = (
        "front,back\n"
        "Good,Fine\n"
        ",No front here\n"
        '"Multi\nline front",Fine\n'
        "No back,\n"
        "Bad math $\\frac{a$,x\n"
    )
    cards, problems = csv_cards(text)
    assert [c[0] for c in cards] == ["Good", "Multi\nline front"]
    assert problems[0] == "line 3: no front"
    assert problems[1] == "line 6: no back"
    assert problems[2].startswith("line 7: math on the front does not typeset")


EXPENSIVE = "length(replace(hex(zeroblob(1000000)), '0', 'ab'))"


@pytest.mark.parametrize(
    ("extra_sql", "message"),
    [
        (f"ALTER TABLE notes ADD COLUMN x INTEGER AS ({EXPENSIVE});", "generated column"),
        (f"ALTER TABLE cards ADD COLUMN x INTEGER AS ({EXPENSIVE}) VIRTUAL;", "cards.x"),
        (f"CREATE VIEW v AS SELECT {EXPENSIVE} FROM notes;", r"holds a view \(v\)"),
        (
            "CREATE TRIGGER t AFTER INSERT ON notes BEGIN DELETE FROM cards; END;",
            r"holds a trigger \(t\)",
        ),
    ],
)
def test_a_package_whose_schema_runs_sql_is_refused_before_any_table_is_read(
    extra_sql: str, message: str
) -> None:
    data = zip_bytes({"collection.anki2": legacy_collection(2000, extra_sql), "media": b"{}"})
    started = time.perf_counter()
    with pytest.raises(ImportRejected, match=message):
        parse("apkg", data, limits=LIMITS, media_url=media_url)
    with pytest.raises(ImportRejected, match=message):
        estimate("apkg", data, limits=LIMITS)
    assert time.perf_counter() - started < 1


def test_package_queries_are_stopped_at_the_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cards.imports.anki.QUERY_SECONDS", 0.0)
    monkeypatch.setattr("cards.imports.anki.PROGRESS_STEPS", 1)
    data = zip_bytes({"collection.anki2": legacy_collection(50), "media": b"{}"})
    with pytest.raises(ImportRejected, match="took longer than 0 seconds"):
        parse("apkg", data, limits=LIMITS, media_url=media_url)


def test_the_budget_counts_sqlites_time_not_the_time_spent_converting_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A large honest collection converted on a busy machine is read whole."""
    from cards.imports import anki

    monkeypatch.setattr(anki, "QUERY_SECONDS", 0.2)
    monkeypatch.setattr(anki, "PROGRESS_STEPS", 1)
    convert = anki._note_cards

    def slow_convert(*args: Any, **kwargs: Any) -> None:
        time.sleep(0.002)  # 300 notes: 0.6 s of conversion, three times the budget
        convert(*args, **kwargs)

    monkeypatch.setattr(anki, "_note_cards", slow_convert)
    data = zip_bytes({"collection.anki2": legacy_collection(300), "media": b"{}"})
    assert len(parse("apkg", data, limits=LIMITS, media_url=media_url).cards) == 300


def test_a_package_is_read_with_its_schema_distrusted_and_nothing_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cards.imports import anki

    seen: dict[str, object] = {}
    original = anki._distrust_schema

    def spy(connection: sqlite3.Connection, name: str) -> None:
        seen["trusted"] = connection.execute("PRAGMA trusted_schema").fetchone()[0]
        with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|query_only"):
            connection.execute("DELETE FROM notes")
        original(connection, name)

    monkeypatch.setattr(anki, "_distrust_schema", spy)
    data = zip_bytes({"collection.anki2": legacy_collection(1), "media": b"{}"})
    assert parse("apkg", data, limits=LIMITS, media_url=media_url).cards
    assert seen == {"trusted": 0}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf  \n", "The file is empty."),
        ("front,back\nQ,caf\xe9\n".encode("latin-1"), "not UTF-8 text: byte 0xE9 on line 2"),
        ("front,back\n".encode("utf-16"), "UTF-16"),
        (b"front,back\n", "no rows of cards"),
    ],
)
def test_a_file_that_cannot_be_read_is_rejected_with_a_clear_message(
    data: bytes, message: str
) -> None:
    with pytest.raises(ImportRejected, match=message.replace("(", r"\(")):
        parse_delimited(data, fmt="csv", limits=LIMITS)


def test_more_rows_than_the_card_limit_are_refused() -> None:
    data = "".join(f"Q{i},A{i}\n" for i in range(LIMITS.max_cards + 1)).encode()
    with pytest.raises(ImportRejected, match="at most 1,000"):
        estimate("csv", data, LIMITS)


def test_a_file_over_the_size_limit_is_refused_and_says_which_limit() -> None:
    with pytest.raises(ImportRejected, match=r"1\.5 MB; the upload limit is 1 MB"):
        estimate("csv", b"x" * (LIMITS.max_bytes + LIMITS.max_bytes // 2), LIMITS)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("deck.apkg", "apkg"),
        ("Deck.CSV", "csv"),
        ("notes.txt", "tsv"),
        ("cards.tsv", "tsv"),
        ("topic.md", "markdown"),
    ],
)
def test_the_format_comes_from_the_file_name(name: str, fmt: str) -> None:
    assert detect_format(name, b"") == fmt


def test_an_unknown_file_type_is_refused() -> None:
    with pytest.raises(ImportRejected, match="cannot read .pdf files"):
        detect_format("notes.pdf", b"%PDF")


# --- Markdown deck files --------------------------------------------------------------

DECK = """---
title: My RLHF notes
---

## reward-model
tags: rlhf, reward

What does the reward model learn?

???

A scalar score from **pairwise** preferences: $\\sigma(r_w - r_l)$.

## Any heading text works here
kind: compare

PPO vs DPO?

???

DPO needs no reward model.

## no-separator

Front only.

## broken-math

Front $\\frac{a$

???

Back
"""


def test_a_markdown_deck_file_imports_one_card_per_section() -> None:
    result = parse_markdown(DECK.encode(), limits=LIMITS)
    assert [(c.front, c.topic, c.tags, c.kind) for c in result.cards] == [
        ("What does the reward model learn?", "My RLHF notes", ("rlhf", "reward"), "qa"),
        ("PPO vs DPO?", "My RLHF notes", (), "compare"),
    ]
    assert [(p.ref, p.reason) for p in result.problems] == [
        ("line 23", "card no-separator needs exactly one '???' line between front and back"),
        ("line 27", result.problems[1].reason),
    ]
    assert "does not typeset" in result.problems[1].reason


def test_a_markdown_file_without_front_matter_is_refused() -> None:
    with pytest.raises(ImportRejected, match="Line 1: the file must open with a '---'"):
        parse_markdown(b"## q\n\nfront\n\n???\n\nback\n", limits=LIMITS)


def test_a_markdown_file_without_a_title_is_refused() -> None:
    with pytest.raises(ImportRejected, match="needs 'title'"):
        parse_markdown(b"---\nslug: x\n---\n\n## q\n\nf\n\n???\n\nb\n", limits=LIMITS)


def alias_bomb(levels: int = 9) -> bytes:
    lines = ["---", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines += [f"title: *a{levels - 1}", "---", "", "## q", "", "f", "", "???", "", "b", ""]
    return "\n".join(lines).encode()


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded() -> None:
    data = alias_bomb()
    assert len(data) < 500
    started = time.perf_counter()
    with pytest.raises(ImportRejected, match=r"aliases \(\*name\) are not allowed"):
        parse_markdown(data, limits=LIMITS)
    assert time.perf_counter() - started < 0.5


def test_even_a_single_alias_is_refused() -> None:
    data = b"---\nname: &n My notes\ntitle: *n\n---\n\n## q\n\nf\n\n???\n\nb\n"
    with pytest.raises(ImportRejected, match="aliases"):
        parse_markdown(data, limits=LIMITS)


@pytest.mark.parametrize("key", ["title", "summary", "slug"])
def test_a_title_summary_or_slug_that_is_not_text_is_refused(key: str) -> None:
    title = "" if key == "title" else "title: Notes\n"
    data = f"---\n{title}{key}: [a, b]\n---\n\n## q\n\nf\n\n???\n\nb\n".encode()
    with pytest.raises(ImportRejected, match=f"'{key}' must be text, not a list"):
        parse_markdown(data, limits=LIMITS)


def test_the_built_in_deck_files_import_as_user_files() -> None:
    path = sorted(Path("cards/deck").glob("*.md"))[0]
    result = parse_markdown(path.read_bytes(), limits=LIMITS)
    assert result.cards
    assert not result.problems
    assert all(card.source for card in result.cards)


# --- HTML to Markdown -----------------------------------------------------------------


def test_anki_html_becomes_markdown_with_math_and_escaped_dollars() -> None:
    html = (
        "<div>What is <b>attention</b>?&nbsp;\\(a_i &lt; b\\)</div>"
        "<div>\\[x^2\\]</div><ul><li>one</li><li>two</li></ul>Costs $5"
        "<script>alert(1)</script><code>$PATH</code>"
    )
    assert html_to_markdown(html) == (
        "What is **attention**? $a_i < b$\n\n$$x^2$$\n\n- one\n- two\n\nCosts \\$5`$PATH`"
    )


def test_images_point_at_stored_media_and_unknown_ones_become_their_alt_text() -> None:
    known = {"cat.png": "/cards/media/7/abc-cat.png"}
    markdown = html_to_markdown(
        '<img src="cat.png"> <img src="https://tracker.example/x.gif" alt="remote">',
        image_url=known.get,
    )
    assert markdown == "![](/cards/media/7/abc-cat.png) remote"


def test_media_names_are_safe_and_content_addressed() -> None:
    name = media_name("../../etc/pass wd?.PNG", b"one")
    assert name.endswith("-pass-wd.png")
    assert "/" not in name
    assert ".." not in name
    assert media_name("a.png", b"one") != media_name("a.png", b"two")


def test_a_cloze_side_hides_the_asked_deletion_only() -> None:
    text = "{{c1::Adam}} keeps {{c2::two::how many}} moments"
    assert cloze_side(text, 1, front=True) == "<b>[...]</b> keeps two moments"
    assert cloze_side(text, 2, front=True) == "Adam keeps <b>[how many]</b> moments"
    assert cloze_side(text, 2, front=False) == "Adam keeps <b>two</b> moments"


def test_nested_clozes_resolve_inside_out() -> None:
    text = "{{c1::outer {{c2::inner}} text}}"
    assert cloze_side(text, 1, front=True) == "<b>[...]</b>"
    assert cloze_side(text, 2, front=True) == "outer <b>[...]</b> text"


def test_card_templates_render_fields_sections_and_filters() -> None:
    values = {"Front": "Q", "Back": "A", "Extra": "", "Hint": "h"}
    template = "{{Front}}{{#Extra}}[{{Extra}}]{{/Extra}}{{^Extra}}(none){{/Extra}}{{type:Back}}"
    assert render_template(template, values, cloze=None, front=True) == "Q(none)"
    assert render_template(
        "{{FrontSide}}<hr id=answer>{{text:Back}}", values, cloze=None, front=False
    ) == ("<hr id=answer>A")


# --- Anki packages: refused before anything is unpacked -------------------------------


def legacy_collection(rows: int = 1, extra_sql: str = "") -> bytes:
    """A tiny schema-11 collection, as the legacy .apkg layout holds it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.db"
        db = sqlite3.connect(path)
        models = (
            '{"1": {"name": "Basic", "type": 0, "flds": [{"name": "Front", "ord": 0}, '
            '{"name": "Back", "ord": 1}], "tmpls": [{"ord": 0, "qfmt": "{{Front}}", '
            '"afmt": "{{FrontSide}}<hr id=answer>{{Back}}"}]}}'
        )
        db.executescript(
            "CREATE TABLE col (models TEXT, decks TEXT);"
            "CREATE TABLE notes (id INTEGER, mid INTEGER, tags TEXT, flds TEXT);"
            "CREATE TABLE cards (nid INTEGER, ord INTEGER, did INTEGER, odid INTEGER);"
        )
        db.execute("INSERT INTO col VALUES (?, ?)", (models, '{"1": {"name": "Default"}}'))
        for i in range(rows):
            db.execute("INSERT INTO notes VALUES (?, 1, '', ?)", (i, f"Q{i}\x1fA{i}"))
            db.execute("INSERT INTO cards VALUES (?, 0, 1, 0)", (i,))
        db.executescript(extra_sql)
        db.commit()
        db.close()
        return path.read_bytes()


def test_a_hand_built_legacy_package_imports() -> None:
    data = zip_bytes({"collection.anki2": legacy_collection(2), "media": b"{}"})
    result = parse("apkg", data, limits=LIMITS, media_url=media_url)
    assert [(c.front, c.back, c.topic) for c in result.cards] == [
        ("Q0", "A0", "Default"),
        ("Q1", "A1", "Default"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"this is not a zip", "is a zip archive, and this is not one"),
        (zip_bytes({"notes.txt": b"hello"}), "holds no Anki collection"),
        (zip_bytes({"collection.anki2": b"garbage" * 100}), "is damaged"),
        (zip_bytes({"collection.anki21b": b"not zstd at all"}), "cannot be unpacked"),
        (zip_bytes({"../../evil.txt": b"x", "collection.anki2": b""}), "path traversal"),
        (zip_bytes({"/etc/passwd": b"x", "collection.anki2": b""}), "path traversal"),
        (zip_bytes({"C:\\windows\\x": b"x", "collection.anki2": b""}), "path traversal"),
        (zip_bytes({"media/../../x": b"x", "collection.anki2": b""}), "path traversal"),
    ],
)
def test_a_bad_package_is_refused_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(ImportRejected, match=message):
        estimate("apkg", data, LIMITS)


def test_a_truncated_zip_is_refused() -> None:
    data = zip_bytes({"collection.anki2": legacy_collection()})
    with pytest.raises(ImportRejected):
        estimate("apkg", data[: len(data) // 2], LIMITS)


def test_a_zip_bomb_is_refused_by_its_compression_ratio() -> None:
    bomb = zip_bytes({"collection.anki2": legacy_collection(), "0": b"\0" * (4 * 1024 * 1024)})
    assert len(bomb) < 100_000
    with pytest.raises(ImportRejected, match="zip bomb: 0 is compressed more than 100:1"):
        estimate("apkg", bomb, LIMITS)


def test_a_package_that_unpacks_past_the_total_limit_is_refused() -> None:
    random = io.BytesIO()
    import os

    members = {"collection.anki2": legacy_collection()}
    for i in range(3):
        members[str(i)] = os.urandom(3 * 1024 * 1024)
    del random
    data = zip_bytes(members, compression=zipfile.ZIP_STORED)
    limits = Limits(
        max_bytes=100 * 1024 * 1024,
        max_uncompressed_bytes=8 * 1024 * 1024,
        max_ratio=100,
        max_cards=1000,
    )
    with pytest.raises(ImportRejected, match="unpacks to 9 MB; the limit for an import is 8 MB"):
        estimate("apkg", data, limits)


def test_a_zstd_bomb_inside_the_package_is_refused() -> None:
    compressed = zstandard.ZstdCompressor().compress(b"\0" * (16 * 1024 * 1024))
    data = zip_bytes({"collection.anki21b": compressed, "meta": b"\x08\x03"})
    with pytest.raises(ImportRejected, match="more than 8 MB|zip bomb"):
        estimate("apkg", data, LIMITS)


def test_a_package_image_is_stored_under_a_safe_name() -> None:
    image = png()
    data = zip_bytes(
        {
            "collection.anki2": legacy_collection(0),
            "media": b'{"0": "../cat.png"}',
            "0": image,
        }
    )
    # No note shows the image: nothing is kept.
    assert parse("apkg", data, limits=LIMITS, media_url=media_url).media == {}


def test_protobuf_fields_reads_varints_and_strings() -> None:
    assert protobuf_fields(b"\x08\x03") == {1: [3]}
    assert protobuf_fields(b"\x0a\x03cat\x10\x96\x01") == {1: [b"cat"], 2: [150]}
    with pytest.raises(ValueError, match="truncated"):
        protobuf_fields(b"\x0a\x09cat")


PLAIN_SAMPLES = [
    "What does layer 7 compute?",
    "  two   spaces\u00a0and a no-break space ",
    "state-of-the-art, 3.5 % (roughly); \"quoted\" and 'single'",
    "-5 degrees",
    "1. first",
    "+ pro",
    "= heading?",
    "a = b + c / d @ e",
    "Über Straße 注意力 ÅÉÎ",
    "it's 50/50: yes? no!",
    "x > y",
    "tab\there",
    "line\nbreak",
    "trailing ?",
    "emoji 🙂 ok",
    "a \u00a0b",
]


def _random_fields(count: int) -> list[str]:
    import random

    pieces = [
        "word", "Über", "注意力", " ", "  ", "\t", "<b>", "</b>", "<i>", "</i>", "<strong>",
        "</strong>", "<em>", "</em>", "<br>", "<br/>", "<br />", "&nbsp;", "[...]", "x-y",
        "1. ", "- ", "+ ", "# ", "|", "!", "{", "}", "~", "^", "(", ")", "?", ".", "<u>",
        "</u>", "<div>", "</div>", "a_b", "$", "*",
    ]  # fmt: skip
    generator = random.Random(15)
    return ["".join(generator.choices(pieces, k=generator.randint(1, 12))) for _ in range(count)]


def test_the_shortcuts_give_what_the_full_conversion_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cards.imports import html as anki_html
    from cards.rendering import sanitize

    fields = PLAIN_SAMPLES + _random_fields(3000)
    shortcut = [
        f
        for f in fields
        if anki_html.is_plain(f) or anki_html.inline_to_markdown(sanitize(f)) is not None
    ]
    assert len(shortcut) > 600  # the comparison covers both shortcuts, not only the rest
    fast = [anki_html.html_to_markdown(f) for f in fields]
    monkeypatch.setattr(anki_html, "is_plain", lambda markup: False)
    monkeypatch.setattr(anki_html, "inline_to_markdown", lambda markup: None)
    slow = [anki_html.html_to_markdown(f) for f in fields]
    assert [(f, a, b) for f, a, b in zip(fields, fast, slow, strict=True) if a != b] == []
