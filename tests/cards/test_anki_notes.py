"""What a person sees after importing their own Anki deck: packages built by the real Anki
(the `anki` package, a test dependency) with the note shapes people have, read by
Cadence's reader; then the cards as the drill renders them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from anki.collection import Collection, ExportAnkiPackageOptions

from cards.imports import Limits, ParsedImport, parse
from cards.rendering import render_markdown
from tests.cards.conftest import png, upload

LIMITS = Limits(
    max_bytes=8 * 1024 * 1024,
    max_uncompressed_bytes=64 * 1024 * 1024,
    max_ratio=100,
    max_cards=10_000,
)


def build(
    folder: Path,
    fill: Callable[[Collection], None],
    *,
    scheduling: bool = False,
    legacy: bool = False,
    media: bool = True,
) -> bytes:
    """An .apkg exported by Anki from a collection ``fill`` writes into."""
    folder.mkdir(parents=True, exist_ok=True)
    col = Collection(str(folder / "collection.anki2"))
    try:
        fill(col)
        out = folder / "deck.apkg"
        col.export_anki_package(
            out_path=str(out),
            options=ExportAnkiPackageOptions(
                with_scheduling=scheduling,
                with_deck_configs=False,
                with_media=media,
                legacy=legacy,
            ),
            limit=None,
        )
    finally:
        col.close()
    return out.read_bytes()


def add(
    col: Collection, notetype: str, deck: str = "Default", tags: Any = (), **fields: str
) -> Any:
    note = col.new_note(col.models.by_name(notetype))  # type: ignore[arg-type]
    for name, value in fields.items():
        note[name.replace("_", " ")] = value
    note.tags = list(tags)
    deck_id = col.decks.id(deck)
    assert deck_id is not None
    col.add_note(note, deck_id)
    return note


def read(package: bytes) -> ParsedImport:
    return parse("apkg", package, limits=LIMITS, media_url=lambda name: f"/m/{name}")


def sides(parsed: ParsedImport) -> list[tuple[str, str]]:
    return [(card.front, card.back) for card in parsed.cards]


def test_a_cloze_with_an_empty_back_extra_ends_without_a_backslash(tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        add(col, "Cloze", Text="{{c1::Adam}} keeps two moments", Back_Extra="")
        add(
            col,
            "Basic",
            Front="Two lines",
            Back="<div>line one</div><div><br></div><div>line two</div>",
        )

    parsed = read(build(tmp_path, fill))
    assert sides(parsed) == [
        ("**[...]** keeps two moments", "**Adam** keeps two moments"),
        ("Two lines", "line one\n\nline two"),
    ]
    for _front, back in sides(parsed):
        assert "\\" not in render_markdown(back)


def test_a_break_at_the_end_of_bold_or_of_a_list_item_shows_no_backslash_or_marker(
    tmp_path: Path,
) -> None:
    # Anki's editor leaves the <br> of an Enter pressed at the end of bold text inside the
    # <b>, and one at the end of a list item inside the <li>.
    def fill(col: Collection) -> None:
        add(col, "Basic", Front="Bold", Back="<b>Self-attention<br></b>weights the values")
        add(col, "Basic", Front="End", Back="Keys and <i>values<br></i>")
        add(col, "Basic", Front="List", Back="<ul><li>queries<br></li><li>keys<br></li></ul>")

    parsed = read(build(tmp_path, fill))
    assert sides(parsed) == [
        ("Bold", "**Self-attention**\\\nweights the values"),
        ("End", "Keys and *values*"),
        ("List", "- queries\n- keys"),
    ]
    rendered = [render_markdown(back) for _front, back in sides(parsed)]
    assert "<strong>Self-attention</strong><br>" in rendered[0]
    assert "<em>values</em>" in rendered[1]
    for html in rendered:
        assert "\\" not in html
        assert "*" not in html


def test_line_breaks_inside_code_are_new_lines_of_code_not_backslashes(tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        add(
            col,
            "Basic",
            Front="Scaled scores in <code>torch</code>?",
            Back="<pre><code>s = q @ k.T<br>s = s / d ** 0.5</code></pre>",
        )
        add(col, "Basic", Front="Inline", Back="Call <code>model.eval()<br>torch.no_grad()</code>")

    parsed = read(build(tmp_path, fill))
    assert sides(parsed) == [
        ("Scaled scores in `torch`?", "```\ns = q @ k.T\ns = s / d ** 0.5\n```"),
        ("Inline", "Call `model.eval() torch.no_grad()`"),
    ]
    code = render_markdown(parsed.cards[0].back)
    assert "s = q @ k.T\ns = s / d ** 0.5" in code
    for _front, back in sides(parsed):
        assert "\\" not in render_markdown(back)


def test_superscripts_and_subscripts_are_kept(tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        add(col, "Basic", Front="Attention scores", Back="softmax(QK<sup>T</sup>)")
        add(col, "Basic", Front="Cost", Back="O(n<sup>2</sup>d), H<sub>2</sub>O")

    parsed = read(build(tmp_path, fill))
    assert sides(parsed) == [
        ("Attention scores", "softmax(QK^T^)"),
        ("Cost", "O(n^2^d), H~2~O"),
    ]
    assert "QK<sup>T</sup>" in render_markdown(parsed.cards[0].back)
    assert "O(n<sup>2</sup>d), H<sub>2</sub>O" in render_markdown(parsed.cards[1].back)


def add_occlusion_note(col: Collection, folder: Path) -> Path:
    """An Image Occlusion note (one rectangle over a picture) made by Anki itself."""
    image = folder / "brain.png"
    image.write_bytes(png(40, 40))
    col.add_image_occlusion_notetype()
    notetype = col.models.by_name("Image Occlusion")
    assert notetype is not None
    col.add_image_occlusion_note(
        notetype_id=notetype["id"],
        image_path=str(image),
        occlusions="{{c1::image-occlusion:rect:left=.1:top=.1:width=.3:height=.2:oi=1}}",
        header="Name the lobe",
        back_extra="",
        tags=[],
    )
    return image


def test_image_occlusion_notes_are_refused_with_a_reason(tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        add_occlusion_note(col, tmp_path)
        add(col, "Basic", Front="Kept", Back="Yes")

    parsed = read(build(tmp_path / "col", fill))
    assert sides(parsed) == [("Kept", "Yes")]
    (problem,) = parsed.problems
    assert "Image Occlusion" in problem.reason
    assert not problem.kept
    assert not any("image-occlusion" in card.front + card.back for card in parsed.cards)


def test_sound_is_named_in_the_problems_not_dropped_silently(tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        sound = tmp_path / "hello.mp3"
        sound.write_bytes(b"ID3" + b"\x00" * 64)
        name = col.media.add_file(str(sound))
        add(col, "Basic", Front=f"Hallo [sound:{name}]", Back="Hello")

    parsed = read(build(tmp_path / "col", fill))
    assert sides(parsed) == [("Hallo", "Hello")]
    (notice,) = parsed.problems
    assert "hello.mp3" in notice.reason
    assert notice.kept


def test_text_to_speech_is_named_in_the_problems_not_dropped_silently(tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        models = col.models
        notetype = models.new("Spoken")
        for name in ("Word", "Meaning"):
            models.add_field(notetype, models.new_field(name))
        template = models.new_template("Card 1")
        template["qfmt"] = "{{Word}} {{tts en_US:Word}}"
        template["afmt"] = "{{FrontSide}}<hr id=answer>{{Meaning}}"
        models.add_template(notetype, template)
        models.add(notetype)
        note = col.new_note(models.by_name("Spoken"))  # type: ignore[arg-type]
        note["Word"], note["Meaning"] = "attention", "weighting"
        col.add_note(note, col.decks.id("Default"))  # type: ignore[arg-type]
        add(col, "Basic", Front="[anki:tts lang=en_US]head[/anki:tts]Head?", Back="A projection")

    parsed = read(build(tmp_path, fill))
    assert sides(parsed) == [("attention", "weighting"), ("Head?", "A projection")]
    assert [(p.kept, "text to speech" in p.reason) for p in parsed.problems] == [
        (True, True),
        (True, True),
    ]


def test_hierarchical_and_non_ascii_tags_are_kept(tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        add(col, "Basic", tags=["ml::attention::mha", "Übung", "注意力"], Front="Q", Back="A")

    (card,) = read(build(tmp_path, fill)).cards
    assert sorted(card.tags) == sorted(("ml::attention::mha", "Übung", "注意力"))


def test_type_in_the_answer_does_not_repeat_the_question(tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        add(col, "Basic (type in the answer)", Front="Capital of France?", Back="Paris")

    assert sides(read(build(tmp_path, fill))) == [("Capital of France?", "Paris")]


def test_adjacent_deletions_of_one_number_read_as_one(tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        add(col, "Cloze", Text="{{c1::multi}}{{c1::head}} attention", Back_Extra="")

    assert sides(read(build(tmp_path, fill))) == [
        ("**[...][...]** attention", "**multihead** attention")
    ]


def test_standard_operators_and_old_latex_typeset(tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        add(col, "Basic", Front="Mode", Back="\\(\\arg\\max_x p(x)\\)")
        add(col, "Basic", Front="Old", Back="[latex]\\sum_i x_i[/latex]")

    parsed = read(build(tmp_path, fill))
    assert parsed.problems == []
    assert sides(parsed) == [("Mode", "$\\arg\\max_x p(x)$"), ("Old", "$$\\sum_i x_i$$")]


def test_an_image_missing_from_the_package_is_named(tmp_path: Path) -> None:
    def fill(col: Collection) -> None:
        image = tmp_path / "diagram.png"
        image.write_bytes(png())
        name = col.media.add_file(str(image))
        add(col, "Basic", Front="Diagram", Back=f'See <img src="{name}">')

    parsed = read(build(tmp_path / "col", fill, media=False))
    assert sides(parsed) == [("Diagram", "See")]
    (notice,) = parsed.problems
    assert "diagram.png" in notice.reason
    assert notice.kept


@pytest.mark.parametrize("legacy", [True, False])
def test_both_layouts_read_the_same_notes(tmp_path: Path, legacy: bool) -> None:
    def fill(col: Collection) -> None:
        add(col, "Cloze", Text="{{c1::a}} and {{c2::b}}", Back_Extra="")

    assert len(read(build(tmp_path, fill, legacy=legacy)).cards) == 2


def test_the_preview_lists_a_dropped_sound_apart_from_the_rows_left_out(
    owner_client: Any, tmp_path: Path
) -> None:
    def fill(col: Collection) -> None:
        sound = tmp_path / "hello.mp3"
        sound.write_bytes(b"ID3" + b"\x00" * 64)
        name = col.media.add_file(str(sound))
        add(col, "Basic", Front=f"Hallo [sound:{name}]", Back="Hello")
        add(col, "Basic", Front="No back", Back="")

    response = upload(owner_client, "sound.apkg", build(tmp_path / "col", fill))
    page = owner_client.get(response["Location"]).content.decode()
    assert "data-to-add>1<" in page
    assert "data-problems>1<" in page
    notices = page.split("data-notices>")[1].split("</section>")[0]
    assert "hello.mp3" in notices


# --- "Notes in Plain Text" ---------------------------------------------------------------


def plain_text(folder: Path, **options: bool) -> bytes:
    """Anki's "Notes in Plain Text" export of a small collection, with these columns."""
    from anki.import_export_pb2 import ExportLimit

    folder.mkdir(parents=True, exist_ok=True)
    col = Collection(str(folder / "collection.anki2"))
    try:
        add(
            col,
            "Basic",
            "ML::Attention",
            ["ml::attention", "Übung"],
            Front="What is <b>QK<sup>T</sup></b>?",
            Back="Scores<br>before the softmax",
        )
        add(col, "Cloze", "Optimisers", Text="{{c1::Adam}} keeps {{c2::two}} moments")
        add(col, "Basic (and reversed card)", "Optimisers", Front="KV", Back="cache")
        out = folder / "notes.txt"
        col.export_note_csv(out_path=str(out), limit=ExportLimit(whole_collection={}), **options)
    finally:
        col.close()
    return out.read_bytes()


ALL_COLUMNS = {
    "with_html": True,
    "with_tags": True,
    "with_deck": True,
    "with_notetype": True,
    "with_guid": True,
}


@pytest.mark.parametrize(
    "options",
    [
        ALL_COLUMNS,
        {**ALL_COLUMNS, "with_guid": False, "with_notetype": False},
        {**ALL_COLUMNS, "with_deck": False, "with_tags": False},
    ],
    ids=["every-column", "deck-and-tags", "guid-and-notetype"],
)
def test_notes_in_plain_text_read_every_column_anki_writes(
    tmp_path: Path, options: dict[str, bool]
) -> None:
    data = plain_text(tmp_path, **options)
    assert data.startswith(b"#separator:tab\n#html:true\n")
    parsed = parse("tsv", data, limits=LIMITS, media_url=str, default_topic="Notes")
    deck = options["with_deck"]
    tags = options["with_tags"]
    got = [(c.front, c.back, c.topic, c.tags) for c in parsed.cards]
    assert parsed.problems == []
    assert got == [
        (
            "What is **QK^T^**?",
            "Scores\\\nbefore the softmax",
            "ML::Attention" if deck else "Notes",
            ("ml::attention", "Übung") if tags else (),
        ),
        ("**[...]** keeps two moments", "**Adam** keeps two moments", *opt(deck)),
        ("Adam keeps **[...]** moments", "Adam keeps **two** moments", *opt(deck)),
        ("KV", "cache", *opt(deck)),
        # Only the note type column says the note has a reverse card.
        *([("cache", "KV", *opt(deck))] if options["with_notetype"] else []),
    ]


def opt(deck: bool) -> tuple[str, tuple[str, ...]]:
    return ("Optimisers" if deck else "Notes", ())


def test_notes_in_plain_text_without_html_read_cloze_notes_too(tmp_path: Path) -> None:
    data = plain_text(tmp_path, **{**ALL_COLUMNS, "with_html": False})
    parsed = parse("tsv", data, limits=LIMITS, media_url=str, default_topic="Notes")
    fronts = [c.front for c in parsed.cards]
    assert fronts == [
        "What is QKT?",
        "**[...]** keeps two moments",
        "Adam keeps **[...]** moments",
        "KV",
        "cache",
    ]


def test_notes_in_plain_text_refuse_image_occlusion_and_name_the_images_left_behind(
    tmp_path: Path,
) -> None:
    from anki.import_export_pb2 import ExportLimit

    col = Collection(str(tmp_path / "collection.anki2"))
    try:
        image = add_occlusion_note(col, tmp_path)
        name = col.media.add_file(str(image))
        add(col, "Basic", Front="Which lobe?", Back=f'Frontal <img src="{name}">')
        add(col, "Basic", Front="Only a picture", Back=f'<img src="{name}">')
        out = tmp_path / "notes.txt"
        col.export_note_csv(
            out_path=str(out), limit=ExportLimit(whole_collection={}), **ALL_COLUMNS
        )
    finally:
        col.close()

    parsed = parse("tsv", out.read_bytes(), limits=LIMITS, media_url=str, default_topic="N")
    assert [(c.front, c.back) for c in parsed.cards] == [("Which lobe?", "Frontal")]
    occlusion, shown, only = parsed.problems
    assert "Image Occlusion" in occlusion.reason
    assert not occlusion.kept
    assert "brain.png" in shown.reason
    assert shown.kept
    assert only.reason == "no back (the image brain.png is not in a text file)"
    assert not only.kept


def test_image_occlusion_enhanced_notes_from_the_old_add_on_are_refused(tmp_path: Path) -> None:
    # The add-on's note type: the masks are SVG images drawn over the picture; without
    # them the front would show the whole picture, answer and all.
    def fill(col: Collection) -> None:
        models = col.models
        notetype = models.new("Image Occlusion Enhanced")
        for name in ("ID (hidden)", "Header", "Image", "Question Mask", "Answer Mask"):
            models.add_field(notetype, models.new_field(name))
        template = models.new_template("IO Card")
        template["qfmt"] = "{{Header}}<div>{{Question Mask}}</div><div>{{Image}}</div>"
        template["afmt"] = "{{Header}}<div>{{Answer Mask}}</div><div>{{Image}}</div>"
        models.add_template(notetype, template)
        models.add(notetype)
        picture = tmp_path / "brain.png"
        picture.write_bytes(png(40, 40))
        image = col.media.add_file(str(picture))
        masks = {}
        for side in ("Q", "A"):
            mask = tmp_path / f"brain-1-{side}.svg"
            mask.write_text('<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>')
            masks[side] = col.media.add_file(str(mask))
        note = col.new_note(models.by_name("Image Occlusion Enhanced"))  # type: ignore[arg-type]
        note["ID (hidden)"] = "abc-1"
        note["Header"] = "Name the lobe"
        note["Image"] = f'<img src="{image}">'
        note["Question Mask"] = f'<img src="{masks["Q"]}">'
        note["Answer Mask"] = f'<img src="{masks["A"]}">'
        col.add_note(note, col.decks.id("Default"))  # type: ignore[arg-type]
        add(col, "Basic", Front="Kept", Back="Yes")

    parsed = read(build(tmp_path / "col", fill))
    assert sides(parsed) == [("Kept", "Yes")]
    (problem,) = parsed.problems
    assert "Image Occlusion" in problem.reason
    assert not problem.kept
