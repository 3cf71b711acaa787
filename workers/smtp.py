"""Delivery to the SMTP server named by SMTP_URL over reused sessions, with
failures sorted into those worth retrying and those that are final."""

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

# Idle sessions are closed after this: a relay need not keep them for us.
_MAX_IDLE_S = 10.0
# A session idle for longer is checked with NOOP before it is used again.
_CHECK_AFTER_IDLE_S = 1.0

# scheme -> (implicit TLS, STARTTLS required, default port)
_SCHEMES = {
    "smtp": (False, False, 25),
    "smtp+starttls": (False, True, 587),
    "smtp+tls": (False, True, 587),
    "smtps": (True, False, 465),
    "smtp+ssl": (True, False, 465),
}

_BOOLEANS = {
    "true": True,
    "1": True,
    "yes": True,
    "false": False,
    "0": False,
    "no": False,
}


@dataclass(frozen=True, slots=True)
class SmtpServer:
    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool
    # Named in EHLO. Left None, aiosmtplib looks up this host's name (a DNS
    # query, in a thread) for every message.
    local_hostname: str | None = None
    # PEM file of the CAs to trust for TLS; None: the system's.
    cert_bundle: str | None = None


def smtp_server_from_url(url: str) -> SmtpServer:
    """Parse `smtp://` (plain), `smtp+starttls://` or `smtps://` (implicit TLS).

    `smtp://...?starttls=true` is the same as `smtp+starttls://...`.
    `user:password@` credentials are percent-decoded; an unknown scheme or
    option raises `ValueError`, so a typo in SMTP_URL fails at start-up.
    """
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ValueError(f"unsupported SMTP URL scheme {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("an SMTP URL needs a host")
    use_tls, start_tls, default_port = _SCHEMES[parts.scheme]
    start_tls = start_tls or _starttls_option(parts.query)
    if use_tls and start_tls:
        raise ValueError("smtps:// is already TLS; drop starttls=true")
    return SmtpServer(
        hostname=parts.hostname,
        port=parts.port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=start_tls,
    )


def _starttls_option(query: str) -> bool:
    options = parse_qs(query)
    unknown = set(options) - {"starttls"}
    if unknown:
        raise ValueError(f"unknown SMTP URL option {sorted(unknown)[0]!r}")
    value = options.get("starttls", ["false"])[0].lower()
    if value not in _BOOLEANS:
        raise ValueError(f"starttls must be true or false, got {value!r}")
    return _BOOLEANS[value]


class DeliveryFailed(Exception):
    """The server did not take the message. `reason` is safe to log: the
    exception class and reply code, never the server's text, which may echo
    an address."""

    def __init__(self, reason: str, *, permanent: bool, detail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        # The server's own words, for the outbox row rather than the log.
        self.detail = detail


class SmtpSessions:
    """Sends messages over SMTP sessions kept open between them.

    A session per message costs a TCP (and TLS) handshake, EHLO and login
    each time, more than the message: 1.6 ms of CPU per message against 0.7
    ms on a kept session, without TLS, on the development machine. A session
    carries one message at a time; one that failed in any way is closed,
    never reused, and one left idle is closed after _MAX_IDLE_S.
    """

    def __init__(self, server: SmtpServer, timeout_s: float) -> None:
        self._server = server
        self._timeout_s = timeout_s
        # Most recently used last; each with the timer that will close it.
        self._idle: list[tuple[aiosmtplib.SMTP, float, asyncio.TimerHandle]] = []
        self._closing: set[asyncio.Task[None]] = set()

    async def send(self, sender: str, recipient: str, content: bytes) -> None:
        """Send one message; raises DeliveryFailed if the server did not take it.

        `content` is the message as it goes on the wire, CRLF line ends.
        """
        try:
            client = await self._session()
            try:
                await client.sendmail(sender, [recipient], content)
            except BaseException:
                client.close()
                raise
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            raise _failed(error, codes[0] if codes else None) from error
        except aiosmtplib.SMTPResponseException as error:
            raise _failed(error, error.code) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            # Refused connections, timeouts, dropped sessions: the server may
            # be back soon.
            raise _failed(error, None) from error
        self._keep(client)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client, _, timer in idle:
            timer.cancel()
            await _quit(client)
        await asyncio.gather(*self._closing)

    async def _session(self) -> aiosmtplib.SMTP:
        while self._idle:
            client, idle_since_s, timer = self._idle.pop()
            timer.cancel()
            if await _still_open(client, time.monotonic() - idle_since_s):
                return client
            client.close()
        client = aiosmtplib.SMTP(
            hostname=self._server.hostname,
            port=self._server.port,
            username=self._server.username,
            password=self._server.password,
            use_tls=self._server.use_tls,
            cert_bundle=self._server.cert_bundle,
            # False, not None: aiosmtplib would otherwise upgrade whenever the
            # server offers it, and the URL is where that choice is made.
            start_tls=self._server.start_tls,
            local_hostname=self._server.local_hostname,
            timeout=self._timeout_s,
        )
        await client.connect()
        return client

    def _keep(self, client: aiosmtplib.SMTP) -> None:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(_MAX_IDLE_S, self._expire, client)
        self._idle.append((client, time.monotonic(), timer))

    def _expire(self, client: aiosmtplib.SMTP) -> None:
        self._idle = [entry for entry in self._idle if entry[0] is not client]
        closing = asyncio.create_task(_quit(client))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


async def _still_open(client: aiosmtplib.SMTP, idle_s: float) -> bool:
    if not client.is_connected:
        return False
    if idle_s < _CHECK_AFTER_IDLE_S:
        return True
    # A server may have dropped the session meanwhile; finding out now costs
    # a round trip, finding out at MAIL FROM would cost a counted attempt.
    try:
        await client.noop()
    except (aiosmtplib.SMTPException, OSError):
        return False
    return True


def _failed(error: Exception, code: int | None) -> DeliveryFailed:
    name = type(error).__name__
    reason = f"{name} {code}" if code is not None else name
    return DeliveryFailed(
        reason,
        # 5xx is the server's final word; 4xx, and no reply at all, are not.
        permanent=code is not None and code >= 500,
        detail=f"{reason}: {error}",
    )
