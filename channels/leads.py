"""Lead intake: `POST /leads/adf` (ADF 1.0 XML) and `POST /leads` (JSON), and the AI's first response.

What happens to a lead, in order, before the HTTP response (all Redis, no LLM):

1. Parse (channels/adf.py): hostile or malformed XML -> 400, a body over 1 MB -> 413, a lead nobody
   can be reached on -> 422. Nothing is stored for any of these.
2. Idempotency: the provider's lead id (or the lead's content) names it; a re-delivered lead answers
   200 with the first delivery's outcome and changes nothing.
3. The customer: resolved by phone/email (merging with a known customer), the lead's name, the
   provider as first-touch source when the record has none, the vehicles asked about as interests
   (matched to our inventory by VIN, then stock number), a trade-in, and one timeline event of kind
   `lead` carrying the whole parsed lead.
4. Consent: recorded only when the lead carries the disclosure text the customer agreed to
   (source `lead_form`, the text and provider as evidence). A checkbox value alone records nothing.
5. The first response, decided by the consent gate (tools/consent/ `check_send`):
   * SMS is *proactive* — the customer did not text us — so it needs a recorded opt-in (step 4) and
     falls inside quiet hours;
   * email answers the customer's own inquiry, so it goes unless they opted out of email;
   * SMS is preferred when allowed, email otherwise; if neither, `blocked:<reason>` and a timeline
     note tells staff why no automatic reply went out.

Then 202 `{"customer_id", "lead_id", "response": "queued" | "blocked:<reason>", "channel"}` and, for
"queued", a background task runs the turn and sends the reply; its outcome ("sent",
"blocked:<reason>", "failed") lands on the lead event's meta and on the lead's idempotency record,
so a re-delivery of the lead reports "sent".

Design choice — the synthetic inbound: the turn's inbound is the customer's own lead comments (or "I'm
interested in the <vehicle> (stock #…)") on the channel we will answer on, with
`meta["synthetic_from_lead"] = True`, the lead id, and `vdp_stock`/`vdp_vin` (the same keys the web
chat uses for "the vehicle the customer is looking at"). `Agent.handle_turn` records every inbound as
a `message` event, so the journey shows the `lead` event and then that marked synthetic message; making
the lead itself the turn's inbound would need an inbound `kind` on `InboundMessage` (agent/, not here).
The turn's delivery id is `lead:<lead_id>`, so a lead is answered at most once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from agent.types import SMS_MAX_CHARS, InboundMessage, Reply
from channels.adf import MAX_LEAD_BYTES, Lead, LeadError, LeadVehicle, parse_adf
from channels.twilio_common import DryRunSender, OutboundSms, split_sms
from memory.customers import Customer, Interest
from memory.identity import InvalidIdentity, normalize_email, normalize_phone
from memory.timeline import Timeline, TimelineEvent
from tools.consent import ConsentGate, Decision, check_send
from tools.dealer import DealerConfig
from tools.inventory import InventoryStore, Vehicle, format_money

log = logging.getLogger(__name__)

IDEM_SCOPE = "lead"
SYNTHETIC_MAX_CHARS = 2000


class TooLarge(Exception):
    pass


class Unusable(ValueError):
    """A well-formed lead with no phone or email we can use."""


# --- email (no email transport yet: a dry run recorded on the reply's timeline event) ---------
class DryRunEmailSender:
    """Records the email on the outbound timeline event (`meta["delivery"]`, status
    `delivered-dry-run`); nothing leaves the machine. A real transport implements `send_email`."""

    name = "dry-run"

    def __init__(self, timeline: Timeline, clock: Any) -> None:
        self.timeline = timeline
        self.clock = clock

    async def send_email(
        self, customer_ids: list[str], *, to: str, subject: str, body: str, event_id: str | None
    ) -> str:
        delivery = {
            "channel": "email",
            "sender": self.name,
            "status": "delivered-dry-run",
            "to": to,
            "subject": subject,
            "body": body,
            "at": self.clock().isoformat(),
        }
        log.info("[dry-run email] to %s: %s", to, subject)
        for cid in customer_ids:
            if event_id and await self.timeline.update_meta(cid, event_id, {"delivery": delivery}):
                return "delivered-dry-run"
        await self.timeline.append(
            customer_ids[0],
            TimelineEvent(
                at=self.clock(), channel="email", direction="outbound", kind="message", text=body, actor="ai",
                meta={"delivery": delivery},
            ),
        )  # fmt: skip
        return "delivered-dry-run"


# --- the intake ---------------------------------------------------------------------------------
@dataclass
class Landed:
    lead: Lead
    lead_id: str
    fmt: str
    customer: Customer
    event_id: str
    phones: list[str]
    emails: list[str]
    vehicles: list[dict[str, Any]] = field(default_factory=list)  # what was asked about, matched to inventory


@dataclass
class Plan:
    response: str
    channel: str | None = None
    to: str | None = None
    retry_at: dt.datetime | None = None


def lead_key(lead: Lead) -> str:
    """Same lead delivered twice -> same id: the provider's id when it gives one, else the content."""
    extra = lead.model_extra or {}
    if lead.provider_lead_id:
        basis = "|".join(
            str(p or "") for p in (lead.provider_name, extra.get("id_source"), lead.provider_lead_id, *lead.emails[:1])
        )
    else:
        basis = lead.model_dump_json()
    return "L" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:20]


def _vehicle_info(asked: LeadVehicle, found: Vehicle | None) -> dict[str, Any]:
    if found is not None:
        return {
            "description": f"{found.title()} (stock #{found.stock_number})" if found.stock_number else found.title(),
            "title": found.title(),
            "vin": found.vin,
            "stock_number": found.stock_number,
            "price": int(found.price) if found.price is not None else None,
            "status": found.status,
            "vdp_url": found.vdp_url,
            "in_inventory": True,
        }
    title = asked.title() or "vehicle"
    refs = [f"stock #{asked.stock}" if asked.stock else "", f"VIN {asked.vin}" if asked.vin else ""]
    ref = ", ".join(r for r in refs if r)
    return {
        "description": f"{title} ({ref})" if ref else title,
        "title": title,
        "vin": asked.vin,
        "stock_number": asked.stock,
        "in_inventory": False,
    }


def synthetic_text(lead: Lead, vehicles: list[dict[str, Any]]) -> str:
    """The customer's side of the first exchange: their own words, and the vehicle they asked about."""
    about = vehicles[0]["description"] if vehicles else None
    comments = (lead.comments or "").strip()
    if comments and about:
        text = f"{comments}\n\nVehicle: {about}"
    elif comments:
        text = comments
    elif about:
        text = f"I'm interested in the {about}."
    else:
        text = "I'd like more information, please."
    return text[:SYNTHETIC_MAX_CHARS]


def _after(lead_at: dt.datetime, now: dt.datetime, ms: int) -> dt.datetime:
    """A follow-up event's time: now, but never at or before the lead event it follows."""
    return max(now, lead_at + dt.timedelta(milliseconds=ms))


def _at_or_before(value: dt.datetime | None, now: dt.datetime, tz: Any) -> dt.datetime:
    if value is None:
        return now
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=tz)
    return min(value, now)


class LeadIntake:
    """Lands leads on customer records and sends the first responses (in background tasks)."""

    def __init__(self, agent: Any, dealer: DealerConfig, sender: Any, email_sender: Any) -> None:
        self.agent = agent
        self.dealer = dealer
        self.sender = sender
        self.email_sender = email_sender
        self.tasks: set[asyncio.Task] = set()

    @property
    def svc(self) -> Any:
        return self.agent.services

    async def drain(self) -> None:
        """Wait for the first responses in flight (graceful shutdown; tests)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    aclose = drain

    async def accept(self, lead: Lead, fmt: str) -> tuple[int, dict[str, Any]]:
        svc = self.svc
        now = svc.clock()
        lead_id = lead_key(lead)
        claim = await svc.idempotency.claim(IDEM_SCOPE, lead_id)
        if not claim.first:
            record = claim.result or {}
            return 200, {
                "customer_id": record.get("customer_id"),
                "lead_id": lead_id,
                "response": record.get("response", "queued"),
                "duplicate": True,
            }
        try:
            landed = await self._land(lead, lead_id, fmt, now)
            await self._record_consent(landed, now)
            plan = await self._plan(landed, now)
        except BaseException:
            await svc.idempotency.release(IDEM_SCOPE, lead_id)
            raise
        body: dict[str, Any] = {
            "customer_id": landed.customer.id,
            "lead_id": lead_id,
            "response": plan.response,
            "channel": plan.channel,
        }
        if plan.retry_at:
            body["retry_at"] = plan.retry_at.isoformat()
        await svc.idempotency.complete(IDEM_SCOPE, lead_id, body)
        await svc.timeline.update_meta(
            landed.customer.id, landed.event_id, {"response": plan.response, "response_channel": plan.channel}
        )
        if plan.channel:
            task = asyncio.create_task(self._respond(landed, plan, body))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return 202, body

    # --- 3. the customer record -------------------------------------------------------------
    async def _land(self, lead: Lead, lead_id: str, fmt: str, now: dt.datetime) -> Landed:
        svc = self.svc
        phones = _valid(normalize_phone, [p.number for p in sorted(lead.phones, key=_phone_rank) if not p.is_fax])
        emails = _valid(normalize_email, lead.emails)
        if not phones and not emails:
            raise Unusable("the lead has no usable phone number or email address")
        source = {
            "channel": "lead",
            "provider": lead.provider_name,
            "vendor": lead.vendor_name,
            "service": lead.provider.service if lead.provider else None,
            "lead_id": lead_id,
            "format": fmt,
        }
        source = {k: v for k, v in source.items() if v}
        customer = await self.agent.resolve(
            InboundMessage(
                dealer=self.dealer.id,
                channel="lead",
                text="",
                phone=phones[0] if phones else None,
                email=emails[0] if emails else None,
                name=lead.name,
                meta={"source": source},
            )
        )
        for kind, values in (("phone", phones[1:]), ("email", emails[1:])):
            for value in values:
                merge = await svc.customers.attach(customer.id, kind, value, reason=f"given on lead {lead_id}")
                if merge is not None:
                    await svc.timeline.append(
                        merge.primary,
                        TimelineEvent(
                            at=merge.at, channel="system", direction="internal", kind="merge",
                            text=f"Records merged: {merge.reason}", actor="system",
                            meta=merge.model_dump(mode="json"),
                        ),
                    )  # fmt: skip
        customer = await svc.customers.primary_of(customer.id)

        updates: dict[str, Any] = {}
        if not customer.source:
            updates["source"] = source
        state = (lead.address.state or "").strip().upper() if lead.address else ""
        if len(state) == 2 and state.isalpha() and not customer.state:
            updates["state"] = state
        trade = lead.trade_ins[0] if lead.trade_ins else None
        if trade is not None and not customer.trade_in:
            fields = {"year": trade.year, "make": trade.make, "model": trade.model, "trim": trade.trim,
                      "vin": trade.vin, "mileage": trade.odometer, "source": "lead"}  # fmt: skip
            updates["trade_in"] = {k: v for k, v in fields.items() if v is not None}
        if updates:
            customer = await svc.customers.update(customer.id, **updates)

        inventory = InventoryStore(svc.redis, svc.keys)
        vehicles = []
        for asked in lead.wanted:
            found = await _match(inventory, asked)
            info = _vehicle_info(asked, found)
            vehicles.append(info)
            await svc.customers.add_interest(
                customer.id,
                Interest(description=info["description"], vin=info["vin"], stock_number=info["stock_number"]),
            )

        about = vehicles[0]["description"] if vehicles else None
        text = f"Lead from {lead.provider_name or 'a lead provider'}" + (f": {about}" if about else "")
        if lead.comments:
            text += f' — "{lead.comments.strip()[:300]}"'
        event = await svc.timeline.append(
            customer.id,
            TimelineEvent(
                at=now,
                channel="lead",
                direction="inbound",
                kind="lead",
                text=text,
                actor="customer",
                meta={
                    "lead_id": lead_id,
                    "format": fmt,
                    "provider": lead.provider_name,
                    "vendor": lead.vendor_name,
                    "lead": lead.model_dump(mode="json"),
                    "vehicles": vehicles,
                },
            ),
        )
        return Landed(lead, lead_id, fmt, customer, event.id, phones, emails, vehicles)

    # --- 4. consent from the lead form ------------------------------------------------------
    async def _record_consent(self, landed: Landed, now: dt.datetime) -> None:
        consent = landed.lead.consent
        if consent is None or not consent.explicit:
            return
        available = (["sms", "voice"] if landed.phones else []) + (["email"] if landed.emails else [])
        channels = [c for c in (consent.channels or available) if c in available]
        if not channels:
            return
        purposes = ("marketing",) if consent.marketing else ("transactional",)
        cid = landed.customer.id
        gate = ConsentGate.from_deps(self.svc.deps_for(cid, "lead"))
        provider = landed.lead.provider_name
        evidence = {
            "text": consent.text.strip(),
            "provider": provider,
            "vendor": landed.lead.vendor_name,
            "url": consent.url,
            "lead_id": landed.lead_id,
            "format": landed.fmt,
            "phone": landed.phones[0] if landed.phones else None,
            "email": landed.emails[0] if landed.emails else None,
        }
        entries = await gate.record_opt_in(
            cid,
            channels=channels,
            purposes=purposes,
            source="lead_form",
            evidence=evidence,
            actor="customer",
            at=_at_or_before(consent.at or landed.lead.request_date, now, self.dealer.tz),
            written=consent.written and bool(consent.url),
        )
        await self.svc.timeline.append(
            cid,
            TimelineEvent(
                at=_after(now, self.svc.clock(), 1),
                channel="lead",
                direction="internal",
                kind="consent",
                text=f"Consent from the {provider or 'lead'} form: {', '.join(channels)} ({purposes[0]})",
                actor="system",
                meta={"lead_id": landed.lead_id, "entries": entries, "channels": channels, "purposes": purposes},
            ),
        )

    # --- 5. may we answer, and how ------------------------------------------------------------
    async def _decide(self, landed: Landed, channel: str, to: str, now: dt.datetime) -> Decision:
        customer = await self.svc.customers.primary_of(landed.customer.id)
        return await check_send(
            self.svc.deps_for(customer.id, channel),
            await self.svc.customers.sources(customer.id),
            channel=channel,  # type: ignore[arg-type]
            purpose="transactional",
            to_phone=to if channel == "sms" else None,
            at=now,
            proactive=channel == "sms",
            recipient_state=customer.state,
            recipient_timezone=customer.timezone,
        )

    async def _plan(self, landed: Landed, now: dt.datetime) -> Plan:
        decisions: list[Decision] = []
        options = [("sms", p) for p in landed.phones[:1]] + [("email", e) for e in landed.emails[:1]]
        for channel, to in options:
            decision = await self._decide(landed, channel, to, now)
            if decision.allowed:
                return Plan(response="queued", channel=channel, to=to)
            decisions.append(decision)
        first = decisions[0]
        await self.svc.timeline.append(
            landed.customer.id,
            TimelineEvent(
                at=_after(now, self.svc.clock(), 2),
                channel="lead",
                direction="internal",
                kind="lead_response",
                text=f"No automatic reply to the lead: {first.message}",
                actor="system",
                meta={"lead_id": landed.lead_id, "decisions": [d.to_dict() for d in decisions]},
            ),
        )
        return Plan(response=f"blocked:{first.reason}", retry_at=first.next_allowed_at)

    # --- the background first response --------------------------------------------------------
    async def _respond(self, landed: Landed, plan: Plan, record: dict[str, Any]) -> None:
        svc = self.svc
        outcome = "failed"
        try:
            first = landed.vehicles[0] if landed.vehicles else {}
            meta: dict[str, Any] = {
                "synthetic_from_lead": True,
                "lead_id": landed.lead_id,
                "lead_provider": landed.lead.provider_name,
                "lead_vehicle": first or None,
            }
            if first.get("stock_number"):
                meta["vdp_stock"] = first["stock_number"]
            if first.get("vin"):
                meta["vdp_vin"] = first["vin"]
            msg = InboundMessage(
                dealer=self.dealer.id,
                channel=plan.channel,  # type: ignore[arg-type]
                text=synthetic_text(landed.lead, landed.vehicles),
                phone=plan.to if plan.channel == "sms" else None,
                email=plan.to if plan.channel == "email" else None,
                delivery_id=f"lead:{landed.lead_id}",
                meta=meta,
            )
            result = await self.agent.handle_turn(msg)
            if result.duplicate:
                return  # answered by an earlier run: its outcome stands
            if not result.replies:
                reason = (result.suppressed or "no_reply").split(":", 1)[0]  # "human_owns:<staff>" -> "human_owns"
                outcome = f"blocked:{reason}"
            elif plan.channel == "sms":
                outcome = await self._send_sms(result.customer_id, plan.to or "", result.replies[0], result)
            else:
                outcome = await self._send_email(landed, plan.to or "", result.replies[0], result)
        except Exception:
            log.exception("first response to lead %s failed", landed.lead_id)
        await svc.idempotency.complete(IDEM_SCOPE, landed.lead_id, {**record, "response": outcome})
        await svc.timeline.update_meta(
            landed.customer.id,
            landed.event_id,
            {"response": outcome, "responded_at": svc.clock().isoformat()},
        )

    async def _send_sms(self, customer_id: str, to: str, reply: Reply, result: Any) -> str:
        texts = split_sms(reply.text, max_chars=self.dealer.messaging.sms_max_chars or SMS_MAX_CHARS)
        for i, text in enumerate(texts):
            sent = await self.sender.send_sms(
                OutboundSms(
                    to=to,
                    body=text,
                    customer_id=customer_id,
                    event_id=result.outbound_event_id,
                    purpose="transactional",
                    proactive=True,  # the customer did not text us: the gate needs their consent
                    part=i,
                    parts=len(texts),
                )
            )
            if sent.status == "blocked":
                return f"blocked:{sent.reason}"
            if not sent.sent:
                return "failed"
        return "sent"

    async def _send_email(self, landed: Landed, to: str, reply: Reply, result: Any) -> str:
        decision = await self._decide(landed, "email", to, self.svc.clock())  # consent may have changed meanwhile
        if not decision.allowed:
            return f"blocked:{decision.reason}"
        lines = [reply.text.strip()]
        for card in reply.cards[:3]:
            lines.append(" — ".join(p for p in (card.title, format_money(card.price), card.vdp_url or "") if p))
        lines.append(f"\n{self.dealer.name} · {self.dealer.phone}")
        about = landed.vehicles[0]["title"] if landed.vehicles else None
        subject = f"Your inquiry about the {about}" if about else f"Thanks for contacting {self.dealer.name}"
        sources = await self.svc.customers.sources((await self.svc.customers.primary_of(result.customer_id)).id)
        await self.email_sender.send_email(
            sources, to=to, subject=subject, body="\n".join(lines), event_id=result.outbound_event_id
        )
        return "sent"


def _phone_rank(p: Any) -> int:
    kind = (p.type or "").lower()
    return 0 if kind in {"cellphone", "cell", "mobile"} else 1


def _valid(normalizer: Any, values: list[str]) -> list[str]:
    out: list[str] = []
    for raw in values:
        try:
            value = normalizer(raw)
        except InvalidIdentity:
            continue
        if value not in out:
            out.append(value)
    return out


async def _match(inventory: InventoryStore, asked: LeadVehicle) -> Vehicle | None:
    if asked.vin and len(asked.vin.strip()) == 17:
        found = await inventory.get(asked.vin)
        if found is not None:
            return found
    if asked.stock:
        return await inventory.by_stock(asked.stock)
    return None


# --- HTTP -------------------------------------------------------------------------------------
async def _read_body(request: Request, limit: int = MAX_LEAD_BYTES) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


def _error(status: int, error: str, detail: Any) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def _validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    return exc.errors(include_url=False, include_context=False, include_input=False)


def build_leads_router(agent: Any, *, dealer: DealerConfig, sender: Any = None, email_sender: Any = None) -> APIRouter:
    """`POST /leads/adf` and `POST /leads`. `sender` sends SMS (channels.twilio_common `DryRunSender` /
    `TwilioSender`; default: a dry-run sender); `email_sender` has `send_email(...)` (default: a dry
    run recorded on the timeline). The intake is on `router.intake`: await `router.intake.drain()`
    on shutdown so first responses in flight finish."""
    svc = agent.services
    intake = LeadIntake(
        agent,
        dealer,
        sender if sender is not None else DryRunSender(svc.redis, svc.keys, dealer, clock=svc.clock),
        email_sender if email_sender is not None else DryRunEmailSender(svc.timeline, svc.clock),
    )
    router = APIRouter()
    router.intake = intake  # type: ignore[attr-defined]

    async def take(leads: list[Lead], fmt: str) -> JSONResponse:
        try:
            outcomes = [await intake.accept(lead, fmt) for lead in leads]
        except Unusable as exc:
            return _error(422, "invalid_lead", str(exc))
        status, body = outcomes[0]
        if len(outcomes) > 1:  # an ADF document may carry several prospects
            body = {**body, "leads": [b for _, b in outcomes]}
            status = 202 if any(s == 202 for s, _ in outcomes) else status
        return JSONResponse(body, status_code=status)

    @router.post("/leads/adf", status_code=202)
    async def adf_lead(request: Request) -> JSONResponse:
        """An ADF 1.0 XML lead (any content type; a form field `adf`/`xml`/`lead` is accepted too)."""
        try:
            raw = await _read_body(request)
        except TooLarge:
            return _error(413, "too_large", f"a lead may be at most {MAX_LEAD_BYTES} bytes")
        if request.headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
            form = parse_qs(raw.decode("utf-8", errors="replace"))
            field_value = next((form[k][0] for k in ("adf", "xml", "lead") if form.get(k)), None)
            raw = field_value.encode("utf-8") if field_value else raw
        try:
            leads = parse_adf(raw)
        except LeadError as exc:
            return _error(400, "invalid_adf", str(exc))
        except ValidationError as exc:
            return _error(422, "invalid_lead", _validation_detail(exc))
        return await take(leads, "adf")

    @router.post("/leads", status_code=202)
    async def json_lead(request: Request) -> JSONResponse:
        """A JSON lead with the fields of `channels.adf.Lead` (phone/email/vehicle singulars accepted)."""
        try:
            raw = await _read_body(request)
        except TooLarge:
            return _error(413, "too_large", f"a lead may be at most {MAX_LEAD_BYTES} bytes")
        try:
            lead = Lead.model_validate_json(raw)
        except ValidationError as exc:
            return _error(422, "invalid_lead", _validation_detail(exc))
        return await take([lead], "json")

    return router


__all__ = ["DryRunEmailSender", "LeadIntake", "build_leads_router", "lead_key", "synthetic_text"]
