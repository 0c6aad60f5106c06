"""CSV and TSV files, Anki's "Notes in Plain Text" export among them.

Anki's text export opens with ``#key:value`` lines: the separator, whether fields are
HTML, and which columns (counted from 1) hold the GUID, the note type, the deck and the
tags; every other column is a field of the note, in order. A Cloze note becomes one card
per deletion and a "Basic (and reversed card)" note two cards, as a package import does.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from cards.deckfile import normalize_tags
from cards.imports.anki import (
    CLOZE_RE,
    IMAGE_OCCLUSION_REASON,
    IMG_SRC_RE,
    cloze_side,
    occlusion_fields,
)
from cards.imports.common import (
    ImportRejected,
    Limits,
    ParsedCard,
    ParsedImport,
    Problem,
    Progress,
    check_card,
    check_count,
    decode_text,
)
from cards.imports.html import html_to_markdown, sounds

HEADER_NAMES = {
    "front": "front",
    "question": "front",
    "back": "back",
    "answer": "back",
    "tags": "tags",
    "tag": "tags",
    "topic": "topic",
    "deck": "topic",
}
ANKI_SEPARATORS = {
    "tab": "\t",
    "comma": ",",
    "semicolon": ";",
    "space": " ",
    "pipe": "|",
    "colon": ":",
}
# Anki's header for a column that is not a field, and the name Cadence reads it as.
ANKI_COLUMNS = {
    "guid column": "guid",
    "notetype column": "notetype",
    "deck column": "topic",
    "tags column": "tags",
}
REVERSED = "basic (and reversed card)"
OPTIONAL_REVERSED = "basic (optional reversed card)"

# A spreadsheet reads a cell that starts with one of these as a formula (=HYPERLINK(...),
# +cmd|...). The export puts an apostrophe in front (spreadsheets show the text as it
# is), also in front of a cell already written that way, and the import takes exactly one
# back off, so a file round-trips unchanged.
FORMULA_RE = re.compile(r"^'*[=+\-@\t\r]")


def spreadsheet_safe(cell: str) -> str:
    return f"'{cell}" if FORMULA_RE.match(cell) else cell


def from_spreadsheet_safe(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and FORMULA_RE.match(cell[1:]) else cell


@dataclass(frozen=True)
class _TextLayout:
    delimiter: str
    html: bool
    columns: dict[str, int] | None
    body: str
    first_line: int
    # Anki's layout: every column not named in ``columns`` is a field, in order.
    anki: bool = False
    notetype: str = ""
    special: frozenset[int] = field(default_factory=frozenset)


def _text_layout(text: str, fmt: str) -> _TextLayout:
    """Anki's text export starts with '#key:value' lines; read them, then the delimiter."""
    lines = text.splitlines(keepends=True)
    settings: dict[str, str] = {}
    skip = 0
    for line in lines:
        match = re.match(r"^#([a-z ]+):(.*)$", line.rstrip("\r\n"))
        if not match:
            break
        settings[match.group(1).strip()] = match.group(2).strip()
        skip += 1
    body = "".join(lines[skip:])
    separator = settings.get("separator", "").lower()
    if separator:
        delimiter = ANKI_SEPARATORS.get(separator, separator[:1])
    elif fmt == "tsv":
        delimiter = "\t"
    else:
        sample = body[:8192]
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","
    columns: dict[str, int] | None = None
    if "columns" in settings:
        names = [name.strip().lower() for name in settings["columns"].split(delimiter)]
        columns = {HEADER_NAMES[n]: i for i, n in enumerate(names) if n in HEADER_NAMES}
    special = {
        name: int(settings[key]) - 1
        for key, name in ANKI_COLUMNS.items()
        if settings.get(key, "").isdigit() and int(settings[key]) > 0
    }
    anki = bool(special) and columns is None
    if anki:
        columns = special
    elif columns is not None:
        columns.update(special)
    return _TextLayout(
        delimiter=delimiter,
        html=settings.get("html", "").lower() == "true",
        columns=columns,
        body=body,
        first_line=skip + 1,
        anki=anki,
        notetype=settings.get("notetype", ""),
        special=frozenset(special.values()),
    )


def _cell(row: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return (
        from_spreadsheet_safe(row[index].strip()) if index is not None and index < len(row) else ""
    )


def estimate_delimited(data: bytes) -> int:
    return sum(1 for line in data.splitlines() if line.strip())


def _note_sides(notetype: str, fields: list[str]) -> list[tuple[str, str]]:
    """A note's cards as (front, back) in the file's markup, by Anki's note types."""
    first = fields[0] if fields else ""
    second = fields[1] if len(fields) > 1 else ""
    kind = notetype.casefold()
    if "cloze" in kind or (not kind and CLOZE_RE.search(first)):
        numbers = sorted({int(match.group(1)) for match in CLOZE_RE.finditer(first)})
        return [
            (
                cloze_side(first, number, front=True),
                cloze_side(first, number, front=False) + (f"<br>{second}" if second else ""),
            )
            for number in numbers
        ] or [(first, second)]
    sides = [(first, second)]
    if kind == REVERSED or (kind == OPTIONAL_REVERSED and len(fields) > 2 and fields[2]):
        sides.append((second, first))
    return sides


def _plain_bold(text: str) -> str:
    # A cloze side in a file of plain text: the deletion's bold as Markdown.
    return text.replace("<b>", "**").replace("</b>", "**")


def parse_delimited(
    data: bytes,
    *,
    fmt: str,
    limits: Limits,
    default_topic: str = "",
    progress: Progress | None = None,
) -> ParsedImport:
    """CSV or TSV: front, back, then optional tags and topic. A header row is detected."""
    text = decode_text(data)
    layout = _text_layout(text, fmt)
    reader = csv.reader(io.StringIO(layout.body, newline=""), delimiter=layout.delimiter)
    result = ParsedImport()
    columns = layout.columns
    previous_line = 0
    rows = 0
    try:
        for record in reader:
            line = layout.first_line + previous_line
            previous_line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if columns is None:
                names = [HEADER_NAMES.get(cell.strip().lower()) for cell in record]
                if "front" in names:
                    columns = {name: i for i, name in enumerate(names) if name}
                    continue
                columns = {"front": 0, "back": 1, "tags": 2, "topic": 3}
            rows += 1
            check_count(rows, limits)
            if progress and rows % 500 == 0:
                progress(rows)

            if layout.anki:
                fields = [cell.strip() for i, cell in enumerate(record) if i not in layout.special]
                notetype = _cell(record, columns, "notetype") or layout.notetype
            else:
                fields = [_cell(record, columns, "front"), _cell(record, columns, "back")]
                notetype = ""
            if "image occlusion" in notetype.casefold() or occlusion_fields(fields):
                result.problems.append(Problem(f"line {line}", IMAGE_OCCLUSION_REASON))
                continue
            note_sides = _note_sides(notetype, fields)
            topic = _cell(record, columns, "topic")[:120] or default_topic
            tags = normalize_tags(_cell(record, columns, "tags"))
            played = sounds(" ".join(fields)) if layout.html else []
            for number, (raw_front, raw_back) in enumerate(note_sides, start=1):
                if layout.html:
                    front, back = html_to_markdown(raw_front), html_to_markdown(raw_back)
                else:
                    front, back = _plain_bold(raw_front), _plain_bold(raw_back)
                ref = f"line {line}" if len(note_sides) == 1 else f"line {line}, card {number}"
                reason = check_card(front, back)
                # A text file carries no images: the card comes without the ones it shows.
                images = (
                    list(dict.fromkeys(IMG_SRC_RE.findall(raw_front + raw_back)))
                    if layout.html
                    else []
                )
                if reason:
                    if images:
                        reason += f" (the image {', '.join(images)} is not in a text file)"
                    result.problems.append(Problem(ref, reason))
                    continue
                result.cards.append(
                    ParsedCard(front=front, back=back, ref=ref, topic=topic, tags=tags)
                )
                if images:
                    result.problems.append(
                        Problem(
                            ref,
                            f"it shows the image {', '.join(images)}, which a text file "
                            "cannot carry: the card is imported without it",
                            kept=True,
                        )
                    )
            if played:
                result.problems.append(
                    Problem(
                        f"line {line}",
                        f"it plays {', '.join(played)}: Cadence cards do not play sound, so "
                        "the cards are imported without it",
                        kept=True,
                    )
                )
    except csv.Error as error:
        raise ImportRejected(f"Line {reader.line_num} cannot be read: {error}.") from None
    if not rows:
        raise ImportRejected("The file has no rows of cards (a header alone is not enough).")
    return result
