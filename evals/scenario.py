"""The scenario format: what a suite file says, validated with pydantic.

A suite is one YAML file (`evals/suites/<suite>.yaml`) with `suite:`, an optional `defaults:` block
(deep-merged into every scenario) and `scenarios:`. A scenario names the dealership fixture, the
customer and any prior state, the customer's side (scripted `turns` and/or a `user` persona + goal
for a simulated customer) and `expect`: the end state of the stores plus content rules. See
evals/README.md for the full format with an example.

Unknown keys are errors (a typo in an expectation must not silently pass), and every error names
its file and line.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Channel = Literal["chat", "sms", "voice", "email"]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s|ms)")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
STOP_SIGNAL = "###STOP###"


def parse_duration(value: str | int | float) -> dt.timedelta:
    """ "90s", "30m", "2h", "1d2h", "1w" (a bare number is seconds)."""
    if isinstance(value, int | float):
        return dt.timedelta(seconds=value)
    text = value.strip().lower().replace(" ", "")
    pos, total = 0, dt.timedelta()
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        n, unit = float(m.group(1)), m.group(2)
        total += {
            "w": dt.timedelta(weeks=n),
            "d": dt.timedelta(days=n),
            "h": dt.timedelta(hours=n),
            "m": dt.timedelta(minutes=n),
            "s": dt.timedelta(seconds=n),
            "ms": dt.timedelta(milliseconds=n),
        }[unit]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 30m, 2h, 1d, 1d2h)")
    return total


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


Duration = str | int | float


def _check_duration(v: Duration | None) -> Duration | None:
    if v is not None:
        parse_duration(v)
    return v


# --- content matchers ---------------------------------------------------------------------------


class Regex(Strict):
    """`{regex: "..."}`: a case-insensitive regular expression."""

    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"bad regex {v!r}: {exc}") from None
        return v


class AnyOf(Strict):
    """`{any: [...]}`: at least one of the matchers."""

    any: list[Match] = Field(min_length=1)


# A plain string is a phrase (case-insensitive substring, whitespace-tolerant).
Match = str | Regex | AnyOf
AnyOf.model_rebuild()


# --- seeding -------------------------------------------------------------------------------------


class When(Strict):
    """A moment before the scenario starts: `ago: 3d` or an absolute local `at:`."""

    ago: Duration | None = None
    at: dt.datetime | None = None

    @field_validator("ago")
    @classmethod
    def _ago(cls, v: Duration | None) -> Duration | None:
        return _check_duration(v)


class ConsentSeed(When):
    channel: Literal["sms", "voice", "email"]
    purpose: Literal["marketing", "transactional"] = "marketing"
    action: Literal["opt_in", "opt_out"] = "opt_in"
    source: Literal["keyword", "natural_language", "web_form", "staff", "carrier_error", "lead_form", "import"] = (
        "web_form"
    )
    written: bool = False
    scope: Literal["purpose", "channel", "all"] | None = None
    evidence: dict[str, Any] = Field(
        default_factory=lambda: {
            "text": "I agree to receive texts from the dealership. Reply STOP to opt out.",
            "url": "https://www.bayviewtoyota.example/contact",
            "seeded_by": "eval",
        }
    )


class NoteSeed(When):
    text: str
    author: str = "staff:maria-delgado"


class HistorySeed(When):
    """A message on the customer's timeline before the scenario (also remembered in vector memory)."""

    channel: Literal["chat", "sms", "voice", "email", "lead"] = "sms"
    direction: Literal["inbound", "outbound"] = "inbound"
    text: str
    actor: str | None = None  # default: customer (inbound) / ai (outbound)


class AppointmentSeed(Strict):
    department: str
    kind: str
    starts_at: dt.datetime  # dealer-local wall clock when naive
    vin: str | None = None
    stock_number: str | None = None
    notes: str | None = None


class InterestSeed(Strict):
    description: str | None = None
    vin: str | None = None
    stock_number: str | None = None

    @model_validator(mode="after")
    def _something(self) -> InterestSeed:
        if not (self.description or self.vin or self.stock_number):
            raise ValueError("an interest needs a description, vin or stock_number")
        return self


class HandoffSeed(Strict):
    reason: str = "customer_request"
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    status: Literal["open", "claimed"] = "open"
    assignee: str = "staff:kevin-tran"
    summary: str = ""


def _identity(kind: str, value: str | None) -> str | None:
    if value is not None:
        from memory.identity import InvalidIdentity, normalize

        try:
            normalize(kind, value)
        except InvalidIdentity as exc:
            raise ValueError(str(exc)) from None
    return value


class CustomerSeed(Strict):
    """A customer record as it stands when the scenario starts."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    visitor_id: str | None = None
    channel: Channel = "sms"  # the channel scripted turns use unless a turn says otherwise
    state: str | None = None
    timezone: str | None = None
    stage: str | None = None
    budget: dict[str, Any] | None = None
    trade_in: dict[str, Any] | None = None
    interests: list[InterestSeed] = Field(default_factory=list)
    notes: list[NoteSeed] = Field(default_factory=list)
    consent: list[ConsentSeed] = Field(default_factory=list)
    history: list[HistorySeed] = Field(default_factory=list)
    appointments: list[AppointmentSeed] = Field(default_factory=list)
    handoff: HandoffSeed | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return _identity("phone", v)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return _identity("email", v)

    @field_validator("visitor_id")
    @classmethod
    def _visitor(cls, v: str | None) -> str | None:
        return _identity("visitor", v)

    @property
    def seeded(self) -> bool:
        """Whether the record exists before the first turn (anything beyond the identity to use)."""
        return bool(
            self.name
            or self.state
            or self.timezone
            or self.stage
            or self.budget
            or self.trade_in
            or self.interests
            or self.notes
            or self.consent
            or self.history
            or self.appointments
            or self.handoff
        )


class OtherCustomer(CustomerSeed):
    """Someone else in the CRM: their data must never reach our customer."""

    @model_validator(mode="after")
    def _identified(self) -> OtherCustomer:
        if not (self.phone or self.email or self.visitor_id):
            raise ValueError("another customer needs a phone, email or visitor_id")
        return self


class DealerFixture(Strict):
    """The dealership under test; paths are relative to the suite file. Default: the demo dealership."""

    config: str | None = None
    inventory: str | None = None  # default: the config's `inventory_feed`


# --- the customer's side -------------------------------------------------------------------------


class TurnExpect(Strict):
    reply: Literal["required", "none", "any"] = "any"
    require: list[Match] = Field(default_factory=list)
    forbid: list[Match] = Field(default_factory=list)
    max_latency_ms: int | None = Field(default=None, gt=0)


class Turn(Strict):
    """One customer message (`say`) or one lead delivered through the lead intake (`lead`)."""

    say: str | None = None
    lead: dict[str, Any] | None = None  # a JSON lead (channels.adf.Lead fields)
    channel: Channel | None = None
    after: Duration | None = None  # time since the previous turn (default 45s)
    at: dt.datetime | None = None  # absolute dealer-local time instead
    phone: str | None = None  # identity overrides for this message
    email: str | None = None
    visitor_id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)  # e.g. {vdp_stock: T26101} on web chat
    expect: TurnExpect = Field(default_factory=TurnExpect)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        return _identity("phone", v)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return _identity("email", v)

    @field_validator("visitor_id")
    @classmethod
    def _visitor(cls, v: str | None) -> str | None:
        return _identity("visitor", v)

    @field_validator("after")
    @classmethod
    def _after(cls, v: Duration | None) -> Duration | None:
        return _check_duration(v)

    @model_validator(mode="after")
    def _one_kind(self) -> Turn:
        if (self.say is None) == (self.lead is None):
            raise ValueError("a turn has exactly one of `say` (a customer message) or `lead` (a lead)")
        if self.lead is not None:
            from channels.adf import Lead

            Lead.model_validate(self.lead)
        return self


class Persona(Strict):
    """A simulated customer (needs an LLM). `opening` is their first message, if fixed."""

    persona: str
    goal: str
    known: dict[str, Any] = Field(default_factory=dict)  # facts the customer can give when asked
    opening: str | None = None
    channel: Channel | None = None
    max_turns: int = Field(default=8, ge=1, le=30)


# --- expectations --------------------------------------------------------------------------------


class AppointmentExpect(Strict):
    """An active (or `status`) appointment of the customer matching every field given."""

    department: str | None = None
    kind: str | list[str] | None = None
    vin: str | None = None
    stock_number: str | None = None  # resolved to its VIN through the inventory
    date: dt.date | None = None  # dealer-local day
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = None
    starts_at: dt.datetime | None = None  # exact, dealer-local when naive
    between: tuple[dt.datetime, dt.datetime] | None = None  # start within [from, to], inclusive
    time_between: tuple[dt.time, dt.time] | None = None  # local start time within [from, to]
    status: Literal["booked", "cancelled", "completed", "no_show"] = "booked"
    rescheduled: bool | None = None  # the appointment's history shows a reschedule


class ConsentExpect(Strict):
    channel: Literal["sms", "voice", "email"]
    purpose: Literal["marketing", "transactional"]
    status: Literal["opted_in", "opted_out", "unknown"]


class HandoffExpect(Strict):
    reason: str | list[str] | None = None
    min_priority: Literal["low", "normal", "high", "urgent"] | None = None
    priority: str | list[str] | None = None
    team: str | list[str] | None = None
    summary: list[Match] = Field(default_factory=list)  # what staff must be told


class ProfileExpect(Strict):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    budget: dict[str, Any] | None = None
    trade_in: dict[str, Any] | None = None
    interests: list[str | InterestSeed] = Field(default_factory=list)


class ToolCallExpect(Strict):
    """Tool names (`search_inventory`, `book_appointment`, ...) or capabilities that any brain's
    disclosures show: inventory, knowledge, availability, booking, handoff, consent, crm."""

    required: list[str] = Field(default_factory=list)
    forbidden: list[str] = Field(default_factory=list)


class Expectations(Strict):
    appointments: list[AppointmentExpect] = Field(default_factory=list)
    appointment_count: int | None = Field(default=None, ge=0)  # active appointments at the end
    consent: list[ConsentExpect] = Field(default_factory=list)
    handoff: HandoffExpect | bool | None = None  # false: no handoff may be open
    profile: ProfileExpect | None = None
    stage: str | list[str] | None = None
    require: list[Match] = Field(default_factory=list)  # somewhere in the assistant's replies
    forbid: list[Match] = Field(default_factory=list)  # in none of them
    tool_calls: ToolCallExpect | None = None
    max_turns: int | None = Field(default=None, ge=1)  # customer turns the conversation may take
    max_latency_ms: int | None = Field(default=None, gt=0)  # every turn
    rubric: list[str] = Field(default_factory=list)  # judged by an LLM when one is configured
    one_customer: bool = False  # every turn, on every channel, landed on one customer record
    max_outbound: dict[Literal["chat", "sms", "voice", "email"], int] = Field(default_factory=dict)
    # Quality bars every conversation is held to unless a scenario says otherwise:
    prices_match_inventory: bool = True
    no_message_after_opt_out: bool = True
    no_other_customer_data: bool = True
    channel_limits: bool = True


class Scenario(Strict):
    id: str
    title: str
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    skip: str | None = None  # a reason: the scenario is reported as skipped
    now: dt.datetime | None = None  # dealer-local when naive; default Tue 2026-11-17 18:30
    dealer: DealerFixture = Field(default_factory=DealerFixture)
    customer: CustomerSeed = Field(default_factory=CustomerSeed)
    others: list[OtherCustomer] = Field(default_factory=list)
    turns: list[Turn] = Field(default_factory=list)
    user: Persona | None = None
    expect: Expectations = Field(default_factory=Expectations)

    # filled in by the loader
    suite: str = ""
    file: str = ""
    line: int = 0

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("ids are lowercase letters, digits, '-', '_' and '.'")
        return v

    @model_validator(mode="after")
    def _has_a_customer_side(self) -> Scenario:
        if not self.turns and self.user is None:
            raise ValueError("a scenario needs scripted `turns`, a simulated `user` (persona + goal), or both")
        if self.user is not None and (self.user.channel or self.customer.channel) in {"sms", "voice"}:
            if not self.customer.phone:
                raise ValueError("a simulated customer on sms/voice needs customer.phone")
        for t in self.turns:
            if t.say is None:
                continue
            channel = t.channel or self.customer.channel
            if channel in {"sms", "voice"} and not (t.phone or self.customer.phone):
                raise ValueError(f"a {channel} turn needs customer.phone (or the turn's own phone)")
            if channel == "email" and not (t.email or self.customer.email):
                raise ValueError("an email turn needs customer.email (or the turn's own email)")
        return self

    @property
    def key(self) -> str:
        return f"{self.suite}/{self.id}"

    def definition_hash(self) -> str:
        """What the scenario says (not where it sits in its file), hashed."""
        import hashlib

        body = self.model_dump_json(exclude={"file", "line"})
        return hashlib.sha256(body.encode()).hexdigest()[:12]


class Suite(Strict):
    suite: str
    description: str = ""
    defaults: dict[str, Any] = Field(default_factory=dict)
    scenarios: list[Scenario]
    file: str = ""

    @field_validator("suite")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("suite names are lowercase letters, digits, '-', '_' and '.'")
        return v


def resolve_path(base_file: str, relative: str | None) -> Path | None:
    if relative is None:
        return None
    p = Path(relative)
    return p if p.is_absolute() else (Path(base_file).parent / p).resolve()
