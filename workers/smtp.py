"""Delivery to the SMTP server named by SMTP_URL, with failures sorted into
those worth retrying and those that are final."""

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

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


async def deliver(
    server: SmtpServer, sender: str, recipient: str, content: bytes, timeout_s: float
) -> None:
    """Send one message; raises DeliveryFailed if the server did not take it.

    `content` is the message as it goes on the wire, CRLF line ends.
    """
    try:
        await aiosmtplib.send(
            content,
            sender=sender,
            recipients=[recipient],
            hostname=server.hostname,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.use_tls,
            # False, not None: aiosmtplib would otherwise upgrade whenever the
            # server offers it, and the URL is where that choice is made.
            start_tls=server.start_tls,
            local_hostname=server.local_hostname,
            timeout=timeout_s,
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        codes = [refused.code for refused in error.recipients]
        raise _failed(error, codes[0] if codes else None) from error
    except aiosmtplib.SMTPResponseException as error:
        raise _failed(error, error.code) from error
    except (aiosmtplib.SMTPException, OSError) as error:
        # Refused connections, timeouts, dropped sessions: the server may be
        # back soon.
        raise _failed(error, None) from error


def _failed(error: Exception, code: int | None) -> DeliveryFailed:
    name = type(error).__name__
    reason = f"{name} {code}" if code is not None else name
    return DeliveryFailed(
        reason,
        # 5xx is the server's final word; 4xx, and no reply at all, are not.
        permanent=code is not None and code >= 500,
        detail=f"{reason}: {error}",
    )
