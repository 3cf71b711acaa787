"""The alert email: plain text and HTML from templates/, and its headers.

It names the school, the incident number, who assigned it and where to read
it. Nothing else about the incident is loaded, so nothing else can leak: no
student, no category, no description.
"""

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from models.alerts import Alert
from models.incident import IncidentStatus

# The same encoding as node(id), so the link opens what the API serves.
from resolvers.ids import encode_id

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


def render_alert(
    alert: Alert, *, app_url: str, mail_from: str, at: datetime
) -> EmailMessage:
    fields = _fields(alert, app_url)
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = Address(alert.recipient_name, addr_spec=alert.recipient_email)
    message["Subject"] = fields["subject"]
    message["Date"] = format_datetime(at)
    message["Message-ID"] = alert_message_id(alert, mail_from)
    # RFC 3834: out-of-office replies and the like must not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(_TEMPLATES.get_template("alert.txt").render(fields))
    html = _TEMPLATES.get_template("alert.html").render(fields)
    message.add_alternative(html, subtype="html")
    return message


def alert_message_id(alert: Alert, mail_from: str) -> str:
    """Fixed per outbox row, so a copy sent twice (see docs/alerts.md) carries
    the same id and mail clients that collapse duplicates show it once."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    created_s = int(alert.created_at.timestamp())
    return f"<alert.{alert.id}.{created_s}@{domain}>"


def _fields(alert: Alert, app_url: str) -> dict[str, Any]:
    base = app_url.rstrip("/")
    fields: dict[str, Any] = {
        "recipient_name": alert.recipient_name,
        "actor_name": alert.actor_name or UNKNOWN_ACTOR,
        "school_name": alert.school_name,
        "handover": alert.is_handover,
    }
    if alert.incident_id is None:
        count = alert.incident_count
        incidents = f"{count} incident{'' if count == 1 else 's'}"
        subject = f"{incidents} handed over to you - {alert.school_name}"
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
        "subject": f"Incident {number} assigned to you - {alert.school_name}",
    }
