"""Building Cadence's e-mails: one helper for every message, and the unsubscribe links.

Every e-mail is a template triplet in ``templates/emails/<name>/``: ``subject.txt`` (one
line), ``body.txt`` and ``body.html``. :func:`email_build` renders the three with one
context and returns a multipart/alternative message (plain text first, HTML second, as
RFC 2046 orders them: the last part is the preferred one).

Scheduled e-mails (the daily reminder, the weekly summary) carry a one-click unsubscribe
link (RFC 8058): ``List-Unsubscribe: <https://.../email/unsubscribe/TOKEN/>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``; the same link is in the body. The
token is the user's id and the kind of e-mail, signed with the site's secret key and a
salt of its own, so it cannot be altered to unsubscribe someone else or from another
kind, and works without logging in. It does not expire: an unsubscribe link in an old
e-mail must still work.
"""

from __future__ import annotations

import base64
import functools
import random
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from email.charset import BASE64, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.core.mail.utils import DNS_NAME
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import conditional_escape

UNSUBSCRIBE_SALT = "cadence.emails.unsubscribe"
UNSUBSCRIBE_KINDS = ("daily", "weekly")


@dataclass(frozen=True)
class Unsubscribe:
    user_id: int
    kind: str


def unsubscribe_token(*, user_id: int, kind: str) -> str:
    if kind not in UNSUBSCRIBE_KINDS:
        raise ValueError(f"unknown e-mail kind {kind!r}")
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(f"{user_id}.{kind}")


def unsubscribe_read(token: str) -> Unsubscribe | None:
    """What a token unsubscribes from, or None if it was not made by us (or was altered)."""
    try:
        value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
    except signing.BadSignature:
        return None
    user_id, _, kind = value.partition(".")
    if not user_id.isdigit() or kind not in UNSUBSCRIBE_KINDS:
        return None
    return Unsubscribe(user_id=int(user_id), kind=kind)


def site_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def unsubscribe_url(*, user_id: int, kind: str) -> str:
    token = unsubscribe_token(user_id=user_id, kind=kind)
    return site_url(reverse("email_unsubscribe", args=[token]))


def list_headers(*, unsubscribe: str, message_id: str | None = None) -> dict[str, str]:
    """Headers of a scheduled e-mail: RFC 8058 one-click unsubscribe, RFC 3834 automatic."""
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
    }
    if message_id:
        headers["Message-ID"] = message_id
    return headers


def stable_message_id(*parts: object) -> str:
    """A Message-ID that is the same for the same e-mail (user, kind, date): should one
    ever be delivered twice, mail clients show it once."""
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return "<cadence." + ".".join(str(p) for p in parts) + f"@{host}>"


class _MimePolicy(Compat32):
    """compat32 with CRLF line ends (as SMTP wants them on the wire), lines as long as
    RFC 5322 allows, and no refolding of the headers :func:`_header` has already made
    ASCII: the standard library would parse and refold each one again."""

    def fold(self, name: str, value: Any) -> str:
        if _plain(value):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        if _plain(value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


def _plain(value: Any) -> bool:
    return isinstance(value, str) and value.isascii() and "\n" not in value


MIME_POLICY = _MimePolicy(linesep="\r\n", max_line_length=998)
# Header text that is not ASCII is RFC 2047 base64 ("B"): the "Q" encoder is slow.
_UTF8_HEADERS = Charset("utf-8")
_UTF8_HEADERS.header_encoding = BASE64


class CadenceEmail(EmailMultiAlternatives):
    """A plain-text and HTML e-mail whose MIME form is built with the standard library's
    compat32 classes rather than Django's modern-API builder.

    Two reasons, both measured on the daily reminder: the modern builder folds headers at
    78 characters, and a long ``List-Unsubscribe`` URL has no space to fold at, so it
    comes out as RFC 2047 encoded words that no mail client reads as a link; and it costs
    about 2 ms an e-mail, the largest share of sending 100,000 reminders, where this costs
    about 0.5 ms. Bodies go out as 7bit when ASCII, else base64 (UTF-8); headers are
    RFC 2047-encoded only when they hold non-ASCII text.
    """

    # The legacy Message it returns has all the methods Django's backends call
    # (as_bytes, as_string, headers), not the modern-API extras.
    def message(self, *, policy: Any = None) -> Message:  # type: ignore[override]
        root = MIMEMultipart("alternative", policy=MIME_POLICY)
        for name, value in self._root_headers():
            root[name] = value
        for content, subtype in self._parts():
            root.attach(_text_part(content, subtype))
        return root

    def wire_bytes(self, *, boundary: str | None = None) -> bytes | None:
        """What ``message().as_bytes()`` gives, byte for byte (tests/prep/test_emails.py
        compares the two), written out directly instead of through the standard library's
        generator, which is most of a reminder's cost after rendering. None when a header
        would need folding: then the caller uses :meth:`message`."""
        headers = self._root_headers()
        if not all(_plain(value) for _, value in headers):
            return None
        parts = [_wire_part(content, subtype) for content, subtype in self._parts()]
        boundary = boundary or _boundary("\r\n".join(parts))
        out = [
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\nMIME-Version: 1.0\r\n'
        ]
        out += [f"{name}: {value}\r\n" for name, value in headers]
        out.append(f"\r\n--{boundary}\r\n")
        out.append(f"\r\n--{boundary}\r\n".join(parts))
        out.append(f"\r\n--{boundary}--\r\n")
        return "".join(out).encode("ascii")

    def _root_headers(self) -> list[tuple[str, str]]:
        headers = [
            ("Subject", _header(str(self.subject))),
            ("From", _addresses([self.from_email])),
            ("To", _addresses(self.to)),
        ]
        if self.cc:
            headers.append(("Cc", _addresses(self.cc)))
        if self.reply_to:
            headers.append(("Reply-To", _addresses(self.reply_to)))
        names = {name.lower() for name in self.extra_headers}
        if "date" not in names:
            headers.append(("Date", formatdate(usegmt=True)))
        if "message-id" not in names:
            headers.append(("Message-ID", make_msgid(domain=DNS_NAME.get_fqdn())))
        headers += [(name, _header(str(value))) for name, value in self.extra_headers.items()]
        return headers

    def _parts(self) -> list[tuple[str, str]]:
        return [
            (str(self.body), "plain"),
            *((str(content), mimetype.split("/")[1]) for content, mimetype in self.alternatives),
        ]


_LINE_ENDS = re.compile(r"\r\n|\r|\n")
_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))


def _wire_part(text: str, subtype: str) -> str:
    """One text part as compat32 writes it (see :func:`_text_part`): 7bit when ASCII, else
    base64 of the UTF-8 in 76-character lines; CRLF line ends."""
    if text.isascii():
        head = f'Content-Type: text/{subtype}; charset="us-ascii"\r\n'
        body, encoding = _LINE_ENDS.sub("\r\n", text), "7bit"
    else:
        head = f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        body = base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", "\r\n")
        encoding = "base64"
    return f"{head}MIME-Version: 1.0\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{body}"


def _boundary(text: str) -> str:
    """A boundary of the standard library's shape that does not occur in the parts."""
    while True:
        boundary = "=" * 15 + str(random.randrange(sys.maxsize)).zfill(_BOUNDARY_DIGITS) + "=="
        if f"--{boundary}" not in text:
            return boundary


@functools.lru_cache(maxsize=1024)
def _header(value: str) -> str:
    # Cached: a batch's subjects repeat, and encoding one costs more than writing it out.
    if value.isascii():
        return value
    return Header(value, _UTF8_HEADERS, maxlinelen=76).encode(linesep=" ")


def _addresses(values: Sequence[object]) -> str:
    return ", ".join(_address(str(v)) for v in values)


# A bare addr-spec, a dot-atom local part at an ASCII host name: what parsing and
# formatting it would give back unchanged (tests/prep/test_email_building.py holds it).
_BARE_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*"
)


def _address(value: str) -> str:
    # Each recipient's own address, different on every e-mail: no parsing when bare.
    if _BARE_ADDRESS.fullmatch(value):
        return value
    return _formatted_address(value)


@functools.lru_cache(maxsize=256)
def _formatted_address(value: str) -> str:
    # A non-ASCII display name is RFC 2047-encoded; the address itself is left alone.
    # Cached for the sender's address, the same on every e-mail.
    return formataddr(parseaddr(value), charset=_UTF8_HEADERS)


def _text_part(text: str, subtype: str) -> MIMEText:
    charset = "us-ascii" if text.isascii() else "utf-8"
    return MIMEText(text, subtype, charset, policy=MIME_POLICY)


MAX_LINE = 998


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def email_send(*, subject: str, text: str, html: str, to: list[str]) -> None:
    """Send one rendered e-mail now (the ``prep.deliver_email`` task calls this)."""
    email_message(subject=subject, text=text, html=html, to=to).send()


def email_render(*, template: str, context: dict[str, Any]) -> Rendered:
    """The three parts of ``emails/<template>/{subject.txt,body.txt,body.html}``."""
    raw = _render_raw(template, context)
    return Rendered(subject=" ".join(raw.subject.split()), text=raw.text, html=raw.html)


class BatchRenderer:
    """One template triplet rendered for many recipients, each shape of e-mail once.

    The values that differ from one recipient to the next whatever their day (``slots``:
    the name, the unsubscribe link) are rendered as markers; the three renderings are kept
    per value of the rest of the context, and each recipient's e-mail is the kept one with
    the markers replaced by that recipient's values, escaped for HTML in ``body.html``
    (the text parts turn autoescaping off). So 100,000 reminders that say one of a few
    hundred things cost a few hundred renders, not 100,000.

    Slots must be printed as they are (``{{ name }}``, no filter, no test). The first
    ``CHECKED`` renderings of each renderer are compared with a direct render with the
    recipient's own values; on any difference it renders everything directly.
    """

    CHECKED = 8
    SIZE = 1024

    def __init__(self, template: str, *, slots: Sequence[str]) -> None:
        self.template = template
        token = secrets.token_hex(8)
        self.markers = {slot: f"cadenceslot{token}{n}x" for n, slot in enumerate(slots)}
        self._by_marker = {marker: slot for slot, marker in self.markers.items()}
        self._pattern = re.compile("|".join(self.markers.values()))
        self._kept: dict[str, Rendered] = {}
        self._checks = 0
        self.direct = False  # set when a check failed: render every e-mail directly
        self.renders = 0

    def render(self, context: dict[str, Any]) -> Rendered:
        if self.direct:
            return email_render(template=self.template, context=context)
        key = repr(sorted((k, v) for k, v in context.items() if k not in self.markers))
        kept = self._kept.get(key)
        if kept is None:
            self.renders += 1
            kept = _render_raw(self.template, {**context, **self.markers})
            if len(self._kept) >= self.SIZE:
                self._kept.clear()
            self._kept[key] = kept
        rendered = self._fill(kept, context)
        if self._checks < self.CHECKED:
            self._checks += 1
            if rendered != email_render(template=self.template, context=context):
                self.direct = True
                return email_render(template=self.template, context=context)
        return rendered

    def _fill(self, kept: Rendered, context: dict[str, Any]) -> Rendered:
        plain = {marker: str(context[slot]) for marker, slot in self._by_marker.items()}
        html = {
            marker: str(conditional_escape(context[slot]))
            for marker, slot in self._by_marker.items()
        }
        return Rendered(
            subject=" ".join(self._pattern.sub(lambda m: plain[m[0]], kept.subject).split()),
            text=self._pattern.sub(lambda m: plain[m[0]], kept.text),
            html=self._pattern.sub(lambda m: html[m[0]], kept.html),
        )


def _render_raw(template: str, context: dict[str, Any]) -> Rendered:
    folder = f"emails/{template}"
    return Rendered(
        subject=get_template(f"{folder}/subject.txt").render(context),
        text=get_template(f"{folder}/body.txt").render(context),
        html=get_template(f"{folder}/body.html").render(context),
    )


def email_build(
    *,
    template: str,
    context: dict[str, Any],
    to: list[str],
    headers: dict[str, str] | None = None,
    renderer: BatchRenderer | None = None,
) -> EmailMultiAlternatives:
    """The one way an e-mail is made: a template triplet rendered with one context (by a
    batch's renderer when it has one: the same three texts, fewer renders)."""
    if renderer is not None and renderer.template == template:
        rendered = renderer.render(context)
    else:
        rendered = email_render(template=template, context=context)
    return email_message(
        subject=rendered.subject, text=rendered.text, html=rendered.html, to=to, headers=headers
    )


def email_message(
    *,
    subject: str,
    text: str,
    html: str,
    to: list[str],
    headers: dict[str, str] | None = None,
) -> EmailMultiAlternatives:
    """A rendered e-mail as a message (a worker builds it from what a request rendered)."""
    message = CadenceEmail(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers=headers or {},
    )
    if html:
        message.attach_alternative(html, "text/html")
    return message
