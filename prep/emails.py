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
        root["Subject"] = _header(str(self.subject))
        root["From"] = _addresses([self.from_email])
        root["To"] = _addresses(self.to)
        if self.cc:
            root["Cc"] = _addresses(self.cc)
        if self.reply_to:
            root["Reply-To"] = _addresses(self.reply_to)
        names = {name.lower() for name in self.extra_headers}
        if "date" not in names:
            root["Date"] = formatdate(usegmt=True)
        if "message-id" not in names:
            root["Message-ID"] = make_msgid(domain=DNS_NAME.get_fqdn())
        for name, value in self.extra_headers.items():
            root[name] = _header(str(value))
        root.attach(_text_part(str(self.body), "plain"))
        for content, mimetype in self.alternatives:
            root.attach(_text_part(str(content), mimetype.split("/")[1]))
        return root


def _header(value: str) -> str:
    if value.isascii():
        return value
    return Header(value, _UTF8_HEADERS, maxlinelen=76).encode(linesep=" ")


def _addresses(values: Sequence[object]) -> str:
    # A non-ASCII display name is RFC 2047-encoded; the address itself is left alone.
    return ", ".join(formataddr(parseaddr(str(v)), charset=_UTF8_HEADERS) for v in values)


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
    folder = f"emails/{template}"
    return Rendered(
        subject=" ".join(get_template(f"{folder}/subject.txt").render(context).split()),
        text=get_template(f"{folder}/body.txt").render(context),
        html=get_template(f"{folder}/body.html").render(context),
    )


def email_build(
    *,
    template: str,
    context: dict[str, Any],
    to: list[str],
    headers: dict[str, str] | None = None,
) -> EmailMultiAlternatives:
    """The one way an e-mail is made: a template triplet rendered with one context."""
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
