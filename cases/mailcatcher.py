"""A local SMTP server that keeps what it receives, for development and tests.

It runs aiosmtpd's threaded `Controller`, on its own event loop in a thread,
rather than on the caller's loop: the CLI starts it before any loop exists
(and `cases migrate` never has one), and a test can stop, restart or script it
without caring which loop the code under test is blocked in.
"""

import asyncio
import email.policy
import logging
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

logger = logging.getLogger(__name__)

_REPLY_TEXT = {
    421: "Service not available, closing channel",
    450: "Mailbox unavailable, try again later",
    451: "Local error in processing, try again later",
    452: "Insufficient system storage, try again later",
    550: "Mailbox unavailable",
    552: "Message exceeds storage allocation",
    554: "Transaction failed",
}


class MailCatcher:
    """An SMTP server on 127.0.0.1 that stores each message it accepts.

    Accepted messages are kept in `messages` and, when `mail_dir` is given,
    written there as `.eml` files whose names sort by arrival. `fail_next`
    scripts refusals: the next messages are answered with that code after
    DATA, which aiosmtplib raises as `SMTPDataError` (an
    `SMTPResponseException` carrying `.code`).
    """

    def __init__(
        self,
        mail_dir: Path | None = None,
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        login: tuple[str, str] | None = None,
    ) -> None:
        """`tls`: a server context; with it the catcher requires STARTTLS, or
        speaks TLS from the start when `implicit_tls`. `login`: the one user
        name and password it accepts, and then requires."""
        self.mail_dir = mail_dir
        self._port = port
        self._tls = tls
        self._implicit_tls = implicit_tls
        self._login = login
        # Per accepted message: whether it came over TLS, and the login used.
        self.deliveries: list[tuple[bool, str | None]] = []
        self._controller: _Controller | None = None
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []
        self._failures: list[int] = []
        self._sequence = 0

    @property
    def url(self) -> str:
        if self._controller is None:
            raise RuntimeError("the mail catcher is not running")
        return f"smtp://127.0.0.1:{self._controller.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    def start(self) -> None:
        if self._controller is not None:
            return
        if self.mail_dir is not None:
            self.mail_dir.mkdir(parents=True, exist_ok=True)

        # A Controller's loop is closed by stop(), so each start gets its own.
        handler = _Handler(self._receive)
        controller = _Controller(
            handler, hostname="127.0.0.1", port=self._port, **self._security()
        )
        controller.start()
        self._controller = controller
        # A restart keeps the port, so URLs already handed out stay valid.
        self._port = controller.port

    def _security(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self._tls is not None and self._implicit_tls:
            options["ssl_context"] = self._tls
        elif self._tls is not None:
            options |= {"tls_context": self._tls, "require_starttls": True}
        if self._login is not None:
            options |= {
                "authenticator": _Authenticator(*self._login),
                "auth_required": True,
                # aiosmtpd counts only STARTTLS as TLS; implicit TLS is
                # encrypted from the first byte all the same.
                "auth_require_tls": self._tls is not None and not self._implicit_tls,
            }
        return options

    def stop(self) -> None:
        if self._controller is None:
            return
        self._controller.stop()
        self._controller = None

    def fail_next(self, code: int, count: int = 1) -> None:
        """Refuse the next `count` messages with the SMTP reply `code`."""
        if not 400 <= code <= 599:
            raise ValueError("only 4xx and 5xx replies refuse a message")
        with self._lock:
            self._failures.extend([code] * count)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._failures.clear()
            self.deliveries.clear()

    async def wait_for_messages(
        self, count: int, timeout_s: float = 5.0
    ) -> list[EmailMessage]:
        """Wait until at least `count` messages arrived; return all of them."""
        deadline = time.monotonic() + timeout_s
        while len(self._messages) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{len(self._messages)} of {count} messages within {timeout_s} s"
                )
            await asyncio.sleep(0.02)
        return self.messages

    def __enter__(self) -> "MailCatcher":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _receive(self, envelope: Envelope, tls: bool, login: str | None) -> str:
        with self._lock:
            if self._failures:
                code = self._failures.pop(0)
                return f"{code} {_REPLY_TEXT.get(code, 'Refused by the mail catcher')}"
            self._sequence += 1
            sequence = self._sequence

        raw = _with_envelope_headers(envelope)
        message = BytesParser(
            _class=EmailMessage, policy=email.policy.default
        ).parsebytes(raw)
        if self.mail_dir is not None:
            name = self._write(raw, sequence)
            logger.info("mail catcher stored %s", name)
        with self._lock:
            self._messages.append(message)
            self.deliveries.append((tls, login))
        return "250 Message accepted for delivery"

    def _write(self, raw: bytes, sequence: int) -> str:
        assert self.mail_dir is not None
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{sequence:04d}.eml"
        # Written aside then renamed, so a reader never sees half a message.
        partial = self.mail_dir / f".{name}.part"
        partial.write_bytes(raw)
        partial.rename(self.mail_dir / name)
        return name


def _with_envelope_headers(envelope: Envelope) -> bytes:
    # Bcc recipients appear nowhere in the content, so the envelope is kept
    # in headers, the way aiosmtpd's own Message handler does it.
    content = envelope.original_content or b""
    if isinstance(content, str):
        content = content.encode()
    headers = (
        f"X-MailFrom: {envelope.mail_from}\r\n"
        f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n"
    )
    return headers.encode() + content


class _Handler:
    def __init__(self, receive: Callable[[Envelope, bool, str | None], str]) -> None:
        self._receive = receive

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        transport = server.transport
        tls = transport is not None and bool(transport.get_extra_info("ssl_object"))
        auth: Any = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        return self._receive(envelope, tls, login)


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self._user = user.encode()
        self._password = password.encode()

    def __call__(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        matches = (auth_data.login, auth_data.password) == (self._user, self._password)
        return AuthResult(success=matches, auth_data=auth_data)


class _Controller(Controller):
    """A Controller that can listen on port 0 and learn the port it got."""

    def _trigger_server(self) -> Any:
        # aiosmtpd connects to itself to check that it is up; with port 0 it
        # would dial port 0, so the bound port is read back first.
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        return super()._trigger_server()
