"""An e-mail backend that writes each message to its own ``.eml`` file.

Django's file backend appends every message of a connection to one log file; an outbox
of ``.eml`` files opens in any mail client and is easy to read in tests and by hand.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends import smtp
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class OutboxFileBackend(BaseEmailBackend):
    def __init__(self, *, directory: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.directory = Path(directory)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = timezone.now().strftime("%Y%m%dT%H%M%S%fZ")
            final = self.directory / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
            partial = final.with_suffix(".part")
            partial.write_bytes(message.message().as_bytes())
            # A reader never sees a half-written message.
            os.replace(partial, final)
            sent += 1
        return sent


# An addr-spec that needs no parsing: a dot-atom local part at an ASCII host name, as
# Django's prep_address would return it unchanged. Anything else goes through it.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*"
)


class SmtpBackend(smtp.EmailBackend):
    """Django's SMTP backend, taking a message's bytes from its ``wire_bytes()`` when it
    has one (prep.emails.CadenceEmail: the same bytes, written directly), and parsing
    each address once. Other messages go the usual way.

    Such a message goes out pipelined (RFC 2920) when the server offers PIPELINING: see
    :func:`sendmail_pipelined`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._prepared: dict[str, str] = {}

    # Django's own step for one message (not in the type stubs, hence the ignore below).
    def _send(self, email_message: EmailMessage) -> bool:
        wire = getattr(email_message, "wire_bytes", None)
        data = wire() if wire is not None else None
        if data is None:
            return bool(super()._send(email_message))  # type: ignore[misc]
        recipients = email_message.recipients()
        if not recipients:
            return False
        connection = self.connection
        assert connection is not None
        sender = self._address(email_message.from_email)
        to = [self._address(address) for address in recipients]
        try:
            connection.ehlo_or_helo_if_needed()
            if connection.has_extn("pipelining"):
                sendmail_pipelined(connection, sender, to, data)
            else:
                connection.sendmail(sender, to, data)
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True

    def _address(self, address: str) -> str:
        if _PLAIN_ADDRESS.fullmatch(address):
            return address
        prepared = self._prepared.get(address)
        if prepared is None:
            prepared = self._prepared[address] = self.prep_address(address)
        return prepared


_LEADING_PERIOD = re.compile(rb"(?m)^\.")


def sendmail_pipelined(
    connection: smtplib.SMTP, sender: str, recipients: Sequence[str], data: bytes
) -> dict[str, tuple[int, bytes]]:
    """``smtplib.SMTP.sendmail`` with RFC 2920 pipelining, for a server that offers it:
    the envelope (MAIL, each RCPT, DATA) in one write and the message in a second, two
    round trips where smtplib takes three and one a recipient. The same replies raise
    the same exceptions, and a link that breaks is seen where smtplib sees it: in
    :func:`send_data`, the step after which the server may have the message (the sender
    records that e-mail unknown, never sends it again)."""
    options = f" size={len(data)}" if connection.has_extn("size") else ""
    commands = [
        f"mail FROM:{smtplib.quoteaddr(sender)}{options}",
        *(f"rcpt TO:{smtplib.quoteaddr(recipient)}" for recipient in recipients),
        "data",
    ]
    if any("\r" in command or "\n" in command for command in commands):
        raise ValueError("command and arguments contain prohibited newline characters")
    connection.send("".join(f"{command}\r\n" for command in commands))
    code, reply = connection.getreply()
    if code == 421:
        connection.close()
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    sender_refused = None if code == 250 else (code, reply)
    refused: dict[str, tuple[int, bytes]] = {}
    for recipient in recipients:
        code, reply = connection.getreply()
        if code not in (250, 251):
            refused[recipient] = (code, reply)
        if code == 421:
            connection.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = connection.getreply()  # to DATA
    if code == 421:
        connection.close()
        raise smtplib.SMTPDataError(code, reply)
    nobody = sender_refused is not None or len(refused) == len(recipients)
    if code == 354 and not nobody:
        return send_data(connection, data, refused)
    if code == 354:
        # RFC 2920 has the server refuse DATA when no recipient was taken; one that did
        # not gets an empty message, which reaches nobody, to close the transaction.
        connection.send(b".\r\n")
        connection.getreply()
    else:
        _reset(connection)
    if sender_refused is not None:
        raise smtplib.SMTPSenderRefused(*sender_refused, sender)
    if nobody:
        raise smtplib.SMTPRecipientsRefused(refused)
    raise smtplib.SMTPDataError(code, reply)


def send_data(
    connection: smtplib.SMTP, data: bytes, refused: dict[str, tuple[int, bytes]]
) -> dict[str, tuple[int, bytes]]:
    """The message after the server's 354, as ``smtplib.SMTP.data`` sends it (leading
    periods doubled, the closing dot line), and the server's verdict on it."""
    body = _LEADING_PERIOD.sub(b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    connection.send(body + b".\r\n")
    code, reply = connection.getreply()
    if code != 250:
        if code == 421:
            connection.close()
        else:
            _reset(connection)
        raise smtplib.SMTPDataError(code, reply)
    return refused


def _reset(connection: smtplib.SMTP) -> None:
    # As smtplib's own reset after a refusal: a server already gone shows on the next use.
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        connection.rset()
