"""Anki field HTML to the Markdown (with $...$ math) Cadence cards are written in."""

from __future__ import annotations

import html
import re
import threading
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
SOUND_RE = re.compile(r"\[sound:([^\]]*)\]")
# Text Anki reads aloud (what its {{tts}} filter writes): a play button there, not text.
TTS_TAG_RE = re.compile(r"\[anki:tts\b[^\]]*\].*?\[/anki:tts\]", re.S | re.I)
# Anki's old LaTeX: a whole snippet between [latex] tags, typeset as text with $ math.
OLD_LATEX_RE = re.compile(r"\[latex\](.*?)\[/latex\]", re.S | re.I)
FENCE_LINE_RE = re.compile(r"^\s*(```|~~~)")
CODE_RE = re.compile(r"(```.*?```|~~~.*?~~~|`[^`\n]*`)", re.S)
TAG_RE = re.compile(r"<[^>]*>")
NESTED_MARKER_RE = re.compile(r"^(\s*(?:[-*+]|\d+[.)]) )([-*+]|#{1,6}|\d+[.)])(?=\s)", re.M)


# Field text with none of these is plain: the conversion would give it back with its
# runs of white space as one space (test_imports checks the shortcut against it).
PLAIN_CHARS_RE = re.compile(r"[<>&\\\[\]$_*`#~^|!{}\r\n\t\xa0]")
# The inline HTML Anki's editor writes most (bold, italics, line breaks, no-break
# spaces) between text with nothing to escape: converted without parsing a document,
# to exactly what the converter gives (test_imports compares the two).
INLINE_TOKEN_RE = re.compile(r"(<[^>]*>|&nbsp;)")
INLINE_TEXT_BAD_RE = re.compile(r"[<>&\\$_*`\r\n]|\[(?:sound:|latex\]|\$|anki:)", re.I)
INLINE_MARKS = {"b": "**", "strong": "**", "i": "*", "em": "*"}
BR_RE = re.compile(r"^<br\s*/?>$", re.I)
LIST_START_RE = re.compile(r"\s*([-+*>=#]|\d+[.)])")
# Anki's editor leaves a <br> as the last thing inside bold, italics or a list item
# ("<b>term<br></b>", "<li>one<br></li>"): as Markdown the first escapes the closing marker
# and the second ends the item with a backslash. The break belongs after the inline
# element's end, and a block's last break shows nothing.
BR_BEFORE_CLOSE_RE = re.compile(
    r"(<br\s*/?>)((?:\s*</(?:b|strong|i|em|u|s|span|font|sup|sub|a)\s*>)+)", re.I
)
BR_AT_BLOCK_END_RE = re.compile(r"<br\s*/?>\s*(?=</(?:li|td|th|p|div|blockquote|h[1-6])\s*>)", re.I)


def _no_image(src: str) -> str | None:
    return None


class _Converter(MarkdownConverter):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._image_url: Callable[[str], str | None] = _no_image

    def convert_img(self, el: Any, text: str, parent_tags: Any) -> str:
        src = urllib.parse.unquote(str(el.attrs.get("src") or ""))
        alt = str(el.attrs.get("alt") or "").replace("]", "")
        url = self._image_url(src) if src else None
        return f"![{alt}]({url})" if url else alt

    # Inside a code block a line break is a new line of code, not a Markdown hard break
    # (whose backslash would be printed in the code); inline code has one line.
    def convert_br(self, el: Any, text: str, parent_tags: Any) -> str:
        if "pre" in parent_tags:
            return "\n" + text
        if "code" in parent_tags:
            return " " + text
        base: Any = super()  # markdownify's types do not name convert_br
        return str(base.convert_br(el, text, parent_tags))

    # Kept as Cadence Markdown's ^sup^ and ~sub~ (spaces escaped, as those need).
    def convert_sup(self, el: Any, text: str, parent_tags: Any) -> str:
        return _script(text, "^")

    def convert_sub(self, el: Any, text: str, parent_tags: Any) -> str:
        return _script(text, "~")


def _script(text: str, mark: str) -> str:
    text = text.strip()
    if not text:
        return ""
    escaped = re.sub(r"([\^~])", r"\\\1", text).replace(" ", "\\ ")
    return f"{mark}{escaped}{mark}"


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


def sounds(markup: str) -> list[str]:
    """The sound files a field plays ([sound:name]), which Cadence cards do not."""
    return [html.unescape(name).strip() for name in SOUND_RE.findall(markup)]


def _old_latex(match: re.Match[str]) -> str:
    # [latex] is text mode: with $ math inside it reads as that text; without, the whole
    # snippet is one formula (the math check refuses one that does not typeset).
    inner = match.group(1)
    if "$" in inner:
        inner = re.sub(r"\$\$(.+?)\$\$", r"\\[\1\\]", inner, flags=re.S)
        return re.sub(r"\$(.+?)\$", r"\\(\1\\)", inner, flags=re.S)
    return f"\\[{inner}\\]"


def _drop_trailing_breaks(text: str) -> str:
    """A hard break (``\\`` at a line's end) only between two lines of one paragraph.

    Anki writes <br> before an empty field (a cloze's Back Extra) and <div><br></div> for
    a blank line; as Markdown those end a block with a backslash, which shows as one.
    """
    lines = text.split("\n")
    in_fence = False
    for index, line in enumerate(lines):
        if FENCE_LINE_RE.match(line):
            in_fence = not in_fence
        if in_fence:
            continue
        if line.strip() == "\\":
            lines[index] = ""
    in_fence = False
    for index, line in enumerate(lines):
        if FENCE_LINE_RE.match(line):
            in_fence = not in_fence
        if in_fence or not line.endswith("\\") or line.endswith("\\\\"):
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if not following.strip():
            lines[index] = line[:-1].rstrip()
    return "\n".join(lines)


_local = threading.local()


def _converter() -> _Converter:
    # One per thread: building one costs more than converting a short field.
    converter: _Converter | None = getattr(_local, "converter", None)
    if converter is None:
        converter = _local.converter = _Converter(
            heading_style="ATX",
            bullets="-",
            escape_underscores=False,
            code_language_callback=_code_language,
            newline_style=BACKSLASH,
            sup_symbol="^",
            sub_symbol="~",
        )
    return converter


def is_plain(markup: str) -> bool:
    """Text that converts to itself (white space aside): no markup, nothing to escape."""
    return not PLAIN_CHARS_RE.search(markup) and not LIST_START_RE.match(markup)


def _chomp(text: str, mark: str) -> str:
    # markdownify's inline rule: spaces at the ends move outside the markers.
    prefix = " " if text.startswith(" ") else ""
    suffix = " " if text.endswith(" ") else ""
    text = text.strip()
    return f"{prefix}{mark}{text}{mark}{suffix}" if text else ""


def inline_to_markdown(markup: str) -> str | None:
    """Sanitised markup of text, <b>/<strong>/<i>/<em> (not nested), <br> and &nbsp; as
    Markdown, before the finishing steps; None for anything else."""
    parts: list[str] = []
    open_mark: str | None = None
    inner: list[str] = []
    for index, token in enumerate(INLINE_TOKEN_RE.split(markup)):
        if not token:
            continue
        if index % 2 == 0:
            if INLINE_TEXT_BAD_RE.search(token):
                return None
            (inner if open_mark else parts).append(token.replace("\t", " "))
            continue
        if token == "&nbsp;":
            (inner if open_mark else parts).append("\xa0")
            continue
        name = token[1:-1].strip().lower()
        if BR_RE.match(token):
            if open_mark:
                return None
            parts.append("\\\n")
        elif name in INLINE_MARKS and open_mark is None:
            open_mark, inner = name, []
        elif open_mark is not None and name == f"/{open_mark}":
            text = re.sub(r"[\t ]+", " ", "".join(inner))
            parts.append(_chomp(text, INLINE_MARKS[open_mark]))
            open_mark = None
        else:
            return None
    if open_mark:
        return None
    return re.sub(r"[\t ]+", " ", "".join(parts)).strip("\n")


def html_to_markdown(markup: str, *, image_url: Callable[[str], str | None] | None = None) -> str:
    """Sanitised Anki field HTML as Cadence Markdown; MathJax \\(..\\) becomes $..$."""
    if is_plain(markup):
        return " ".join(markup.split())
    markup = sanitize(markup)
    fast = inline_to_markdown(markup)
    if fast is not None:
        return _finish(NESTED_MARKER_RE.sub(_escape_marker, fast.replace("\xa0", " ")))
    markup = OLD_LATEX_RE.sub(_old_latex, TTS_TAG_RE.sub("", SOUND_RE.sub("", markup)))
    markup = BR_AT_BLOCK_END_RE.sub("", BR_BEFORE_CLOSE_RE.sub(r"\2\1", markup))
    maths: list[tuple[str, bool]] = []

    def stash(match: re.Match[str], display: bool) -> str:
        maths.append((_latex(match.group(1)), display))
        return f"CADENCEMATH{len(maths) - 1}X"

    for pattern, display in MATH_PATTERNS:
        markup = pattern.sub(lambda m, d=display: stash(m, d), markup)  # type: ignore[misc]
    converter = _converter()
    converter._image_url = image_url or _no_image
    text = converter.convert(markup).replace("\xa0", " ")
    text = _escape_dollars(text)

    def restore(match: re.Match[str]) -> str:
        latex, display = maths[int(match.group(1))]
        if not latex:
            return ""
        return f"$${latex}$$" if display else f"${latex}$"

    # A list item whose text starts like a marker ("+ pro", "- con") would nest a list.
    text = NESTED_MARKER_RE.sub(_escape_marker, text)
    return _finish(PLACEHOLDER_RE.sub(restore, text))


def _finish(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.splitlines())
    text = _drop_trailing_breaks(text.strip())
    return re.sub(r"\n{3,}", "\n\n", text).strip()
