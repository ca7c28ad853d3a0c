"""Twilio SMS: `POST /twilio/sms` (Messaging webhook) and `POST /twilio/sms/status` (delivery callbacks).

The webhook checks the signature, parses Twilio's parameters and answers at once with an empty
`<Response/>` — Twilio gives up after 15 s, and a turn may take longer. The reply goes out
asynchronously through the sender (dry-run or Twilio REST), never in the TwiML.

**Bursts.** People text in bursts ("hi" / "is the rav4 still there" / "the blue one"). Each text is
pushed onto a per-number pending list in Redis; one processor per number (a Redis lease, so it works
across processes) waits until the number has been quiet for `burst_window_s`, takes the whole burst
and runs ONE turn whose text is the burst joined, in order. The same MessageSid delivered twice is
dropped at the door (Redis SET NX) and, as a second line, by the turn's own idempotency claim.

Each text of a burst travels to the turn in `meta["parts"]` (MessageSid, text, time, media), so the
timeline can keep one inbound event per text; media URLs of MMS are kept in `meta["media"]`.

**Workers.** By default the process that took a number's lease runs its turns (`inline`). An
API-only process (`dealeros serve --no-worker`) instead queues the number on the dealer's work list,
and `dealeros worker` processes (or a serve process's own worker loop) take it from there, so the
webhook's event loop only acknowledges. Every queued number is also indexed by the time of its
last text; the worker loop's sweep takes over numbers whose processor died (its lease expired) and
answers them without waiting for the customer to text again.

**Keywords and Twilio's own opt-out handling.** On US long codes Twilio answers STOP / START / HELP
(and their synonyms) itself and blocks further messages after STOP (error 21610). The keyword still
reaches this webhook, and the agent's consent guard records it in the ledger with its evidence. With
`carrier_keyword_replies=True` (the default, matching Twilio's behaviour) our own confirmation or help
reply is then not sent — the customer would get two — and the outbound event is marked `not_sent`
with the reason. A Messaging Service with Advanced Opt-Out marks such texts with `OptOutType`, which
is honoured the same way. Plain-language revocation ("stop texting me") is not a Twilio keyword: the
agent records it and sends its one confirmation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from twilio.twiml.messaging_response import MessagingResponse

import metrics
from agent.guards import redact_sensitive
from agent.types import RECALL_PREPARED, InboundMessage, Reply, TurnResult
from channels.twilio_common import (
    SMS_PATH,
    SMS_STATUS_PATH,
    OutboundSms,
    Sender,
    split_sms,
    twiml,
    verified_form,
)
from memory.identity import InvalidIdentity, normalize_phone
from memory.keys import PREFIX, Keys
from memory.timeline import epoch_ms
from tools.dealer import DealerConfig

log = logging.getLogger(__name__)

SEEN_TTL_S = 7 * 24 * 3600  # a MessageSid seen within a week is a duplicate delivery
BURST_WINDOW_S = 1.5  # how long a number must be quiet before its texts are answered together
LEASE_MS = 120_000  # one processor per number; renewed on every step, expires if its process dies
# Keywords Twilio answers itself on long codes (its default opt-out handling). YES is left out: it is
# also an ordinary answer ("yes, book it"), and Twilio marks a real re-subscribe with OptOutType.
TWILIO_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "START", "UNSTOP", "HELP", "INFO"}
)

# KEYS: seen, pending, last, owner  ARGV: item, seen ttl s, token, lease ms
_PUSH = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
local t = redis.call('TIME')
redis.call('SET', KEYS[3], tostring(t[1] * 1000 + math.floor(t[2] / 1000)), 'EX', 86400)
if redis.call('SET', KEYS[4], ARGV[3], 'NX', 'PX', ARGV[4]) then return 2 end
return 1
"""
# KEYS: pending, inflight, last, owner  ARGV: token, window ms, lease ms
_NEXT = """
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return {'lost'} end
redis.call('PEXPIRE', KEYS[4], ARGV[3])
local out = {'items'}
local inflight = redis.call('LRANGE', KEYS[2], 0, -1)
if #inflight > 0 then
  for _, v in ipairs(inflight) do out[#out + 1] = v end
  return out
end
if redis.call('LLEN', KEYS[1]) == 0 then return {'empty'} end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local wait = tonumber(redis.call('GET', KEYS[3]) or '0') + tonumber(ARGV[2]) - now
if wait > 0 then return {'wait', tostring(wait)} end
redis.call('RENAME', KEYS[1], KEYS[2])
for _, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do out[#out + 1] = v end
return out
"""
# KEYS: owner, inflight  ARGV: token (a processor that lost its lease must not drop a newer burst)
_DONE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[2])
"""
# KEYS: active  ARGV: phone, cutoff ms (a number that texted again since the sweep stays indexed)
_FORGET = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
"""
# KEYS: owner, pending, inflight  ARGV: token
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 1 end
if redis.call('LLEN', KEYS[2]) > 0 or redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""


@dataclass
class InboundSms:
    """One Messaging webhook, parsed."""

    sid: str
    phone: str  # the sender, E.164: the customer key
    to: str
    body: str
    at: dt.datetime
    media: list[dict[str, str]] = field(default_factory=list)
    from_city: str | None = None
    from_state: str | None = None
    from_zip: str | None = None
    opt_out_type: str | None = None  # Advanced Opt-Out: STOP | START | HELP
    redacted: list[str] = field(default_factory=list)  # sensitive numbers removed from the body ("ssn", "card")

    def to_item(self) -> str:
        return json.dumps(
            {
                "sid": self.sid,
                "phone": self.phone,
                "to": self.to,
                "body": self.body,
                "at": self.at.isoformat(),
                "media": self.media,
                "from_city": self.from_city,
                "from_state": self.from_state,
                "from_zip": self.from_zip,
                "opt_out_type": self.opt_out_type,
                "redacted": self.redacted,
            }
        )

    @classmethod
    def from_item(cls, raw: str) -> InboundSms:
        data = json.loads(raw)
        data["at"] = dt.datetime.fromisoformat(data["at"])
        return cls(**data)


def parse_inbound(form: Any, at: dt.datetime) -> InboundSms:
    """Twilio's Messaging webhook parameters -> InboundSms. Raises ValueError when unusable."""
    sid = str(form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9]{10,64}", sid):
        raise ValueError("missing or malformed MessageSid")
    raw_from = str(form.get("From") or "").strip()
    try:
        phone = normalize_phone(raw_from)
    except InvalidIdentity:
        raise ValueError(f"unusable sender number {raw_from!r}") from None
    try:
        count = min(int(form.get("NumMedia") or 0), 10)
    except ValueError:
        count = 0
    media = []
    for i in range(count):
        url = form.get(f"MediaUrl{i}")
        if url:
            media.append({"url": str(url), "content_type": str(form.get(f"MediaContentType{i}") or "")})

    def opt(name: str) -> str | None:
        value = str(form.get(name) or "").strip()
        return value or None

    # An SSN or card number never reaches Redis, not even the burst queue (agent.guards.redact_sensitive).
    body, redacted = redact_sensitive(str(form.get("Body") or ""))
    return InboundSms(
        sid=sid,
        phone=phone,
        to=str(form.get("To") or ""),
        body=body,
        redacted=redacted,
        at=at,
        media=media,
        from_city=opt("FromCity"),
        from_state=opt("FromState"),
        from_zip=opt("FromZip"),
        opt_out_type=(opt("OptOutType") or "").upper() or None,
    )


def _squash(text: str) -> str:
    return re.sub(r"[^A-Z]", "", text.upper())


def is_carrier_keyword(part: InboundSms) -> bool:
    """Did Twilio answer this text itself (a STOP/START/HELP keyword)?"""
    return bool(part.opt_out_type) or _squash(part.body) in TWILIO_KEYWORDS


def burst_text(parts: list[InboundSms]) -> str:
    """The turn's text: the burst's texts in order; a picture with no words is named as such."""
    lines = []
    for p in parts:
        body = p.body.strip()
        if not body and p.media:
            body = "[sent a picture]" if len(p.media) == 1 else f"[sent {len(p.media)} pictures]"
        if body:
            lines.append(body)
    return "\n".join(lines)


def burst_message(dealer_id: str, parts: list[InboundSms]) -> InboundMessage:
    """One InboundMessage for a burst (or a single text). The delivery id is the MessageSid for a
    single text, and a stable digest of the MessageSids for a burst, so a retried burst is one turn."""
    first = parts[0]
    sids = [p.sid for p in parts]
    delivery_id = sids[0] if len(sids) == 1 else "burst-" + hashlib.sha256(",".join(sids).encode()).hexdigest()[:24]
    meta: dict[str, Any] = {
        "source": {"channel": "sms", "number": first.to},
        "twilio": {"message_sids": sids, "to": first.to},
        "media": [m for p in parts for m in p.media],
    }
    for name in ("from_city", "from_state", "from_zip"):
        value = next((getattr(p, name) for p in parts if getattr(p, name)), None)
        if value:
            meta[name] = value
    redacted = sorted({kind for p in parts for kind in p.redacted})
    if redacted:
        meta["redacted"] = redacted
    opt_outs = [p.opt_out_type for p in parts if p.opt_out_type]
    if opt_outs:
        meta["opt_out_type"] = opt_outs[-1]
    if len(parts) > 1:
        meta["parts"] = [
            {"delivery_id": p.sid, "text": p.body, "at": p.at.isoformat(), "media": p.media} for p in parts
        ]
    return InboundMessage(
        dealer=dealer_id,
        channel="sms",
        text=burst_text(parts),
        phone=first.phone,
        delivery_id=delivery_id,
        at=first.at,
        meta=meta,
    )


def sms_body(reply: Reply) -> str:
    """A reply as plain text: SMS has no markup, buttons or cards (the guard already stripped
    markdown; quick replies are left to the text, which asks the question)."""
    return reply.text.strip()


class SmsBursts:
    """The Redis side of burst collection, per sender number (all keys share one hash tag)."""

    def __init__(self, redis: Any, keys: Keys, *, window_s: float) -> None:
        self.redis = redis
        self.keys = keys
        self.window_ms = max(1, int(window_s * 1000))
        self.active_key = keys.dealer_key("sms", "active")  # zset number -> ms of its latest text
        self.work_key = keys.dealer_key("sms", "work")  # list of {"phone", "token"}: leases handed to workers
        self._push = redis.register_script(_PUSH)
        self._next = redis.register_script(_NEXT)
        self._done = redis.register_script(_DONE)
        self._release = redis.register_script(_RELEASE)
        self._forget = redis.register_script(_FORGET)

    def key(self, phone: str, part: str) -> str:
        return f"{PREFIX}:{{{self.keys.dealer}:sms:{phone}}}:{part}"

    async def push(self, part: InboundSms, token: str) -> int:
        """0: a duplicate MessageSid; 1: queued; 2: queued and this caller now owns the processor.
        The number is also (re)indexed as active, in the same round trip (the index is a dealer-wide
        key, so it cannot be in the per-number script on a Cluster)."""
        keys = [self.key(part.phone, f"seen:{part.sid}"), *self._keys(part.phone, "pending", "last", "owner")]
        async with self.redis.pipeline(transaction=False) as pipe:
            await self._push(keys=keys, args=[part.to_item(), SEEN_TTL_S, token, LEASE_MS], client=pipe)
            pipe.zadd(self.active_key, {part.phone: epoch_ms(part.at)})
            outcome, _ = await pipe.execute()
        return int(outcome)

    async def next(self, phone: str, token: str) -> tuple[str, Any]:
        """('items', [InboundSms]) | ('wait', seconds) | ('empty', None) | ('lost', None)."""
        res = await self._next(keys=self._keys(phone, "pending", "inflight", "last", "owner"),
                               args=[token, self.window_ms, LEASE_MS])  # fmt: skip
        kind = res[0]
        if kind == "items":
            return kind, [InboundSms.from_item(r) for r in res[1:]]
        if kind == "wait":
            return kind, int(res[1]) / 1000
        return kind, None

    async def done(self, phone: str, token: str) -> None:
        """The burst in flight is handled (only while this processor still holds the lease)."""
        await self._done(keys=self._keys(phone, "owner", "inflight"), args=[token])

    async def pending(self, phone: str) -> list[InboundSms]:
        """The texts of the number's burst still collecting (not yet taken for a turn)."""
        return [InboundSms.from_item(r) for r in await self.redis.lrange(self.key(phone, "pending"), 0, -1)]

    async def release(self, phone: str, token: str) -> bool:
        return bool(await self._release(keys=self._keys(phone, "owner", "pending", "inflight"), args=[token]))

    def _keys(self, phone: str, *parts: str) -> list[str]:
        return [self.key(phone, p) for p in parts]

    # --- the dealer-wide index and work list (separate keys: Cluster-safe, one command each) ----
    async def enqueue(self, phone: str, token: str) -> None:
        """Hand this number's lease (held with `token`) to whichever worker takes it first."""
        await self.redis.rpush(self.work_key, json.dumps({"phone": phone, "token": token}))

    async def take(self, timeout_s: float) -> tuple[str, str] | None:
        """The next handed-over lease, waiting up to `timeout_s` for one."""
        got = await self.redis.blpop([self.work_key], timeout=timeout_s)
        if not got:
            return None
        try:
            item = json.loads(got[1])
            return str(item["phone"]), str(item["token"])
        except (ValueError, KeyError, TypeError):
            log.warning("dropped a malformed sms work item: %r", got[1])
            return None

    async def stale(self, cutoff_ms: int, limit: int = 200) -> list[str]:
        """Numbers whose latest text is older than `cutoff_ms` and that are still indexed."""
        return list(await self.redis.zrangebyscore(self.active_key, "-inf", cutoff_ms, start=0, num=limit))

    async def claim(self, phone: str, token: str) -> bool:
        """Take a number's processor lease if nobody holds it (its holder finished or died)."""
        return bool(await self.redis.set(self.key(phone, "owner"), token, nx=True, px=LEASE_MS))

    async def forget(self, phone: str, cutoff_ms: int) -> None:
        await self._forget(keys=[self.active_key], args=[phone, cutoff_ms])


class SmsChannel:
    """The SMS adapter: Twilio's wire format on one side, `agent.handle_turn` and a sender on the other."""

    def __init__(
        self,
        agent: Any,
        *,
        public_url: str | None,
        auth_token: str | None,
        sender: Sender,
        dealer: DealerConfig,
        burst_window_s: float,
        redis: Any,
        keys: Keys,
        carrier_keyword_replies: bool = True,
        clock: Any = None,
        inline: bool = True,
    ) -> None:
        self.agent = agent
        self.inline = inline  # False: API only, turns run in worker loops (`dealeros worker`)
        self.public_url = public_url
        self.auth_token = auth_token
        self.sender = sender
        self.dealer = dealer
        self.bursts = SmsBursts(redis, keys, window_s=burst_window_s)
        self.carrier_keyword_replies = carrier_keyword_replies
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.max_chars = dealer.messaging.sms_max_chars
        self._tasks: set[asyncio.Task] = set()

    # --- HTTP ------------------------------------------------------------------------------------
    async def inbound(self, request: Request) -> Response:
        form = await verified_form(request, public_url=self.public_url, auth_token=self.auth_token, path=SMS_PATH)
        try:
            part = parse_inbound(form, self.clock())
        except ValueError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        token = secrets.token_hex(8)
        outcome = await self.bursts.push(part, token)
        if outcome == 0:
            log.info("duplicate MessageSid %s ignored", part.sid)
            metrics.SMS_WEBHOOKS.labels("duplicate").inc()
            return twiml(MessagingResponse())
        if self._prepares:
            self._spawn(self._prepare(part.phone, part.sid))
        if outcome == 2:
            if self.inline:
                self._spawn(self._process(part.phone, token, fresh=True))
            else:
                await self.bursts.enqueue(part.phone, token)
            metrics.SMS_WEBHOOKS.labels("processing" if self.inline else "queued").inc()
        else:
            metrics.SMS_WEBHOOKS.labels("joined_burst").inc()
        return twiml(MessagingResponse())

    async def status(self, request: Request) -> Response:
        form = await verified_form(
            request, public_url=self.public_url, auth_token=self.auth_token, path=SMS_STATUS_PATH
        )
        await self.sender.record_status(form)
        return Response(status_code=204)

    # --- the processor ---------------------------------------------------------------------------
    @property
    def _prepares(self) -> bool:
        services = getattr(self.agent, "services", None)
        return getattr(services, "memory", None) is not None

    async def _prepare(self, phone: str, sid: str) -> None:
        """While the burst waits out its window, embed the text its turn will recall against (the
        burst so far, redacted as the turn will have it), unless a newer text of the burst has come
        in already: that one's preparation embeds the longer text. When the turn's text differs after
        all, the turn embeds it itself. It starts a third of the window after the text came in: the
        acknowledgements of a crowd of webhooks go first (embedding takes the same cores), and a
        burst's quick follow-up texts are in by then."""
        try:
            await asyncio.sleep(self.bursts.window_ms / 3000)
            parts = await self.bursts.pending(phone)
            if parts and parts[-1].sid == sid:
                await self.agent.services.prepare_recall(redact_sensitive(burst_text(parts))[0])
        except Exception as exc:  # an optimisation: the turn embeds the text itself
            log.info("preparing recall for an sms burst failed: %r", exc)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, phone: str, token: str, *, forget_before: int | None = None, fresh: bool = False) -> None:
        """Owns the number's lease: waits for quiet, runs a turn per burst, releases when idle. If it
        dies, the lease expires and the number's next text, or the worker loop's sweep, resumes the
        pending burst. `fresh`: the lease was just taken for a new text, so the burst window has
        only begun (asking Redis before it ends would only say "wait")."""
        try:
            if fresh:
                await asyncio.sleep(self.bursts.window_ms / 1000)
            while True:
                kind, value = await self.bursts.next(phone, token)
                if kind == "wait":
                    await asyncio.sleep(value)
                elif kind == "items":
                    await self._turn(value)
                    await self.bursts.done(phone, token)
                elif kind == "empty":
                    if await self.bursts.release(phone, token):
                        if forget_before is not None:
                            await self.bursts.forget(phone, forget_before)
                        return
                else:  # lost: the lease expired and another process took over
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sms burst processing for %s failed; it resumes with the next text", phone)

    # --- the worker loop ---------------------------------------------------------------------------
    async def sweep(self, *, now: dt.datetime | None = None, grace_s: float = 5.0) -> int:
        """Take over numbers nobody is processing: a processor that died leaves its number's lease
        to expire, and its texts are answered here. Numbers found idle leave the index. Returns how
        many numbers this sweep took over (idle ones included)."""
        now_ms = epoch_ms(now or self.clock())
        cutoff = now_ms - self.bursts.window_ms - int(grace_s * 1000)
        taken = 0
        for phone in await self.bursts.stale(cutoff):
            token = secrets.token_hex(8)
            if await self.bursts.claim(phone, token):
                taken += 1
                metrics.SMS_SWEPT.inc()
                self._spawn(self._process(phone, token, forget_before=cutoff))
        return taken

    async def run_worker(
        self, stop: asyncio.Event, *, concurrency: int = 32, sweep_every_s: float = 10.0, poll_s: float = 1.0
    ) -> None:
        """Process handed-over numbers and sweep for orphaned ones until `stop` is set; then wait for
        the turns in progress. At most `concurrency` numbers are processed at once by this loop."""
        slots = asyncio.Semaphore(concurrency)
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while not stop.is_set():
            try:
                if loop.time() >= next_sweep:
                    await self.sweep()
                    next_sweep = loop.time() + sweep_every_s
                await slots.acquire()
                item = await self.bursts.take(poll_s)
                if item is None:
                    slots.release()
                    continue
                self._spawn(self._guarded(slots, self._process(*item, fresh=True)))
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis restarting, a network blip: keep the loop alive
                log.exception("sms worker loop error; retrying")
                await asyncio.sleep(poll_s)
        await self.aclose()

    async def _guarded(self, slots: asyncio.Semaphore, coro: Any) -> None:
        try:
            await coro
        finally:
            slots.release()

    async def _turn(self, parts: list[InboundSms]) -> TurnResult:
        msg = burst_message(self.dealer.id, parts)
        if self._prepares:
            msg.meta[RECALL_PREPARED] = True
        result = await self.agent.handle_turn(msg)
        if result.duplicate:
            log.info("sms delivery %s already handled: not sent again", msg.delivery_id)
            return result
        if not result.replies:
            return result
        if self.carrier_keyword_replies and all(is_carrier_keyword(p) for p in parts):
            if result.outbound_event_id:
                await self.sender.mark_not_sent(result.customer_id, result.outbound_event_id, "twilio_answers_keywords")
            return result
        for reply in result.replies:
            await self._send(msg, result, sms_body(reply))
        return result

    async def _send(self, msg: InboundMessage, result: TurnResult, body: str) -> None:
        texts = split_sms(body, max_chars=self.max_chars)
        for i, text in enumerate(texts):
            await self.sender.send_sms(
                OutboundSms(
                    to=msg.phone or "",
                    body=text,
                    customer_id=result.customer_id,
                    event_id=result.outbound_event_id,
                    in_reply_to=msg.delivery_id,
                    part=i,
                    parts=len(texts),
                )
            )

    async def aclose(self) -> None:
        """Wait for running burst processors (graceful shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def build_sms_router(
    agent: Any,
    *,
    public_url: str | None,
    auth_token: str | None,
    sender: Sender,
    dealer: DealerConfig,
    burst_window_s: float = BURST_WINDOW_S,
    carrier_keyword_replies: bool = True,
    redis: Any = None,
    keys: Keys | None = None,
    inline: bool = True,
) -> APIRouter:
    """The SMS routes. `agent.handle_turn` is the core; `redis`/`keys` (for burst collection) default
    to the agent's services. The channel object is on `router.channel` (e.g. to await on shutdown)."""
    services = getattr(agent, "services", None)
    channel = SmsChannel(
        agent,
        public_url=public_url,
        auth_token=auth_token,
        sender=sender,
        dealer=dealer,
        burst_window_s=burst_window_s,
        redis=redis if redis is not None else services.redis,
        keys=keys or services.keys,
        carrier_keyword_replies=carrier_keyword_replies,
        clock=getattr(services, "clock", None),
        inline=inline,
    )
    router = APIRouter(tags=["twilio"])
    router.add_api_route(SMS_PATH, channel.inbound, methods=["POST"], include_in_schema=True)
    router.add_api_route(SMS_STATUS_PATH, channel.status, methods=["POST"], status_code=204)
    router.channel = channel  # type: ignore[attr-defined]
    return router
