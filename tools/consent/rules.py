"""The consent rule book: `consent_rules.yaml` validated into pydantic models, and its loader.

Federal and state calling hours, per-24 h caps, written-consent states, the revoke-all switch and
the STOP/START/HELP keywords all live in the YAML (tools/consent_rules.yaml), so counsel can adjust
them without touching code.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from memory.consent import Channel
from tools.consent.normalise import _squash

RULES_PATH = Path(__file__).parent.with_name("consent_rules.yaml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Window(BaseModel):
    """Allowed sending hours [start, end) in the recipient's local time."""

    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"window ends before it starts: {self.start}-{self.end}")
        return self

    def label(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class StateRule(BaseModel):
    name: str
    quiet_hours: Window | None = None
    weekday_hours: dict[str, Window] = Field(default_factory=dict)
    max_proactive_per_24h: int | None = Field(default=None, ge=0)
    written_consent_for_automated_marketing: bool = False
    timezones: list[str] = Field(default_factory=list)
    area_codes: list[str] = Field(default_factory=list)
    source: str

    @field_validator("weekday_hours")
    @classmethod
    def _days(cls, v: dict[str, Window]) -> dict[str, Window]:
        bad = set(v) - set(WEEKDAYS)
        if bad:
            raise ValueError(f"unknown weekdays {sorted(bad)}; use {', '.join(WEEKDAYS)}")
        return v

    @field_validator("timezones")
    @classmethod
    def _zones(cls, v: list[str]) -> list[str]:
        for z in v:
            ZoneInfo(z)
        return v

    @field_validator("area_codes")
    @classmethod
    def _npas(cls, v: list[str]) -> list[str]:
        for code in v:
            if not re.fullmatch(r"[2-9]\d\d", code):
                raise ValueError(f"not a NANP area code: {code!r}")
        return v

    def window_on(self, day: dt.date) -> Window | None:
        return self.weekday_hours.get(WEEKDAYS[day.weekday()]) or self.quiet_hours


class ChannelRule(BaseModel):
    quiet_hours: bool = True
    state_rules: bool = True
    marketing_requires_opt_in: bool = True


class FederalRule(BaseModel):
    quiet_hours: Window
    source: str


class RevokeAllRule(BaseModel):
    mode: Literal["auto", "on", "off"] = "auto"
    effective_date: dt.date
    timezone: str = "America/New_York"
    source: str = ""

    @field_validator("mode", mode="before")
    @classmethod
    def _yaml_bool(cls, v: Any) -> Any:  # YAML 1.1 reads a bare on/off as a boolean
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v

    def active(self, at: dt.datetime) -> bool:
        if self.mode != "auto":
            return self.mode == "on"
        starts = dt.datetime.combine(self.effective_date, dt.time(0), tzinfo=ZoneInfo(self.timezone))
        return at >= starts


class ConfirmationRule(BaseModel):
    window_minutes: int = Field(default=5, ge=0)
    source: str = ""


class Keywords(BaseModel):
    opt_out: list[str]
    opt_in: list[str]
    opt_in_if_opted_out: list[str] = Field(default_factory=list)
    help: list[str]

    @field_validator("opt_out", "opt_in", "opt_in_if_opted_out", "help", mode="before")
    @classmethod
    def _upper(cls, v: list[Any]) -> list[str]:
        return [_squash(str(k)) for k in v]


class ConsentRules(BaseModel):
    """The whole rule book, validated. Load with `load_consent_rules`."""

    model_config = ConfigDict(frozen=True)

    version: str
    federal: FederalRule
    channels: dict[Channel, ChannelRule]
    cap_window_hours: int = Field(default=24, ge=1)
    states: dict[str, StateRule]
    revoke_all: RevokeAllRule
    opt_out_confirmation: ConfirmationRule = Field(default_factory=ConfirmationRule)
    keywords: Keywords

    @model_validator(mode="after")
    def _unique_area_codes(self) -> ConsentRules:
        seen: dict[str, str] = {}
        for code, rule in self.states.items():
            if not re.fullmatch(r"[A-Z]{2}", code):
                raise ValueError(f"state codes are two capital letters: {code!r}")
            for npa in rule.area_codes:
                if npa in seen:
                    raise ValueError(f"area code {npa} listed under both {seen[npa]} and {code}")
                seen[npa] = code
        return self

    @cached_property
    def area_code_states(self) -> dict[str, str]:
        return {npa: code for code, rule in self.states.items() for npa in rule.area_codes}

    def channel(self, channel: Channel) -> ChannelRule:
        return self.channels.get(channel) or ChannelRule()


def load_consent_rules(path: Path | None = None) -> ConsentRules:
    """Read and validate a rules file (default: the one shipped beside this module)."""
    if path is None:
        return _default_rules()
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return ConsentRules.model_validate(data)


@lru_cache(maxsize=1)
def _default_rules() -> ConsentRules:
    return ConsentRules.model_validate(yaml.safe_load(RULES_PATH.read_text(encoding="utf-8")))
