"""Anki field HTML to the Markdown (with $...$ math) Cadence cards are written in."""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from markdownify import BACKSLASH, MarkdownConverter

from cards.rendering import sanitize

MATH_PATTERNS = (
    (re.compile(r"\\\((.+?)\\\)", re.S), False),
    (re.compile(r"\\\[(.+?)\\\]", re.S), True),
    (re.compile(r"\[\$\$\](.+?)\[/\$\$\]", re.S), True),
    (re.compile(r"\[\$\](.+?)\[/\$\]", re.S), False),
)
PLACEHOLDER_RE = re.compile(r"CADENCEMATH(\d+)X")
SOUND_RE = re.compile(r"\[sound:[^\]]*\]")
CODE_RE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
TAG_RE = re.compile(r"<[^>]*>")
NESTED_MARKER_RE = re.compile(r"^(\s*(?:[-*+]|\d+[.)]) )([-*+]|#{1,6}|\d+[.)])(?=\s)", re.M)


class _Converter(MarkdownConverter):
    def __init__(self, *, image_url: Callable[[str], str | None], **options: Any) -> None:
        super().__init__(**options)
        self._image_url = image_url

    def convert_img(self, el: Any, text: str, parent_tags: Any) -> str:
        src = urllib.parse.unquote(str(el.attrs.get("src") or ""))
        alt = str(el.attrs.get("alt") or "").replace("]", "")
        url = self._image_url(src) if src else None
        return f"![{alt}]({url})" if url else alt


def _code_language(el: Any) -> str:
    code = el.find("code") or el
    for name in code.get("class") or ():
        if name.startswith("language-"):
            return str(name.removeprefix("language-"))
    return ""


def _latex(source: str) -> str:
    text = html.unescape(TAG_RE.sub(" ", source)).replace("\xa0", " ")
    return " ".join(text.split())


def _escape_text(part: str) -> str:
    part = re.sub(r"(?<!\\)\$", r"\\$", part)
    # An underscore inside a word never starts emphasis (CommonMark), so it stays bare.
    return re.sub(r"(?<![A-Za-z0-9\\])_|(?<![\\])_(?![A-Za-z0-9])", r"\\_", part)


def _escape_dollars(text: str) -> str:
    """Escape what Cadence's Markdown would read as markup: $ (math) and stray _."""
    parts = CODE_RE.split(text)
    return "".join(part if index % 2 else _escape_text(part) for index, part in enumerate(parts))


def _escape_marker(match: re.Match[str]) -> str:
    marker = match.group(2)
    if marker[0].isdigit():
        return f"{match.group(1)}{marker[:-1]}\\{marker[-1]}"
    return f"{match.group(1)}\\{marker}"


def html_to_markdown(markup: str, *, image_url: Callable[[str], str | None] | None = None) -> str:
    """Sanitised Anki field HTML as Cadence Markdown; MathJax \\(..\\) becomes $..$."""
    markup = SOUND_RE.sub("", sanitize(markup))
    maths: list[tuple[str, bool]] = []

    def stash(match: re.Match[str], display: bool) -> str:
        maths.append((_latex(match.group(1)), display))
        return f"CADENCEMATH{len(maths) - 1}X"

    for pattern, display in MATH_PATTERNS:
        markup = pattern.sub(lambda m, d=display: stash(m, d), markup)  # type: ignore[misc]
    converter = _Converter(
        image_url=image_url or (lambda src: None),
        heading_style="ATX",
        bullets="-",
        escape_underscores=False,
        code_language_callback=_code_language,
        newline_style=BACKSLASH,
    )
    text = converter.convert(markup).replace("\xa0", " ")
    text = _escape_dollars(text)

    def restore(match: re.Match[str]) -> str:
        latex, display = maths[int(match.group(1))]
        if not latex:
            return ""
        return f"$${latex}$$" if display else f"${latex}$"

    # A list item whose text starts like a marker ("+ pro", "- con") would nest a list.
    text = NESTED_MARKER_RE.sub(_escape_marker, text)
    text = PLACEHOLDER_RE.sub(restore, text)
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip()
