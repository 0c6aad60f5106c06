"""Card Markdown to safe HTML, with LaTeX math as MathML. Pure: no Django.

Math is typeset on the server (``latex2mathml``), so a card reads the same with or
without JavaScript and nothing is fetched from a CDN. Every rendered card goes through
``nh3`` (the Rust ``ammonia`` sanitiser) with an allow-list that includes MathML: a card
cannot run script in anyone's browser, whatever its author typed.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any
from xml.etree.ElementTree import Element

import nh3
from latex2mathml.converter import convert_to_element
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.subscript import sub_plugin
from mdit_py_plugins.superscript import superscript_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

MATHML_TAGS = {
    "math",
    "semantics",
    "annotation",
    "mrow",
    "mi",
    "mn",
    "mo",
    "ms",
    "mtext",
    "mspace",
    "mfrac",
    "msqrt",
    "mroot",
    "msub",
    "msup",
    "msubsup",
    "munder",
    "mover",
    "munderover",
    "mtable",
    "mtr",
    "mtd",
    "mstyle",
    "mpadded",
    "mphantom",
    "menclose",
    "merror",
}
MATHML_ATTRIBUTES = {
    "display",
    "mathvariant",
    "stretchy",
    "fence",
    "separator",
    "lspace",
    "rspace",
    "accent",
    "accentunder",
    "movablelimits",
    "largeop",
    "symmetric",
    "minsize",
    "maxsize",
    "width",
    "height",
    "depth",
    "columnalign",
    "rowalign",
    "columnspacing",
    "rowspacing",
    "displaystyle",
    "scriptlevel",
    "notation",
    "linethickness",
    "form",
    "encoding",
    "xmlns",
}
ALLOWED_TAGS = set(nh3.ALLOWED_TAGS) | MATHML_TAGS | {"span", "div", "pre", "code", "img"}
# No "style" on any tag: a card's author must not be able to place or size anything over
# the page (a fixed, full-viewport cell), whatever the CSP allows. Table alignment comes
# as one of three classes instead (TABLE_ALIGN_CLASSES).
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(MATHML_ATTRIBUTES) for tag in MATHML_TAGS},
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
    "pre": {"class"},
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
}
UNKNOWN_COMMAND_RE = re.compile(r"\\[A-Za-z]+")
# LaTeX's standard operators that latex2mathml does not know by name: typeset upright,
# as LaTeX does, through \operatorname.
OPERATORS = ("arg", "deg", "det", "dim", "hom", "ker", "lg", "Pr", "gcd")
OPERATOR_RE = re.compile(rf"\\({'|'.join(OPERATORS)})(?![A-Za-z])")

# The most characters one side of a card may hold, and the most anything renders: the
# editor, the live preview, the importers and the renderer all refuse longer text before
# parsing it. Markdown and math cost grows faster than linearly on hostile input (a run
# of "[" or "*a "); at this size the worst inputs measured render in about a quarter of a
# second, so the cap is the rendering budget (README, "Limits").
MAX_TEXT = 20_000


class MathError(ValueError):
    pass


def _quoted(latex: str) -> str:
    # As written, one backslash per backslash: repr() would double each one.
    return f"“{latex}”"


CHAR_REFERENCE_RE = re.compile(r"&amp;(#x[0-9A-Fa-f]+|#[0-9]+);")


def _escape_text(text: str | None) -> str:
    # latex2mathml stores symbols as character references ("&#x0003C;") in the text and
    # un-escapes its whole output, which also lets the raw text of \text{}, \mbox{},
    # \tag{} or \unicode{} through as markup. Escape everything, then give back only
    # well-formed numeric character references: those are characters, never markup.
    return CHAR_REFERENCE_RE.sub(r"&\1;", html.escape(text or "", quote=False))


def _serialise(element: Element) -> str:
    attributes = "".join(
        f' {name}="{html.escape(str(value), quote=True)}"' for name, value in element.attrib.items()
    )
    children = "".join(_serialise(child) + _escape_text(child.tail) for child in element)
    return f"<{element.tag}{attributes}>{_escape_text(element.text)}{children}</{element.tag}>"


# What each of latex2mathml's errors means, in the words an author needs; an error not
# named here says only that the formula does not parse.
MATH_ERROR_WORDS = {
    "NumeratorNotFoundError": "a fraction without its numerator",
    "DenominatorNotFoundError": "a fraction without its denominator",
    "ExtraLeftOrMissingRightError": "a \\left without its \\right",
    "MissingSuperScriptOrSubscriptError": "a ^ or _ with nothing after it",
    "DoubleSubscriptsError": "two subscripts on one symbol (use braces: x_{ij})",
    "DoubleSuperscriptsError": "two superscripts on one symbol (use braces: x^{ab})",
    "NoAvailableTokensError": "a command without its argument",
    "InvalidStyleForGenfracError": "a \\genfrac style that is not 0 to 3",
    "MissingEndError": "a \\begin without its \\end",
    "InvalidAlignmentError": "a column alignment other than l, c or r",
    "InvalidWidthError": "a width that is not a length",
    "LimitsMustFollowMathOperatorError": "\\limits after something that is no operator",
}


def math_to_mathml(latex: str, *, display: bool) -> str:
    """Convert one LaTeX snippet; raise MathError if it does not parse cleanly."""
    depth = 0
    escaped = False
    for char in latex:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise MathError(f"unbalanced '}}' in {_quoted(latex)}")
    if depth:
        raise MathError(f"unbalanced '{{' in {_quoted(latex)}")
    latex = OPERATOR_RE.sub(r"\\operatorname{\1}", latex)
    try:
        mathml = _serialise(convert_to_element(latex, display="block" if display else "inline"))
    except Exception as error:  # latex2mathml raises a zoo of exception types
        words = MATH_ERROR_WORDS.get(error.__class__.__name__, "it does not parse")
        raise MathError(f"{words} in {_quoted(latex)}") from None
    # latex2mathml keeps a command it does not know as literal text (\foo); that would
    # show as garbage on the card, so it counts as an error.
    leftover = UNKNOWN_COMMAND_RE.findall(html.unescape(re.sub(r"<[^>]+>", " ", mathml)))
    if leftover:
        raise MathError(
            f"unsupported command(s) {', '.join(sorted(set(leftover)))} in {_quoted(latex)}"
        )
    return mathml


# Wide display math and tables scroll inside this box, never the page; static/js/scroll.js
# makes a box that does overflow focusable, so a keyboard can scroll it too.
# A div for blocks; display math inside a paragraph ($$ inline) gets a span (display:
# block in the CSS), as a div may not sit in a <p>.
def _scroll(markup: str, tag: str = "div") -> str:
    return f'<{tag} class="scroll">{markup}</{tag}>'


def _render_math(content: str, display: bool, box: str = "div") -> str:
    try:
        mathml = math_to_mathml(content, display=display)
        return _scroll(mathml, box) if display else mathml
    except MathError:
        # Show the source rather than lose it; the deck test fails on these.
        tag = "div" if display else "span"
        return f'<{tag} class="math-error">{html.escape(content)}</{tag}>'


def _highlight(code: str, lang: str, _attrs: Any) -> str:
    try:
        lexer = get_lexer_by_name(lang or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    html_code: str = highlight(code, lexer, HtmlFormatter(nowrap=True))
    return html_code


TABLE_ALIGN_RE = re.compile(r"^text-align:(left|right|center)$")
TABLE_ALIGN_CLASSES = ("align-left", "align-center", "align-right")


def _table_alignment_as_class(state: Any) -> None:
    """A table column's alignment as a class ("align-right"), since no style is allowed."""
    for token in state.tokens:
        if token.type in {"th_open", "td_open"} and "style" in token.attrs:
            match = TABLE_ALIGN_RE.match(str(token.attrs.pop("style")))
            if match:
                token.attrSet("class", f"align-{match.group(1)}")


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": False, "typographer": False, "highlight": _highlight},
    )
    md.enable("table").enable("strikethrough")
    md.use(superscript_plugin).use(sub_plugin)
    md.add_render_rule(
        "table_open",
        lambda self, tokens, idx, options, env: '<div class="scroll"><table>\n',
    )
    md.add_render_rule(
        "table_close",
        lambda self, tokens, idx, options, env: "</table></div>\n",
    )
    dollarmath_plugin(md, allow_space=False, allow_digits=False, double_inline=True)
    md.core.ruler.push("table_alignment_as_class", _table_alignment_as_class)
    md.add_render_rule(
        "math_inline",
        lambda self, tokens, idx, options, env: _render_math(tokens[idx].content, display=False),
    )
    md.add_render_rule(
        "math_inline_double",
        lambda self, tokens, idx, options, env: _render_math(
            tokens[idx].content, display=True, box="span"
        ),
    )
    md.add_render_rule(
        "math_block",
        lambda self, tokens, idx, options, env: (
            _render_math(tokens[idx].content, display=True) + "\n"
        ),
    )
    md.add_render_rule(
        "math_block_label",
        lambda self, tokens, idx, options, env: (
            _render_math(tokens[idx].content, display=True) + "\n"
        ),
    )
    return md


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    # Built once: nh3.clean builds its allow-lists anew on every call (about 60 times
    # slower than reusing them, which an import of thousands of fields feels).
    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        allowed_classes={tag: set(TABLE_ALIGN_CLASSES) for tag in ("th", "td")},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


# Bump when the HTML this module makes for the same text changes (a renderer, highlighter or
# sanitiser rule): cards store their HTML with the version that made it, a stale one is
# rendered afresh when shown, and `load_deck` stores it again.
RENDER_VERSION = 3


def sanitize(markup: str) -> str:
    return _cleaner().clean(markup)


def too_long(text: str) -> str | None:
    """Why ``text`` is not rendered (longer than MAX_TEXT), or None."""
    if len(text) > MAX_TEXT:
        return f"longer than {MAX_TEXT:,} characters ({len(text):,})"
    return None


def render_markdown(text: str) -> str:
    """Markdown with $...$ and $$...$$ math to sanitised HTML; nothing over MAX_TEXT."""
    if reason := too_long(text):
        return f'<p class="render-refused">Not shown: this text is {reason}.</p>'
    return sanitize(_markdown().render(text))


def math_snippets(text: str) -> list[tuple[str, bool]]:
    """Every math span in a Markdown text, as (latex, display), for checking a deck.

    Text over MAX_TEXT is not parsed (callers check its length first)."""
    if too_long(text):
        return []
    found: list[tuple[str, bool]] = []

    def walk(tokens: list[Any]) -> None:
        for token in tokens:
            if token.type in {
                "math_inline",
                "math_inline_double",
                "math_block",
                "math_block_label",
            }:
                found.append((token.content, token.type != "math_inline"))
            if token.children:
                walk(token.children)

    walk(_markdown().parse(text))
    return found


def math_problems(text: str) -> list[str]:
    """Why each math span of a Markdown text does not typeset (empty when all do): the one
    check the editor, the forms, the importers and the deck test share."""
    if reason := too_long(text):
        return [f"the text is {reason}"]
    if "$" not in text:  # every math span opens with one
        return []
    problems = []
    for latex, display in math_snippets(text):
        try:
            math_to_mathml(latex, display=display)
        except MathError as error:
            problems.append(str(error))
    return problems


RUNNABLE = "runnable"


def code_blocks(text: str) -> list[tuple[str, tuple[str, ...], str]]:
    """Every fenced code block in a Markdown text, as (language, flags, code).

    The language is the info string's first word (what the highlighter uses); the flags
    are the words after it, e.g. ``runnable`` in `` ```python runnable ``.
    """
    found: list[tuple[str, tuple[str, ...], str]] = []
    for token in _markdown().parse(text):
        if token.type == "fence":
            words = token.info.split()
            found.append((words[0] if words else "", tuple(words[1:]), token.content))
    return found
