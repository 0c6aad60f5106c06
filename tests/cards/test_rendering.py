from __future__ import annotations

import re

import pytest

from cards.rendering import MathError, code_blocks, math_to_mathml, render_markdown


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


def test_a_math_error_quotes_the_latex_as_written() -> None:
    with pytest.raises(MathError) as caught:
        math_to_mathml("\\frac{1}{", display=False)
    assert str(caught.value) == "unbalanced '{' in “\\frac{1}{”"
    assert "\\\\" not in str(caught.value)
