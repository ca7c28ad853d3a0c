"""The inbound side of consent: keywords and plain-language revocation are recorded in the ledger
before anything else in the turn, confirmed once, and an opted-out customer gets no reply.

Chat is the conversation the customer is having right now, so the consent gate (SMS, voice, email)
doesn't silence it; a revocation typed into chat is recorded for the channels it names.
"""

from __future__ import annotations

import re
from typing import Any

from agent.guards import guard_reply
from agent.state import TurnContext
from tools.consent import ConsentGate, ConsentIntent

GATED = ("sms", "voice", "email")


async def apply(ctx: TurnContext, intent: ConsentIntent) -> tuple[bool, str]:
    """Act on a consent message. Returns (handled, reply); not handled means answer it normally
    (a YES from a customer who never opted out is just a yes)."""
    gate = ConsentGate.from_deps(ctx.deps)
    msg, at = ctx.message, ctx.message.at
    evidence: dict[str, Any] = {**intent.evidence(), "arrived_on": msg.channel, "delivery_id": msg.delivery_id}
    if intent.kind == "help":
        return True, guard_reply("help", msg.channel, ctx.deps.dealer)
    if intent.kind == "opt_in":
        state = await gate.state(ctx.sources, at=at)
        opted_out = [c for c in intent.channels if state.status(c, "transactional") == "opted_out"]
        if intent.only_if_opted_out and not opted_out:
            return False, ""
        await gate.record_opt_in(
            ctx.customer.id,
            channels=intent.channels,
            purposes=intent.purposes,
            source=intent.source,
            evidence=evidence,
            actor="customer",
            at=at,
        )
        return True, guard_reply("opt_in_confirm", msg.channel, ctx.deps.dealer)
    before = await gate.state(ctx.sources, at=at)
    already = all(before.status(c, p) == "opted_out" for c in intent.channels for p in intent.purposes)
    # A repeated request is still evidence worth keeping, but it changes nothing: no second confirmation.
    await gate.record_opt_out(
        ctx.customer.id,
        channels=intent.channels,
        purposes=intent.purposes,
        source=intent.source,
        evidence=evidence,
        actor="customer",
        at=at,
    )
    if already and msg.channel in GATED:
        return True, ""
    if msg.channel in GATED:
        decision = await gate.claim_confirmation(ctx.sources, channel=msg.channel, at=at)
        if not decision.allowed:
            return True, ""  # already confirmed once: say nothing more
    marketing_only = set(intent.purposes) == {"marketing"}
    return True, guard_reply("opt_out_marketing_confirm" if marketing_only else "opt_out_confirm", msg.channel,
                             ctx.deps.dealer)  # fmt: skip


def rest_of_message(text: str, matched: str) -> str:
    """What a message asks besides its consent request ("dont text me anymore. also do u have any
    4runners" -> "also do u have any 4runners"): its clauses without the one that made the request."""
    phrase = matched.split(": ", 1)[-1].strip().lower()  # the classifier labels it ("dont_contact: dont text me")
    if not phrase:
        return ""
    clauses = [c.strip() for c in re.split(r"(?<=[.!?;,])\s+|\n+", text) if c.strip()]
    rest = [c for c in clauses if phrase not in c.lower()]
    joined = " ".join(rest).strip()
    return joined if len(re.findall(r"[A-Za-z0-9']+", joined)) >= 3 else ""


async def reply_blocked(ctx: TurnContext) -> str | None:
    """Why a reply on this channel may not be sent (e.g. the customer opted out), or None."""
    msg = ctx.message
    if msg.channel not in GATED:
        return None
    decision = await ConsentGate.from_deps(ctx.deps).check_send(
        ctx.sources,
        channel=msg.channel,
        purpose="transactional",
        to_phone=msg.phone,
        at=msg.at,
        proactive=False,
        entries=ctx.prefetched.get("consent"),
    )
    return None if decision.allowed else decision.reason
