"""A real SMTP server on localhost that keeps what it is sent, for tests and the benchmark.

Built on aiosmtpd. Besides accepting mail it can misbehave on purpose, as real mail
servers do: refuse the next few messages with a transient 451, refuse some recipients for
good (550), drop the connection in the middle of a message, or stall before answering
(so a sender can be killed while a message is with the server).
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

_handed_out: list[int] = []


def free_port() -> int:
    """A free port on localhost: any, or on a machine whose ports are shared out, one of
    ``CADENCE_TEST_PORTS`` (``8125-8128``), taking them in turn so that two calls before
    either port is bound do not get the same one."""
    first, _, last = os.environ.get("CADENCE_TEST_PORTS", "").partition("-")
    if not first:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])
    ports = list(range(int(first), int(last or first) + 1))
    start = ports.index(_handed_out[-1]) + 1 if _handed_out and _handed_out[-1] in ports else 0
    for port in ports[start:] + ports[:start]:
        with socket.socket() as probe:
            # As the servers bind (SO_REUSEADDR): a port whose last connections are still
            # in TIME_WAIT is free for them.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.append(port)
        return port
    raise RuntimeError(f"no free port in CADENCE_TEST_PORTS={first}-{last}")


@dataclass
class SinkHandler:
    messages: list[bytes] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    # Misbehaviour, set by the test:
    transient_failures: int = 0  # answer the next N messages with 451
    refuse: set[str] = field(default_factory=set)  # answer RCPT TO for these with 550
    drop_at: int | None = None  # drop the connection on the Nth DATA (1-based, once)
    drop_at_rcpt: int | None = None  # drop it on the Nth RCPT instead, before any message
    stall_at: int | None = None  # never answer from the Nth DATA on
    data_seen: int = 0
    rcpt_seen: int = 0
    count_only: bool = False  # the benchmark: keep a count, not the bytes
    pipelining: bool = True  # offer PIPELINING (RFC 2920), as most mail servers do
    on_data: Callable[[int], None] | None = None  # called with the DATA count, before answering
    received: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            # aiosmtpd reads each command in turn, so pipelined ones are simply queued.
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            self.rcpt_seen += 1
            if self.rcpt_seen == self.drop_at_rcpt:
                server.transport.close()
                return "421 4.4.2 Connection dropped"
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.data_seen += 1
            seen = self.data_seen
        if self.on_data is not None:
            self.on_data(seen)
        with self.lock:
            if self.transient_failures > 0:
                self.transient_failures -= 1
                return "451 4.3.0 Try again later"
        if self.stall_at is not None and seen >= self.stall_at:
            await asyncio.sleep(3600)
        if self.drop_at is not None and seen == self.drop_at:
            server.transport.close()
            return "421 4.4.2 Connection dropped"
        with self.lock:
            self.received += 1
            if not self.count_only:
                self.messages.append(envelope.content)
                self.recipients.extend(envelope.rcpt_tos)
        return "250 OK: queued"


class SmtpSink:
    """``with SmtpSink() as sink:`` serves on ``sink.port`` until the block ends."""

    def __init__(self, handler: SinkHandler | None = None, port: int | None = None) -> None:
        self.handler = handler or SinkHandler()
        self.port = port or free_port()
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, ready_timeout=10
        )

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop(no_assert=True)

    @property
    def emails(self) -> list[EmailMessage]:
        with self.handler.lock:
            raw = list(self.handler.messages)
        return [
            email.message_from_bytes(m, _class=EmailMessage, policy=email.policy.default)
            for m in raw
        ]

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.handler.received >= count:
                return True
            time.sleep(0.05)
        return self.handler.received >= count

    def mailer_settings(
        self, timeout: int = 10, backend: str = "django.core.mail.backends.smtp.EmailBackend"
    ) -> dict[str, dict[str, object]]:
        """A MAILERS setting that sends here."""
        return {
            "default": {
                "BACKEND": backend,
                "OPTIONS": {
                    "host": "127.0.0.1",
                    "port": self.port,
                    "use_tls": False,
                    "timeout": timeout,
                },
            }
        }


class _CountingSmtp(asyncio.Protocol):
    """The least SMTP that takes mail: offers PIPELINING (RFC 2920), replies 250 to
    everything, 354 to DATA, and counts each message at its final dot. For the benchmark,
    where aiosmtpd's line-by-line parsing would use more CPU than the sender being
    measured. The replies to what one read brought are written together, as a pipelining
    server may."""

    count = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.buffer = b""
        self.scanned = 0  # how far the buffer is known to hold no end of message
        self.in_data = False
        transport.write(b"220 sink ready\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies: list[bytes] = []
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n", self.scanned)
                if end < 0:
                    self.scanned = max(len(self.buffer) - 4, 0)
                    break
                self.buffer = self.buffer[end + 5 :]
                self.scanned = 0
                self.in_data = False
                _CountingSmtp.count += 1
                replies.append(b"250 queued\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            verb = line[:4].upper()
            if verb == b"DATA":
                self.in_data = True
                # The message may begin right here (the CRLF before its dot counts).
                self.buffer = b"\r\n" + self.buffer
                replies.append(b"354 go ahead\r\n")
            elif verb == b"EHLO":
                replies.append(b"250-sink\r\n250 PIPELINING\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"".join(replies) + b"221 bye\r\n")
                self.transport.close()
                return
            else:
                replies.append(b"250 ok\r\n")
        if replies:
            self.transport.write(b"".join(replies))


def main() -> None:
    """Run a counting sink in its own process (the benchmark): prints the count each second."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_CountingSmtp, "127.0.0.1", args.port)
        print("ready", flush=True)  # noqa: T201
        async with server:
            while True:
                await asyncio.sleep(1)
                print(_CountingSmtp.count, flush=True)  # noqa: T201

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
