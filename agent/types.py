"""The values that cross the agent's boundary: what a channel hands in, what a brain gives back.

Channels know only `InboundMessage` -> `TurnResult`. Brains know only `BrainInput` -> `BrainOutput`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from memory.customers import Customer
from tools.context import ToolDeps

Channel = Literal["chat", "sms", "voice", "email", "lead"]

# Channel limits the outbound guard enforces (DESIGN.md quality bars).
SMS_MAX_CHARS = 320
VOICE_MAX_SENTENCES = 2

# Set (True) in an InboundMessage's meta by a channel that had the text's memory recall prepared
# ahead of the turn (`agent.turn.Services.prepare_recall`), e.g. while an SMS burst waited.
RECALL_PREPARED = "recall_prepared"


@dataclass
class InboundMessage:
    """One customer message from any touchpoint, already verified and parsed by its channel."""

    dealer: str
    channel: Channel
    text: str
    phone: str | None = None
    email: str | None = None
    visitor_id: str | None = None
    name: str | None = None
    delivery_id: str | None = None  # Twilio MessageSid / CallSid+n / client message id: idempotency
    at: dt.datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # media urls, utm/gclid, page url, lead fields


@dataclass
class VehicleCard:
    vin: str
    title: str
    price: int | None
    mileage: int | None
    stock_number: str | None
    photo_url: str | None
    vdp_url: str | None
    status: str = "available"


@dataclass
class Reply:
    text: str
    quick_replies: list[str] = field(default_factory=list)  # buttons on chat; spoken as options on voice
    cards: list[VehicleCard] = field(default_factory=list)


@dataclass
class HandoffRequest:
    reason: str  # customer_request | complaint | legal | credit | hot_lead | cannot_help | other
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    summary: str = ""


@dataclass
class TurnResult:
    customer_id: str
    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False  # a delivery seen before: nothing was processed again
    suppressed: str | None = None  # why no reply was sent (human owns it, opted out, ...)
    handoff_id: str | None = None
    end_call: bool = False  # voice: hand the call to a person
    brain: str = ""  # offline | llm | llm->offline (fallback)
    prompt_version: str = ""
    turn_id: str = ""
    outbound_event_id: str | None = None  # the reply's timeline event: senders record delivery on it


Emit = Callable[[str], Awaitable[None]]


@dataclass
class BrainInput:
    """Everything a brain may use for one turn. Identity lives in `deps`, not in the text."""

    text: str
    channel: Channel
    customer: Customer
    deps: ToolDeps  # dealer config, stores, clock, facts recorder, customer id
    history: list[dict[str, str]]  # recent turns, oldest first: {"role": "customer"|"assistant"|"staff", "text"}
    summary: str = ""  # rolling summary of older history
    memories: list[str] = field(default_factory=list)  # cross-channel recollections for this message
    dialogue: dict[str, Any] = field(default_factory=dict)  # the brain's own slots, checkpointed
    meta: dict[str, Any] = field(default_factory=dict)  # channel metadata (page viewed, lead fields)
    emit: Emit | None = None  # stream text deltas (the guard sits between this and the customer)


@dataclass
class BrainOutput:
    reply: Reply
    dialogue: dict[str, Any] = field(default_factory=dict)  # replaces BrainInput.dialogue
    handoff: HandoffRequest | None = None
    intent: str = ""
    profile_updates: dict[str, Any] = field(default_factory=dict)  # name, email, phone, trade_in, budget...
    interests: list[dict[str, Any]] = field(default_factory=list)  # {"description", "vin", "stock_number"}
    brain: str = ""
    prompt_version: str = ""
    usage: dict[str, Any] = field(default_factory=dict)  # tokens etc. when an LLM ran


class Brain(Protocol):
    name: str

    async def respond(self, inp: BrainInput) -> BrainOutput: ...
