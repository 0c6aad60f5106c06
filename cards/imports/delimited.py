"""CSV and TSV files, Anki's "Notes in Plain Text" export among them."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from cards.deckfile import normalize_tags
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
from cards.imports.html import html_to_markdown

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
    for key, name in (("tags column", "tags"), ("deck column", "topic")):
        if settings.get(key, "").isdigit():
            columns = columns if columns is not None else {"front": 0, "back": 1}
            columns[name] = int(settings[key]) - 1
    return _TextLayout(
        delimiter=delimiter,
        html=settings.get("html", "").lower() == "true",
        columns=columns,
        body=body,
        first_line=skip + 1,
    )


def _cell(row: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return (
        from_spreadsheet_safe(row[index].strip()) if index is not None and index < len(row) else ""
    )


def estimate_delimited(data: bytes) -> int:
    return sum(1 for line in data.splitlines() if line.strip())


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

            front, back = _cell(record, columns, "front"), _cell(record, columns, "back")
            if layout.html:
                front, back = html_to_markdown(front), html_to_markdown(back)
            ref = f"line {line}"
            reason = check_card(front, back)
            if reason:
                result.problems.append(Problem(ref, reason))
                continue
            result.cards.append(
                ParsedCard(
                    front=front,
                    back=back,
                    ref=ref,
                    topic=_cell(record, columns, "topic")[:120] or default_topic,
                    tags=normalize_tags(_cell(record, columns, "tags")),
                )
            )
    except csv.Error as error:
        raise ImportRejected(f"Line {reader.line_num} cannot be read: {error}.") from None
    if not rows:
        raise ImportRejected("The file has no rows of cards (a header alone is not enough).")
    return result
