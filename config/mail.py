"""An e-mail backend that writes each message to its own ``.eml`` file.

Django's file backend appends every message of a connection to one log file; an outbox
of ``.eml`` files opens in any mail client and is easy to read in tests and by hand.
"""

from __future__ import annotations

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
    each address once. Other messages go the usual way."""

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
        assert self.connection is not None
        try:
            self.connection.sendmail(
                self._address(email_message.from_email),
                [self._address(address) for address in recipients],
                data,
            )
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
