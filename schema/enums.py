from enum import Enum

import strawberry

from models.history import EventKind
from models.incident import IncidentStatus as StatusValue


@strawberry.enum
class Role(Enum):
    STAFF = strawberry.enum_value(
        "STAFF", description="Records concerns; sees the incidents they added."
    )
    KEY_USER = strawberry.enum_value(
        "KEY_USER",
        description=(
            "Sees every incident of the school, sets status and assignment, "
            "can be assigned."
        ),
    )
    ADMIN = strawberry.enum_value(
        "ADMIN", description="Admin Key Holder: a Key User who may also bulk-close."
    )


@strawberry.enum
class IncidentStatus(Enum):
    ACTIVE = "ACTIVE"
    CLOSED = strawberry.enum_value(
        "CLOSED",
        description=(
            "Closed: the students stay monitored for the incident's categories."
        ),
    )
    NO_FURTHER_ACTION = strawberry.enum_value(
        "NO_FURTHER_ACTION",
        description="No Further Action: monitoring for the incident's categories ends.",
    )

    def to_model(self) -> StatusValue:
        return StatusValue(self.value)


@strawberry.enum
class IncidentEventKind(Enum):
    ADDED = "ADDED"
    ASSIGNED = strawberry.enum_value(
        "ASSIGNED",
        description="Assignment changed; toAssignee is null when assigned to nobody.",
    )
    STATUS_CHANGED = "STATUS_CHANGED"
    ALERT_SENT = strawberry.enum_value(
        "ALERT_SENT",
        description="The alert email to the assignee was accepted by the mail server.",
    )
    ALERT_FAILED = strawberry.enum_value(
        "ALERT_FAILED",
        description="The alert email could not be delivered after every retry.",
    )


__all__ = ["EventKind", "IncidentEventKind", "IncidentStatus", "Role"]
