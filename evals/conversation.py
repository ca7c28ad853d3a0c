"""Drive one conversation through the real turn path (`Agent.handle_turn`) and record every turn.

Scripted turns are sent as written, at the times the scenario gives (default 45 s apart on the
scenario clock); a `lead` turn goes through the real lead intake (`channels.leads.LeadIntake`, dry-run
senders) and its first response is read back from the timeline. A simulated customer gets each
reply and answers until it stops.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any

from agent.turn import Agent
from agent.types import InboundMessage
from evals.brains import RecordingBrain
from evals.env import RunStores
from evals.results import TurnRecord
from evals.scenario import Scenario, Turn, parse_duration
from evals.scoring import capabilities
from evals.seed import localize
from evals.simulator import CustomerSide

DEFAULT_GAP = dt.timedelta(seconds=45)


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@dataclass
class Conversation:
    scenario: Scenario
    run: RunStores
    agent: Agent
    recorder: RecordingBrain
    visitor_id: str
    turns: list[TurnRecord] = field(default_factory=list)
    customer_id: str | None = None
    brain_usage: dict[str, int] = field(default_factory=dict)
    _last_at: dt.datetime | None = None

    # --- timing ---------------------------------------------------------------------------------
    def _advance(self, turn: Turn | None) -> dt.datetime:
        tz = self.run.dealer.tz
        clock = self.run.clock
        if turn is not None and turn.at is not None:
            target = localize(turn.at, tz)
        elif self._last_at is None:
            target = clock.now + (parse_duration(turn.after) if turn is not None and turn.after else dt.timedelta())
        else:
            gap = parse_duration(turn.after) if turn is not None and turn.after is not None else DEFAULT_GAP
            target = self._last_at + gap
        clock.advance_to(target)
        self._last_at = clock.now
        return clock.now

    # --- one customer message -------------------------------------------------------------------
    def _message(self, text: str, channel: str, turn: Turn | None) -> InboundMessage:
        c = self.scenario.customer
        t = turn or Turn(say=text)
        ident: dict[str, str | None] = {"phone": t.phone, "email": t.email, "visitor_id": t.visitor_id}
        if channel == "chat":
            ident["visitor_id"] = ident["visitor_id"] or self.visitor_id
        elif channel in {"sms", "voice"}:
            ident["phone"] = ident["phone"] or c.phone
        elif channel == "email":
            ident["email"] = ident["email"] or c.email
        return InboundMessage(
            dealer=self.run.id,
            channel=channel,  # type: ignore[arg-type]
            text=text,
            delivery_id=f"eval-{len(self.turns) + 1}",
            meta=dict(t.meta),
            **ident,
        )

    async def say(self, text: str, channel: str, turn: Turn | None = None, *, simulated: bool = False) -> TurnRecord:
        at = self._advance(turn)
        msg = self._message(text, channel, turn)
        self.recorder.take()
        started = time.perf_counter()
        result = await self.agent.handle_turn(msg)
        latency = (time.perf_counter() - started) * 1000
        await self.agent.services.drain()
        self.customer_id = result.customer_id
        self.run.customers.add(result.customer_id)
        calls = self.recorder.take()
        call = calls[-1] if calls else None
        out = call.output if call else None
        facts = call.inp.deps.facts if call else None
        usage = _json_safe(out.usage) if out and out.usage else {}
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            if isinstance(usage.get(key), int):
                self.brain_usage[key] = self.brain_usage.get(key, 0) + usage[key]
        tool_calls = _json_safe(facts.calls) if facts else []
        rec = TurnRecord(
            index=len(self.turns) + 1,
            channel=channel,
            at=at.astimezone(self.run.dealer.tz).isoformat(),
            customer=text,
            customer_id=result.customer_id,
            replies=[r.text for r in result.replies],
            suppressed=result.suppressed,
            latency_ms=round(latency, 1),
            intent=out.intent if out else None,
            brain=result.brain or (out.brain if out else None),
            prompt_version=result.prompt_version or None,
            tool_calls=tool_calls,
            capabilities=capabilities(
                tool_calls,
                facts,
                intent=out.intent if out else None,
                handoff=bool(result.handoff_id),
                profile_updates=bool(out and (out.profile_updates or out.interests)),
            ),
            disclosed={
                "vins": sorted(facts.vins),
                "prices": sorted(facts.prices),
                "slots": sorted(facts.slots),
                "appointments": sorted(facts.appointments),
                "knowledge_passages": len(facts.knowledge),
            }
            if facts
            else {},
            usage=usage,
            handoff_id=result.handoff_id,
            simulated=simulated,
        )
        self.turns.append(rec)
        return rec

    # --- one lead ---------------------------------------------------------------------------------
    async def lead(self, turn: Turn) -> TurnRecord:
        from channels.adf import Lead
        from channels.leads import DryRunEmailSender, LeadIntake
        from channels.twilio_common import DryRunSender

        assert turn.lead is not None
        at = self._advance(turn)
        svc = self.agent.services
        intake = LeadIntake(
            self.agent,
            self.run.dealer,
            DryRunSender(svc.redis, svc.keys, self.run.dealer, clock=svc.clock),
            DryRunEmailSender(svc.timeline, svc.clock),
        )
        lead = Lead.model_validate(turn.lead)
        self.recorder.take()
        started = time.perf_counter()
        _, body = await intake.accept(lead, "json")
        await intake.drain()
        latency = (time.perf_counter() - started) * 1000
        await svc.drain()
        cid = str(body.get("customer_id"))
        self.customer_id = cid
        self.run.customers.add(cid)
        calls = self.recorder.take()
        out = calls[-1].output if calls else None
        facts = calls[-1].inp.deps.facts if calls else None
        sources = await svc.customers.sources((await svc.customers.primary_of(cid)).id)
        events = await svc.timeline.read(sources, after=at - dt.timedelta(milliseconds=1))
        inbound = next((e for e in events if e.direction == "inbound" and e.kind == "message"), None)
        lead_event = next((e for e in events if e.kind == "lead"), None)
        replies = [e.text for e in events if e.direction == "outbound" and e.kind == "message"]
        outcome = (lead_event.meta.get("response") if lead_event else None) or body.get("response")
        provider = lead.provider_name or "lead provider"
        rec = TurnRecord(
            index=len(self.turns) + 1,
            kind="lead",
            channel=str(body.get("channel") or "lead"),
            at=at.astimezone(self.run.dealer.tz).isoformat(),
            customer=f"[lead from {provider}] " + (inbound.text if inbound else (lead.comments or "")),
            customer_id=cid,
            replies=replies,
            suppressed=None if replies else str(outcome),
            latency_ms=round(latency, 1),
            intent=out.intent if out else None,
            brain=out.brain if out else None,
            prompt_version=out.prompt_version if out else None,
            tool_calls=_json_safe(facts.calls) if facts else [],
            capabilities=capabilities(
                facts.calls if facts else [],
                facts,
                intent=out.intent if out else None,
                handoff=bool(out and out.handoff),
                profile_updates=bool(out and (out.profile_updates or out.interests)),
            ),
            usage=_json_safe(out.usage) if out and out.usage else {},
        )
        self.turns.append(rec)
        return rec

    # --- whole conversations ----------------------------------------------------------------------
    async def scripted(self) -> None:
        for turn in self.scenario.turns:
            if turn.lead is not None:
                await self.lead(turn)
            else:
                assert turn.say is not None
                await self.say(turn.say, turn.channel or self.scenario.customer.channel, turn)

    async def simulated(self, customer: CustomerSide, channel: str) -> None:
        last: str | None = None
        while True:
            text = await customer.next_message(last)
            if text is None:
                return
            rec = await self.say(text, channel, simulated=True)
            last = "\n".join(rec.replies) if rec.replies else ""
