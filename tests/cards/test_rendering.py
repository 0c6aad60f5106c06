from __future__ import annotations

import re
import time

import pytest

from cards.rendering import (
    MAX_TEXT,
    MathError,
    code_blocks,
    math_problems,
    math_snippets,
    math_to_mathml,
    render_markdown,
    sanitize,
)


def test_inline_and_display_math_become_mathml() -> None:
    html = render_markdown("Scale by $\\frac{1}{\\sqrt{d_k}}$:\n\n$$QK^\\top$$")
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in html
    assert 'display="block"' in html
    assert "<msqrt>" in html


def test_tables_lists_and_highlighted_code_render() -> None:
    html = render_markdown(
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n\n```python\ndef f(): pass\n```"
    )
    assert "<table>" in html
    assert "<li>one</li>" in html
    assert '<span class="k">def</span>' in html


def test_a_runnable_block_is_still_highlighted_as_its_language() -> None:
    text = "Write it.\n\n```python runnable\ndef f(x):\n    return x\n```\n\n```\nplain\n```"
    html = render_markdown(text)
    assert '<code class="language-python">' in html
    assert '<span class="k">def</span>' in html
    assert code_blocks(text) == [
        ("python", ("runnable",), "def f(x):\n    return x\n"),
        ("", (), "plain\n"),
    ]


def test_a_literal_dollar_sign_stays_text() -> None:
    html = render_markdown("It costs \\$5 per hour and \\$20 per day.")
    assert "<math" not in html
    assert "$5" in html


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=//evil></iframe>",
        "<svg onload=alert(1)>",
    ],
)
def test_card_text_cannot_run_script(attack: str) -> None:
    html = render_markdown(attack).lower()
    tags = re.findall(r"<[a-z][^>]*>", html)
    assert not [t for t in tags if re.match(r"<(script|iframe|svg|img|object)", t)]
    assert not [t for t in tags if re.search(r"\son\w+=", t)]
    assert "javascript:" not in " ".join(tags)


def test_sanitising_strips_dangerous_html_even_from_raw_html() -> None:
    from cards.rendering import sanitize

    cleaned = sanitize('<p onclick="x()">hi<script>alert(1)</script><img src=x onerror=y></p>')
    assert cleaned == '<p>hi<img src="x"></p>'


def test_bad_math_is_reported_not_hidden() -> None:
    with pytest.raises(MathError):
        math_to_mathml("\\frac{a}{b", display=False)
    with pytest.raises(MathError, match="unsupported"):
        math_to_mathml("\\notacommand{x}", display=False)
    assert 'class="math-error"' in render_markdown("$\\notacommand{x}$")


@pytest.mark.parametrize(
    ("latex", "words"),
    [
        ("\\left( x", "a \\left without its \\right"),
        ("x^", "a ^ or _ with nothing after it"),
        ("\\begin{matrix} a", "a \\begin without its \\end"),
        ("\\sqrt", "a command without its argument"),
        ("\\newcommand x", "it does not parse"),
    ],
)
def test_a_math_error_says_what_is_wrong_in_words_not_exception_names(
    latex: str, words: str
) -> None:
    with pytest.raises(MathError) as caught:
        math_to_mathml(latex, display=False)
    assert str(caught.value) == f"{words} in “{latex}”"


def test_a_math_error_quotes_the_latex_as_written() -> None:
    with pytest.raises(MathError) as caught:
        math_to_mathml("\\frac{1}{", display=False)
    assert str(caught.value) == "unbalanced '{' in “\\frac{1}{”"
    assert "\\\\" not in str(caught.value)


# --- Size cap: hostile input is refused before it is parsed ---------------------------


@pytest.mark.parametrize("unit", ["*a ", "[", "[a](", "$x^2$ "])
def test_text_over_the_cap_is_refused_without_parsing(unit: str) -> None:
    text = unit * (900_000 // len(unit))
    started = time.perf_counter()
    html = render_markdown(text)
    assert math_problems(text) == [f"the text is longer than 20,000 characters ({len(text):,})"]
    assert math_snippets(text) == []
    assert time.perf_counter() - started < 0.1
    assert html == (
        f'<p class="render-refused">Not shown: this text is longer than 20,000 characters '
        f"({len(text):,}).</p>"
    )


def test_text_at_the_cap_still_renders() -> None:
    text = ("word " * 4000)[:MAX_TEXT]
    assert len(text) == MAX_TEXT
    assert render_markdown(text).startswith("<p>word word")


# --- Text inside math, and no style from a card ---------------------------------------


@pytest.mark.parametrize(
    "latex",
    [
        r"\text{<b>x</b>}",
        r"\textbf{<i>y</i>}",
        r"\mbox{<a href=https://example.com>z</a>}",
        r"x \tag{<s>1</s>}",
        r"\unicode{<u>}",
        r"\text{<table><tr><td style=position:fixed>x</td></tr></table>}",
    ],
)
def test_text_inside_math_is_escaped_not_passed_as_markup(latex: str) -> None:
    for mathml in (math_to_mathml(latex, display=False), render_markdown(f"$${latex}$$")):
        inner = re.sub(r"</?(math|mrow|mtext|mi|mstyle|p|div)\b[^>]*>", "", mathml)
        assert "<" not in inner, mathml
    assert "&lt;" in render_markdown(f"${latex}$")


def test_symbols_still_come_out_as_characters() -> None:
    html = render_markdown(r"$a \leq b \neq c$ and $\text{a < b}$")
    assert "<mo>≤</mo>" in html
    assert "<mo>≠</mo>" in html
    assert "a&nbsp;&lt;&nbsp;b" in html


def test_no_style_attribute_survives_from_card_content() -> None:
    html = render_markdown(
        "| a | b |\n|--:|:-:|\n| [x](https://example.com) | 2 |\n\n"
        r"$\text{<td style='position:fixed;width:100vw;height:100vh'>}$"
    )
    assert not re.search(r"<[^>]*\sstyle=", html)
    assert "&lt;td&nbsp;style=" in html  # shown as the text it is
    assert '<td class="align-right">' in html
    assert '<th class="align-center">' in html
    cleaned = sanitize('<table><tr><td style="position:fixed" class="modal">x</td></tr></table>')
    assert "style" not in cleaned
    assert "modal" not in cleaned
