"""Appointment data: bookable `Slot`s, stored `Appointment`s with their history, and `SlotUnavailable`.

Appointments are stored in UTC and rendered in the dealer's timezone; slots are aware local times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator

from tools.context import ToolError
from tools.dates import clock_label, day_label

Status = Literal["booked", "cancelled", "completed", "no_show"]
UTC = dt.UTC


@dataclass(frozen=True)
class Slot:
    """A bookable start time with places left. Times are aware, in the dealer's timezone."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    department: str
    remaining: int

    @property
    def iso(self) -> str:
        """The value tools show and accept (local time with offset)."""
        return self.starts_at.isoformat()

    def label(self, tz: ZoneInfo | None = None) -> str:
        """ "Thu Nov 26, 10:00 AM" in `tz` (default: the slot's own zone)."""
        local = self.starts_at.astimezone(tz) if tz else self.starts_at
        return f"{day_label(local.date())}, {clock_label(local)}"


class HistoryEntry(BaseModel):
    at: dt.datetime
    action: Literal["rescheduled", "cancelled", "completed", "no_show"]
    previous_starts_at: dt.datetime | None = None
    reason: str | None = None
    by: str | None = None  # channel that made the change (chat, sms, staff …)


class Appointment(BaseModel):
    """One appointment as stored. Times are UTC; `to_api` renders them in the dealer's timezone."""

    id: str
    dealer: str
    customer_id: str
    department: str
    kind: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    vin: str | None = None
    status: Status = "booked"
    created_at: dt.datetime
    updated_at: dt.datetime
    notes: str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    timezone: str = "UTC"
    idempotency_key: str | None = None

    @field_validator("starts_at", "ends_at", "created_at", "updated_at")
    @classmethod
    def _utc(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("appointment times must carry a UTC offset")
        return v.astimezone(UTC)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def active(self) -> bool:
        return self.status == "booked"

    def local_start(self) -> dt.datetime:
        return self.starts_at.astimezone(self.tz)

    def label(self) -> str:
        local = self.local_start()
        return f"{day_label(local.date())}, {clock_label(local)}"

    def to_api(self) -> dict[str, Any]:
        """The Staff API shape (DESIGN.md), ISO 8601 with the dealer's offset."""
        tz = self.tz
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "department": self.department,
            "kind": self.kind,
            "starts_at": self.starts_at.astimezone(tz).isoformat(),
            "ends_at": self.ends_at.astimezone(tz).isoformat(),
            "vin": self.vin,
            "status": self.status,
            "notes": self.notes,
            "created_at": self.created_at.astimezone(tz).isoformat(),
            "updated_at": self.updated_at.astimezone(tz).isoformat(),
            "history": [
                {
                    "at": h.at.astimezone(tz).isoformat(),
                    "action": h.action,
                    "previous_starts_at": h.previous_starts_at.astimezone(tz).isoformat()
                    if h.previous_starts_at
                    else None,
                    "reason": h.reason,
                }
                for h in self.history
            ],
        }


class SlotUnavailable(ToolError):
    """The asked-for time can't be booked; `alternatives` are real open slots nearby."""

    def __init__(self, message: str, alternatives: Sequence[Slot], reason: str) -> None:
        self.alternatives = list(alternatives)
        self.reason = reason  # full | closed | too_soon | too_far | off_grid | past
        if self.alternatives:
            message += " Nearest openings: " + "; ".join(f"{s.label()} [{s.iso}]" for s in self.alternatives)
        else:
            message += " There are no openings nearby."
        super().__init__(message)
