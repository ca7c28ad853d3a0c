"""Consent entry points for code holding ToolDeps (the turn, jobs, the API), and the LangChain tools.

`record_opt_out` / `record_opt_in` write evidenced entries to the append-only ledger
(memory/consent.py); `check_send` asks the gate. The tools take identity from the run config,
never from the model.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from memory.consent import CHANNELS, PURPOSES, Channel, Purpose, Scope, Source
from memory.customers import CustomerStore
from tools.consent.gate import ConsentGate, Decision, SendPurpose
from tools.context import ToolDeps, ToolError, deps_from_config


async def record_opt_out(
    deps: ToolDeps,
    *,
    channels: Channel | Sequence[Channel],
    purposes: Sequence[Purpose] = PURPOSES,
    source: Source,
    evidence: dict[str, Any],
    actor: str,
    at: dt.datetime | None = None,
    scope: Scope | None = None,
    customer_id: str | None = None,
) -> list[str]:
    return await ConsentGate.from_deps(deps).record_opt_out(
        customer_id or deps.require_customer(),
        channels=channels,
        purposes=purposes,
        source=source,
        evidence=evidence,
        actor=actor,
        at=at or deps.now(),
        scope=scope,
    )


async def record_opt_in(
    deps: ToolDeps,
    *,
    channels: Channel | Sequence[Channel],
    purposes: Sequence[Purpose] = ("transactional",),
    source: Source,
    evidence: dict[str, Any],
    actor: str,
    at: dt.datetime | None = None,
    written: bool = False,
    scope: Scope | None = None,
    customer_id: str | None = None,
) -> list[str]:
    return await ConsentGate.from_deps(deps).record_opt_in(
        customer_id or deps.require_customer(),
        channels=channels,
        purposes=purposes,
        source=source,
        evidence=evidence,
        actor=actor,
        at=at or deps.now(),
        written=written,
        scope=scope,
    )


async def check_send(
    deps: ToolDeps,
    customer_ids: Sequence[str],
    *,
    channel: Channel,
    purpose: SendPurpose,
    to_phone: str | None,
    at: dt.datetime,
    proactive: bool,
    recipient_state: str | None = None,
    recipient_timezone: str | None = None,
) -> Decision:
    return await ConsentGate.from_deps(deps).check_send(
        customer_ids,
        channel=channel,
        purpose=purpose,
        to_phone=to_phone,
        at=at,
        proactive=proactive,
        recipient_state=recipient_state,
        recipient_timezone=recipient_timezone,
    )


async def record_send(
    deps: ToolDeps,
    customer_id: str,
    *,
    channel: Channel,
    purpose: SendPurpose,
    at: dt.datetime,
    proactive: bool,
    message_id: str | None = None,
) -> bool:
    return await ConsentGate.from_deps(deps).record_send(
        customer_id, channel=channel, purpose=purpose, at=at, proactive=proactive, message_id=message_id
    )


async def confirmation_allowed(
    deps: ToolDeps, customer_ids: Sequence[str], *, channel: Channel, at: dt.datetime
) -> Decision:
    return await ConsentGate.from_deps(deps).confirmation_allowed(customer_ids, channel=channel, at=at)


async def _journey(deps: ToolDeps) -> tuple[list[str], dict[str, Any]]:
    """All customer ids of this conversation's journey, and what we know of where they live."""
    cid = deps.require_customer()
    store = CustomerStore(deps.redis, deps.keys)
    customer = await store.find(cid)
    if customer is None:
        return [cid], {"to_phone": None}
    where = {
        "to_phone": customer.phones[0] if customer.phones else None,
        "recipient_state": customer.state,
        "recipient_timezone": customer.timezone,
    }
    return await store.sources(cid), where


@tool("record_opt_out")
async def record_opt_out_tool(
    channel: Literal["sms", "voice", "email", "all"], reason: str, config: RunnableConfig
) -> str:
    """Stop contacting the customer on a channel, because they asked.

    Use this whenever the customer says in their own words that they do not want to be contacted
    ("stop texting me", "take me off your list", "don't call me anymore", "unsubscribe me").
    channel: "sms" for text messages, "voice" for phone calls, "email", or "all" when they want no
    contact at all. reason: the customer's own words, quoted exactly.
    Afterwards reply with one short confirmation only — no offers, no questions, no marketing.
    """
    deps = deps_from_config(config)
    if not reason.strip():
        raise ToolError("quote the customer's words in `reason`")
    chans: tuple[Channel, ...] = CHANNELS if channel == "all" else (channel,)
    gate = ConsentGate.from_deps(deps)
    ids, _ = await _journey(deps)
    at = deps.now()
    state = await gate.state(ids, at=at)
    todo = tuple(c for c in chans if state.status(c, "transactional") != "opted_out")
    if todo:
        await gate.record_opt_out(
            deps.require_customer(),
            channels=todo,
            source="natural_language",
            evidence={"text": reason, "conversation_channel": deps.channel, "via": "agent_tool"},
            actor="agent",
            at=at,
        )
    names = ", ".join({"sms": "texts", "voice": "calls", "email": "emails"}[c] for c in chans)
    if not todo:
        return f"Already recorded: the customer receives no {names}. Do not contact them there."
    return f"Recorded: no more {names} to this customer. Confirm in one short sentence, without marketing."


record_opt_out_tool.metadata = {"access": "write"}  # WRITE: idempotent, appends to the ledger
record_opt_out_tool.handle_tool_error = True  # a ToolError becomes a message the model can read


@tool("check_contact_permission")
async def check_contact_permission_tool(
    channel: Literal["sms", "voice", "email"],
    purpose: Literal["marketing", "transactional"],
    config: RunnableConfig,
) -> str:
    """Check whether we may contact this customer on a channel, e.g. before promising a follow-up
    text or call ("I'll text you when it arrives"). purpose: "marketing" for offers, alerts and
    follow-ups; "transactional" for appointment reminders and answers to their own requests.
    Returns the consent on record and whether a message we start could be sent now.
    """
    deps = deps_from_config(config)
    gate = ConsentGate.from_deps(deps)
    ids, where = await _journey(deps)
    at = deps.now()
    state = await gate.state(ids, at=at)
    decision = await gate.check_send(ids, channel=channel, purpose=purpose, at=at, proactive=True, **where)
    return json.dumps(
        {
            "channel": channel,
            "purpose": purpose,
            "consent": state.status(channel, purpose),
            "opted_out": state.blocked(channel, purpose),
            "proactive_allowed_now": decision.allowed,
            "reason": decision.reason,
            "explanation": decision.message,
            "next_allowed_at": decision.next_allowed_at.isoformat() if decision.next_allowed_at else None,
        }
    )


check_contact_permission_tool.metadata = {"access": "read"}
check_contact_permission_tool.handle_tool_error = True

CONSENT_TOOLS = [record_opt_out_tool, check_contact_permission_tool]
