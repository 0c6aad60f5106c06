"""The fast ways of building the e-mails give exactly what the plain ways give."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.mail.backends.smtp import EmailBackend

from config.mail import SmtpBackend
from prep.emails import BatchRenderer, _address, _formatted_address, email_message, email_render
from tests.integration.smtp_sink import SinkHandler, SmtpSink

HEADERS = {
    "Date": "Mon, 23 Nov 2026 07:00:00 GMT",
    "Message-ID": "<cadence.daily.1.2026-11-23@cadence.example.org>",
    "List-Unsubscribe": "<https://cadence.example.org/email/unsubscribe/" + "x" * 120 + "/>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


@pytest.mark.parametrize(
    ("subject", "text", "html", "to"),
    [
        ("12 cards due", "Hi Lena,\n\n- 12 reviews due\n", "<p>Hi</p>\n", ["lena@example.com"]),
        ("12 cards due · RLHF week", "Hi Zoë,\r\nline\rline\n", "<p>Zoë</p>", ["Zoë <z@ex.org>"]),
        ("No html part", "only text", "", ["a@example.com", "B <b@example.com>"]),
        ("Long", "x" * 2000 + "\n" + "é" * 900, "<p>" + "y" * 1500 + "</p>", ["a@ex.org"]),
        ("Empty", "", "", ["a@ex.org"]),
    ],
)
def test_the_wire_bytes_are_the_bytes_the_standard_library_writes(
    subject: str, text: str, html: str, to: list[str]
) -> None:
    message = email_message(subject=subject, text=text, html=html, to=to, headers=HEADERS)
    written = message.message().as_bytes()
    boundary = re.search(rb'boundary="([^"]+)"', written)
    assert boundary is not None
    assert message.wire_bytes(boundary=boundary[1].decode()) == written


def test_a_header_that_would_need_folding_falls_back_to_the_standard_library() -> None:
    message = email_message(
        subject="two\nlines", text="t", html="", to=["a@ex.org"], headers=HEADERS
    )
    assert message.wire_bytes() is None


def test_the_wire_boundary_never_occurs_in_the_parts() -> None:
    message = email_message(subject="s", text="body", html="<p>x</p>", to=["a@ex.org"])
    wire = message.wire_bytes()
    assert wire is not None
    boundary = re.search(rb'boundary="([^"]+)"', wire)
    assert boundary is not None
    assert wire.count(b"--" + boundary[1]) == 3  # two parts and the close


def context(**values: Any) -> dict[str, Any]:
    return {
        "name": "Lena",
        "day": "Monday 23 November",
        "cards": 12,
        "due": 10,
        "new": 2,
        "repeat": 0,
        "streak": 4,
        "days_to_go": 9,
        "has_week": True,
        "week_label": "RLHF week",
        "week_title": "RLHF & reward <models>",
        "items_left": 2,
        "items": [{"title": "Sketch <the> pipeline", "minutes": 60}],
        "more_items": 0,
        "unsubscribe_url": "https://cadence.example.org/email/unsubscribe/1.daily:abc/",
        "review_url": "https://cadence.example.org/review/",
        "home_url": "https://cadence.example.org/",
        "plan_url": "https://cadence.example.org/plan/",
        "profile_url": "https://cadence.example.org/accounts/profile/",
        **values,
    }


NAMES = ["Lena", "O'Brien & <b>Sons</b>", 'Zoë "Z"', "a  b\nc", "{{ name }}", "%s"]


@pytest.mark.parametrize("name", NAMES)
def test_a_batch_renderer_gives_what_a_direct_render_gives(name: str) -> None:
    renderer = BatchRenderer("daily_reminder", slots=("name", "unsubscribe_url"))
    renderer.CHECKED = 0  # no safety net: the kept renderings alone must be right
    for values in [
        {},
        {"name": name},
        {"name": name, "unsubscribe_url": f"https://x.example/u/{name}/?a=1&b=2"},
        {"name": name, "cards": 0, "due": 0, "new": 0, "has_week": False},
        {"name": name, "streak": 0, "days_to_go": 0},
    ]:
        wanted = email_render(template="daily_reminder", context=context(**values))
        assert renderer.render(context(**values)) == wanted


def test_a_batch_renderer_renders_each_shape_of_email_once() -> None:
    renderer = BatchRenderer("daily_reminder", slots=("name", "unsubscribe_url"))
    for n in range(50):
        renderer.render(context(name=f"user{n}", due=n % 3, unsubscribe_url=f"https://x/{n}"))
    assert renderer.renders == 3
    assert not renderer.direct


def test_a_batch_renderer_whose_slot_is_not_printed_plainly_renders_directly() -> None:
    # "days_to_go" is tested in the templates, not printed: it cannot be a slot.
    renderer = BatchRenderer("daily_reminder", slots=("name", "days_to_go"))
    first = renderer.render(context(days_to_go=0))
    assert renderer.direct
    assert first == email_render(template="daily_reminder", context=context(days_to_go=0))
    later = renderer.render(context(days_to_go=5))
    assert later == email_render(template="daily_reminder", context=context(days_to_go=5))


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], bytes]] = []

    def sendmail(self, from_addr: str, to_addrs: list[str], msg: bytes) -> None:
        self.sent.append((from_addr, to_addrs, msg))

    def ehlo_or_helo_if_needed(self) -> None:
        pass

    def has_extn(self, name: str) -> bool:
        return False  # no PIPELINING: the plain sendmail above


def backend(cls: type[EmailBackend]) -> EmailBackend:
    made = cls(
        host="127.0.0.1",
        port=25,
        username="",
        password="",
        use_tls=False,
        use_ssl=False,
        timeout=1,
        ssl_keyfile="",
        ssl_certfile="",
    )
    made.connection = Recorder()  # type: ignore[assignment]
    return made


def boundaryless(data: bytes) -> bytes:
    boundary = re.search(rb'boundary="([^"]+)"', data)
    assert boundary is not None
    return data.replace(boundary[1], b"BOUNDARY")


# Built by hand, not through mail.mailers: the test hands it a recording connection.
BUILT_BY_HAND = pytest.mark.filterwarnings("ignore:Directly creating EmailBackend")


@BUILT_BY_HAND
@pytest.mark.parametrize(
    "to", [["lena@example.com"], ["Zoë <zoe@example.com>", "x.y+z@sub.example.org"]]
)
def test_the_smtp_backend_hands_over_what_djangos_would(to: list[str]) -> None:
    message = email_message(subject="s", text="Hi Zoë", html="<p>x</p>", to=to, headers=HEADERS)
    ours, djangos = backend(SmtpBackend), backend(EmailBackend)
    ours.send_messages([message])
    djangos.send_messages([message])
    [(our_from, our_to, our_data)] = ours.connection.sent  # type: ignore[union-attr]
    [(their_from, their_to, their_data)] = djangos.connection.sent  # type: ignore[union-attr]
    assert (our_from, our_to) == (their_from, their_to)
    assert boundaryless(our_data) == boundaryless(their_data)


@BUILT_BY_HAND
def test_the_smtp_backend_refuses_an_address_django_refuses() -> None:
    message = email_message(
        subject="s", text="t", html="", to=["evil@example.com\nBcc: x@y.z"], headers=HEADERS
    )
    with pytest.raises(ValueError):  # noqa: PT011 - Django's own refusal
        backend(SmtpBackend).send_messages([message])


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_real_server_receives_from_our_backend_what_djangos_sends(
    pipelining: bool, settings: Any
) -> None:
    """Pipelined (RFC 2920) or not, the server gets the same envelope and message, a line
    that starts with a period included, and the connection goes on to the next one."""
    messages = [
        email_message(
            subject=f"s{n}",
            text=f"Hi\n.dot line\n..two\n{n}",
            html="<p>x</p>",
            to=to,
            headers=HEADERS,
        )
        for n, to in enumerate([["a@example.com"], ["Zoë <z@example.com>", "b@example.com"]])
    ]
    received = {}
    for name in ("config.mail.SmtpBackend", "django.core.mail.backends.smtp.EmailBackend"):
        with SmtpSink(SinkHandler(pipelining=pipelining)) as sink:
            settings.MAILERS = sink.mailer_settings(timeout=5, backend=name)
            from django.core import mail

            mail.mailers.default.send_messages(messages)
            assert sink.wait_for(2, timeout=5)
            received[name] = (
                sink.handler.recipients,
                [boundaryless(m) for m in sink.handler.messages],
            )
    ours, djangos = received.values()
    assert ours == djangos
    assert ours[0] == ["a@example.com", "z@example.com", "b@example.com"]
    assert b"\r\n.dot line\r\n..two\r\n" in ours[1][0]


@pytest.mark.parametrize(
    "address",
    [
        "lena@example.com",
        "x.y+z@sub.example.org",
        "o'brien!#$%&*/=?^_`{|}~-@ex-ample.co.uk",
        "Zoë <zoe@example.com>",
        "Lena <lena@example.com>",
        '"a b"@example.com',
        "a..b@example.com",
        "user@[127.0.0.1]",
    ],
)
def test_a_bare_address_is_written_as_parsing_and_formatting_would(address: str) -> None:
    assert _address(address) == _formatted_address(address)
