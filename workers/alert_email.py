"""The alert email: plain text and HTML from templates/, and its headers.

It names the school, the incident number, who assigned it and where to read
it. Nothing else about the incident is loaded, so nothing else can leak: no
student, no category, no description.
"""

import binascii
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr, parseaddr
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from models.alerts import Alert
from models.incident import IncidentStatus

# The same encoding as node(id), so the link opens what the API serves.
from models.rows import encode_id

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)

_STATUS_LABELS = {
    IncidentStatus.CLOSED: "Closed",
    IncidentStatus.NO_FURTHER_ACTION: "No further action",
}

UNKNOWN_ACTOR = "A colleague"


@dataclass(frozen=True, slots=True)
class AlertEmail:
    """A rendered alert: its envelope, and the message as it goes on the wire."""

    sender: str
    recipient: str
    content: bytes


def render_alert(
    alert: Alert, *, app_url: str, mail_from: str, at: datetime
) -> AlertEmail:
    """multipart/alternative: plain text, then HTML, both quoted-printable.

    Composed here rather than with the stdlib's `email` classes, whose header
    parsing and folding took nearly half a worker's CPU per alert (bench/alerts.py).
    The structure is fixed and small; tests parse the result with the stdlib.
    Every text from the database goes through _one_line, so a line break in
    a name cannot start a header of its own.
    """
    fields = _fields(alert, app_url)
    sender_name, sender = _parsed(mail_from)
    recipient = _one_line(alert.recipient_email)
    # "=_" never occurs in quoted-printable text: no body can hold the boundary.
    boundary = f"=_alert.{alert.id}"
    headers = [
        ("From", formataddr((sender_name, sender))),
        ("To", formataddr((fields["recipient_name"], recipient))),
        ("Subject", _header(fields["subject"])),
        ("Date", format_datetime(at)),
        ("Message-ID", alert_message_id(alert, sender)),
        # RFC 3834: out-of-office replies and the like must not answer it.
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    plain = _TEMPLATES.get_template("alert.txt").render(fields)
    html = _TEMPLATES.get_template("alert.html").render(fields)
    content = b"".join(
        [
            head.encode(),
            b"\r\n",
            _part("plain", plain, boundary),
            _part("html", html, boundary),
            f"--{boundary}--\r\n".encode(),
        ]
    )
    return AlertEmail(sender, recipient, content)


def alert_message_id(alert: Alert, sender: str) -> str:
    """Fixed per outbox row, so a copy sent twice (see docs/alerts.md) carries
    the same id and mail clients that collapse duplicates show it once."""
    domain = sender.rpartition("@")[2] or "localhost"
    created_s = int(alert.created_at.timestamp())
    return f"<alert.{alert.id}.{created_s}@{domain}>"


def _part(subtype: str, text: str, boundary: str) -> bytes:
    head = (
        f"--{boundary}\r\n"
        f"Content-Type: text/{subtype}; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    lines = text.replace("\r\n", "\n").replace("\n", "\r\n").encode()
    return head.encode() + binascii.b2a_qp(lines, istext=True) + b"\r\n"


@cache
def _parsed(mail_from: str) -> tuple[str, str]:
    return parseaddr(mail_from)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _header(value: str) -> str:
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def _fields(alert: Alert, app_url: str) -> dict[str, Any]:
    base = app_url.rstrip("/")
    school_name = _one_line(alert.school_name)
    fields: dict[str, Any] = {
        "recipient_name": _one_line(alert.recipient_name),
        "actor_name": _one_line(alert.actor_name or UNKNOWN_ACTOR),
        "school_name": school_name,
        "handover": alert.is_handover,
    }
    if alert.incident_id is None:
        count = alert.incident_count
        incidents = f"{count} incident{'' if count == 1 else 's'}"
        subject = f"{incidents} handed over to you - {school_name}"
        return fields | {
            "incidents": incidents,
            "link": f"{base}/incidents",
            "subject": subject,
        }
    number = alert.incident_number
    assert alert.incident_status is not None, "a single alert loads its incident"
    return fields | {
        "number": number,
        "status_label": _STATUS_LABELS.get(alert.incident_status),
        "link": f"{base}/incidents/{encode_id('Incident', alert.incident_id)}",
        "subject": f"Incident {number} assigned to you - {school_name}",
    }
