"""Getting a staff member's words to the customer, on the channel the handoff came from.

* **sms** — through the SMS sender the composition root built (dry-run or Twilio). The reply is a
  reply to the customer's own conversation (transactional, not proactive); the consent gate is
  asked first and an opted-out customer gets nothing (HTTP 409). The text is written on the timeline
  as an outbound sms event with actor `staff:<id>`; the sender records delivery on that event.
* **chat** — the event is written on the timeline (channel chat, actor `staff:<id>`, the visitor id
  of the customer's latest chat) and published on `staff_delivery_channel(keys)`; the web chat
  process holding the visitor's websocket forwards it. Offline visitors see it in their history.
* **voice** (and any channel we can't write to, e.g. email or a lead) — a callback task: an internal
  timeline event (kind `callback`) and a note on the handoff; the words are what to say on the call.

Pub/sub contract of `staff_delivery_channel(keys)` = `dos:{<dealer>}:staff:delivery`, one JSON text
message per staff reply to a chat customer:
    {"type": "staff_message", "customer_id", "customer_ids": [...], "visitor_id", "visitor_ids": [...],
     "text", "event_id", "at", "handoff_id", "staff": {"id", "name"}}
`customer_ids` are all records of the (merged) customer; deliver to sockets of any listed visitor id.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from channels.staff.auth import Principal
from memory.customers import Customer, CustomerStore
from memory.keys import Keys
from memory.timeline import Timeline, TimelineEvent
from tools.consent import ConsentGate
from tools.dealer import DealerConfig
from tools.handoff import Handoff, staff_delivery_channel


class NotDeliverable(Exception):
    """The message can't go to this customer (opted out, no phone, no sender) -> HTTP 409/503."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Delivered:
    via: str  # sms | chat | callback
    status: str
    event: TimelineEvent
    detail: dict[str, Any] = field(default_factory=dict)

    def to_api(self, tz: Any) -> dict[str, Any]:
        ev = self.event.to_api()
        ev["at"] = self.event.at.astimezone(tz).isoformat()
        return {"via": self.via, "status": self.status, "event": ev, **self.detail}


class StaffDelivery:
    def __init__(
        self,
        redis: Any,
        keys: Keys,
        dealer: DealerConfig,
        *,
        sender: Any,
        clock: Any,
        max_sms_chars: int | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.dealer = dealer
        self.sender = sender
        self.clock = clock
        self.customers = CustomerStore(redis, keys, clock)
        self.timeline = Timeline(redis, keys)
        self.gate = getattr(sender, "gate", None) or ConsentGate(redis, keys, dealer)
        self.max_sms_chars = max_sms_chars or dealer.messaging.sms_max_chars

    async def send(self, handoff: Handoff, who: Principal, text: str) -> Delivered:
        customer = await self.customers.primary_of(handoff.customer_id)
        if handoff.channel == "sms":
            return await self._sms(handoff, customer, who, text)
        if handoff.channel == "chat":
            return await self._chat(handoff, customer, who, text)
        return await self._callback(handoff, customer, who, text)

    def _meta(self, handoff: Handoff, who: Principal) -> dict[str, Any]:
        return {"handoff_id": handoff.id, "staff": {"id": who.id, "name": who.name}}

    async def _sms(self, handoff: Handoff, customer: Customer, who: Principal, text: str) -> Delivered:
        from channels.twilio_common import OutboundSms, split_sms

        if self.sender is None:
            raise NotDeliverable("no SMS sender is configured", status=503)
        if not customer.phones:
            raise NotDeliverable("this customer has no phone number to text")
        to = customer.phones[0]
        now = self.clock()
        ids = await self.customers.sources(customer.id)
        decision = await self.gate.check_send(
            ids,
            channel="sms",
            purpose="transactional",
            to_phone=to,
            at=now,
            proactive=False,
            recipient_state=customer.state,
            recipient_timezone=customer.timezone,
        )
        if not decision.allowed:
            raise NotDeliverable(f"not sent: the customer can't be texted ({decision.reason})")
        event = await self.timeline.append(
            customer.id,
            TimelineEvent(
                at=now,
                channel="sms",
                direction="outbound",
                kind="message",
                text=text,
                actor=who.actor,
                meta=self._meta(handoff, who),
            ),
        )
        parts = split_sms(text, max_chars=self.max_sms_chars)
        results = []
        for i, body in enumerate(parts):
            results.append(
                await self.sender.send_sms(
                    OutboundSms(to=to, body=body, customer_id=customer.id, event_id=event.id, part=i, parts=len(parts))
                )
            )
        status = next((r.status for r in results if not r.sent), results[-1].status if results else "not_sent")
        return Delivered("sms", status, event, {"to": to, "parts": len(parts)})

    async def _latest_visitor(self, ids: list[str], customer: Customer) -> str | None:
        for ev in reversed(await self.timeline.read(ids, limit=200, newest=True)):
            if ev.channel == "chat" and ev.direction == "inbound" and ev.meta.get("visitor_id"):
                return str(ev.meta["visitor_id"])
        return customer.visitor_ids[-1] if customer.visitor_ids else None

    async def _chat(self, handoff: Handoff, customer: Customer, who: Principal, text: str) -> Delivered:
        now = self.clock()
        ids = await self.customers.sources(customer.id)
        visitor = await self._latest_visitor(ids, customer)
        event = await self.timeline.append(
            customer.id,
            TimelineEvent(
                at=now,
                channel="chat",
                direction="outbound",
                kind="message",
                text=text,
                actor=who.actor,
                meta={**self._meta(handoff, who), "visitor_id": visitor},
            ),
        )
        payload = {
            "type": "staff_message",
            "customer_id": customer.id,
            "customer_ids": ids,
            "visitor_id": visitor,
            "visitor_ids": customer.visitor_ids,
            "text": text,
            "event_id": event.id,
            "at": now.isoformat(),
            "handoff_id": handoff.id,
            "staff": {"id": who.id, "name": who.name},
        }
        listeners = int(await self.redis.publish(staff_delivery_channel(self.keys), json.dumps(payload)))
        status = "published" if listeners else "stored"  # stored: shown in the visitor's history on return
        await self.timeline.update_meta(
            customer.id, event.id, {"delivery": {"channel": "chat", "status": status, "listeners": listeners}}
        )
        return Delivered("chat", status, event, {"listeners": listeners})

    async def _callback(self, handoff: Handoff, customer: Customer, who: Principal, text: str) -> Delivered:
        now = self.clock()
        phone = customer.phones[0] if customer.phones else None
        event = await self.timeline.append(
            customer.id,
            TimelineEvent(
                at=now,
                channel=handoff.channel if handoff.channel in ("voice", "email", "lead") else "staff",
                direction="internal",
                kind="callback",
                text=f"Callback requested by {who.name}: {text}",
                actor=who.actor,
                meta={**self._meta(handoff, who), "phone": phone, "task": "callback", "status": "open"},
            ),
        )
        return Delivered("callback", "task_created", event, {"phone": phone})


def as_event_time(ev: TimelineEvent, tz: Any) -> dict[str, Any]:
    out = ev.to_api()
    out["at"] = ev.at.astimezone(tz).isoformat()
    return out


def now_iso(clock: Any, tz: Any) -> str:
    value: dt.datetime = clock()
    return value.astimezone(tz).isoformat()
