"""The dealer configuration (YAML): who the dealership is, its hours, appointment rules and staff.

Loaded once by the composition root and passed to tools as a plain value.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Address(BaseModel):
    street: str
    city: str
    state: str
    zip: str

    def one_line(self) -> str:
        return f"{self.street}, {self.city}, {self.state} {self.zip}"


class OpenHours(BaseModel):
    """Opening time ranges for one weekday; empty means closed."""

    ranges: list[tuple[dt.time, dt.time]] = Field(default_factory=list)

    @classmethod
    def parse(cls, value: str | None) -> OpenHours:
        if value is None or str(value).strip().lower() in {"", "closed"}:
            return cls()
        ranges = []
        for part in str(value).split(","):
            start, end = (dt.time.fromisoformat(p.strip()) for p in part.split("-"))
            if end <= start:
                raise ValueError(f"closing time before opening time in {value!r}")
            ranges.append((start, end))
        return cls(ranges=ranges)


class AppointmentRules(BaseModel):
    slot_minutes: int = Field(30, ge=5, le=240)
    capacity_per_slot: int = Field(1, ge=1)
    min_lead_minutes: int = Field(60, ge=0)
    horizon_days: int = Field(14, ge=1, le=180)
    kinds: list[str] = Field(default_factory=list)


class Department(BaseModel):
    model_config = ConfigDict(extra="allow")

    label: str = ""
    phone: str | None = None
    hours: dict[str, str | None] = Field(default_factory=dict)
    appointments: AppointmentRules | None = None

    @field_validator("hours")
    @classmethod
    def _check_hours(cls, v: dict[str, str | None]) -> dict[str, str | None]:
        for day, spec in v.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; use {', '.join(WEEKDAYS)}")
            OpenHours.parse(spec)
        return v

    def open_hours(self, day: dt.date) -> OpenHours:
        return OpenHours.parse(self.hours.get(WEEKDAYS[day.weekday()]))


class Holiday(BaseModel):
    date: dt.date
    name: str
    closed: list[str] | Literal["all"] = "all"  # department names, or all

    def closes(self, department: str) -> bool:
        return self.closed == "all" or department in self.closed


class StaffMember(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. languages spoken

    id: str
    name: str
    team: str  # e.g. sales, service, bdc
    role: Literal["agent", "manager", "admin"] = "agent"
    email: str | None = None
    phone: str | None = None
    shifts: dict[str, str | None] = Field(default_factory=dict)  # weekday -> "09:00-17:00"


class MessagingPolicy(BaseModel):
    """Dealer overrides of the consent gate's defaults (counsel may tighten, never loosen the law)."""

    model_config = ConfigDict(extra="allow")

    quiet_hours_start: dt.time | None = None  # e.g. 09:00 to be stricter than federal 08:00
    quiet_hours_end: dt.time | None = None
    max_proactive_per_24h: int | None = None
    sms_max_chars: int = 320


class HandoffPolicy(BaseModel):
    sla_minutes: int = 5
    after_hours_sla_minutes: int = 60


class DealerConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: str
    timezone: str
    address: Address
    phone: str
    website: str
    state: str = Field(min_length=2, max_length=2)
    departments: dict[str, Department]
    holidays: list[Holiday] = Field(default_factory=list)
    staff: list[StaffMember] = Field(default_factory=list)
    messaging: MessagingPolicy = Field(default_factory=MessagingPolicy)
    handoff: HandoffPolicy = Field(default_factory=HandoffPolicy)
    inventory_feed: str | None = None  # path relative to the config file
    knowledge_dir: str | None = None  # folder of markdown documents, relative to the config file
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        ZoneInfo(v)  # raises for an unknown zone
        return v

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def department(self, name: str) -> Department:
        try:
            return self.departments[name]
        except KeyError:
            raise KeyError(f"{self.name} has no {name!r} department") from None

    def holiday_on(self, day: dt.date, department: str) -> Holiday | None:
        for h in self.holidays:
            if h.date == day and h.closes(department):
                return h
        return None

    def is_open(self, department: str, at: dt.datetime) -> bool:
        local = at.astimezone(self.tz)
        if self.holiday_on(local.date(), department):
            return False
        t = local.time()
        return any(s <= t < e for s, e in self.department(department).open_hours(local.date()).ranges)

    def path(self, relative: str | None) -> Path | None:
        return None if relative is None else (self.base_dir / relative).resolve()


def load_dealer_config(path: Path) -> DealerConfig:
    """Read and validate a dealer config file; relative paths in it resolve against its folder."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a dealer config must be a YAML mapping")
    cfg = DealerConfig.model_validate(data)
    cfg.base_dir = Path(path).resolve().parent
    return cfg
