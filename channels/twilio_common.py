"""Twilio plumbing shared by the SMS and voice channels: signatures, public URLs, senders, segments.

* **Signatures.** Twilio signs every webhook (and the ConversationRelay websocket handshake) with
  `X-Twilio-Signature`: HMAC over the URL Twilio called plus the sorted POST parameters. Behind a
  TLS-terminating proxy the app sees `http://10.0.0.5/...`, so the URL is rebuilt from the configured
  public base URL (`DEALEROS_PUBLIC_URL`) + the route's fixed path (+ the query string as received)
  and checked with the SDK's `RequestValidator`. Missing, wrong, or no auth token configured -> 403
  before anything is read into a store.
* **Senders.** `DryRunSender` (default: nothing leaves the machine, the text is recorded on the
  outbound timeline event as `delivered-dry-run`) and `TwilioSender` (REST API, blocking SDK call run
  in a thread, delivery status callbacks to `/twilio/sms/status`). Both pass the consent gate
  (`tools.consent.ConsentGate.check_send`) before sending — a second check behind the turn's own
  guard — and record delivery on the outbound event's `meta["delivery"]`, indexed by MessageSid.
* **Segments.** GSM-7 vs UCS-2 detection, segment counting and splitting long text at sentence,
  then word boundaries, never inside a URL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from fastapi import HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import HTTPConnection
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator

from memory.customers import CustomerStore
from memory.keys import Keys
from memory.timeline import Timeline, TimelineEvent
from tools.consent import ConsentGate
from tools.dealer import DealerConfig

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
SMS_PATH = "/twilio/sms"
SMS_STATUS_PATH = "/twilio/sms/status"
VOICE_PATH = "/twilio/voice"
VOICE_AFTER_PATH = "/twilio/voice/after"
RELAY_PATH = "/twilio/relay"
CARRIER_OPT_OUT = "21610"  # Twilio: "Attempt to send to unsubscribed recipient"
SID_INDEX_TTL_S = 7 * 24 * 3600

Clock = Callable[[], dt.datetime]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# =============================================================================================
# Public URLs and signatures
# =============================================================================================


def public_base(public_url: str | None, request: HTTPConnection | None = None) -> str:
    """The base URL Twilio uses to reach us, without a trailing slash. Falls back to what the request
    itself says (scheme + Host) when no public URL is configured — right only without a proxy."""
    if public_url:
        return public_url.rstrip("/")
    if request is None:
        raise ValueError("no public URL configured and no request to derive one from")
    host = request.headers.get("host") or request.url.netloc
    return f"{request.url.scheme}://{host}"


def public_http_url(base: str, path: str, query: str = "") -> str:
    return f"{base.rstrip('/')}{path}" + (f"?{query}" if query else "")


def websocket_url(base: str, path: str) -> str:
    """The wss:// (or ws:// for a plain-http base) URL of a websocket route under `base`."""
    parts = urlsplit(base.rstrip("/"))
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError(f"public URL must be http(s): {base!r}")
    return urlunsplit((scheme, parts.netloc, parts.path + path, "", ""))


def signature_valid(
    auth_token: str | None,
    url: str,
    params: Any,
    signature: str | None,
    *,
    signature_settings: str | None = None,
) -> bool:
    """Twilio's own validator over `url` and `params` (a form mapping; `{}` for a GET/handshake).

    A request signed under a Webhooks Rule SharedKey (`X-Twilio-Webhooks-Signature-Settings`) can't be
    checked with the auth token, so it is refused rather than guessed at."""
    if not auth_token or not signature:
        return False
    if signature_settings:
        log.warning("Twilio request signed with a SharedKey (%s): not configured, refused", signature_settings)
        return False
    return RequestValidator(auth_token).validate(url, params, signature)


MAX_FORM_BYTES = 64 * 1024  # Twilio's webhooks are a few KB; anything bigger is not Twilio


async def read_form(request: Request) -> ImmutableMultiDict:
    """An application/x-www-form-urlencoded body (what Twilio posts) as a multi-dict; anything else
    reads as empty, so its signature can't match. No multipart parser needed."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return ImmutableMultiDict()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status_code=413, detail="request body too large")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise HTTPException(status_code=400, detail="request body is not UTF-8") from None
    return ImmutableMultiDict(pairs)


async def verified_form(request: Request, *, public_url: str | None, auth_token: str | None, path: str) -> Any:
    """The webhook's form parameters, after checking its signature against the public URL of `path`.
    Raises HTTPException(403) — before anything is stored — when the check fails."""
    if not auth_token:
        log.warning("TWILIO_AUTH_TOKEN is not configured: refusing the Twilio webhook on %s", path)
        raise HTTPException(status_code=403, detail="Twilio webhooks are disabled: no auth token configured")
    form = await read_form(request)
    url = public_http_url(public_base(public_url, request), path, request.url.query)
    if not signature_valid(
        auth_token,
        url,
        form,
        request.headers.get(SIGNATURE_HEADER),
        signature_settings=request.headers.get(SIGNATURE_SETTINGS_HEADER),
    ):
        log.warning("invalid or missing X-Twilio-Signature on %s (validated against %s)", path, url)
        raise HTTPException(status_code=403, detail="invalid Twilio signature")
    return form


def twiml(xml: Any) -> Response:
    """A TwiML document (an SDK `TwiML` object or a string) as an HTTP response."""
    return Response(content=str(xml), media_type="application/xml")


# =============================================================================================
# SMS encoding, segments and splitting
# =============================================================================================

# GSM 03.38 default alphabet (ESC excluded) and its extension table (each costs two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")
Encoding = Literal["GSM-7", "UCS-2"]

# What Twilio's Smart Encoding does: look-alike Unicode punctuation -> GSM-7, so one curly quote
# doesn't turn a 160-character message into three UCS-2 segments.
_SMART = str.maketrans(
    {
        "‘": "'", "’": "'", "‚": "'", "′": "'", "‛": "'",
        "“": '"', "”": '"', "„": '"', "″": '"', "«": '"', "»": '"',
        "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-", "•": "-",
        "…": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "",
    }
)  # fmt: skip


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def smart_encode(text: str) -> str:
    return text.translate(_SMART)


def sms_encoding(text: str) -> Encoding:
    return "GSM-7" if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text) else "UCS-2"


def _unit_cost(ch: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if ch in GSM7_EXTENDED else 1
    return 2 if ord(ch) > 0xFFFF else 1  # astral characters (most emoji) are a UTF-16 surrogate pair


def segment_info(text: str) -> SegmentInfo:
    """How carriers bill `text`: 160 GSM-7 / 70 UCS-2 units in one message, otherwise 153 / 67 per
    concatenated segment (an escape pair or a surrogate pair is never split across segments)."""
    encoding = sms_encoding(text)
    costs = [_unit_cost(ch, encoding) for ch in text]
    units = sum(costs)
    single, multi = (160, 153) if encoding == "GSM-7" else (70, 67)
    if units <= single:
        return SegmentInfo(encoding, units, 1)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > multi:
            segments, used = segments + 1, 0
        used += cost
    return SegmentInfo(encoding, units, segments)


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")


def _is_url(word: str) -> bool:
    w = word.lower().lstrip("(<\"'")
    return w.startswith(("http://", "https://", "www."))


def _sentences(text: str) -> list[tuple[str, str]]:
    """(sentence, separator) pairs. A period inside a URL or a decimal is not followed by
    whitespace, so it never ends a sentence."""
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        out.append((text[start : m.start()] + m.group().rstrip(), "\n" if "\n" in m.group() else " "))
        start = m.end()
    if start < len(text):
        out.append((text[start:], ""))
    return [(s.strip(), sep) for s, sep in out if s.strip()]


def split_sms(text: str, *, max_chars: int = 320, max_segments: int | None = None) -> list[str]:
    """Split `text` into messages of at most `max_chars` characters (and `max_segments` billed
    segments, if given): whole sentences first, then whole words; a URL is never cut — one longer
    than the limit goes alone, over the limit."""
    if max_chars < 20:
        raise ValueError("max_chars is too small to split sensibly")

    def fits(s: str) -> bool:
        return len(s) <= max_chars and (max_segments is None or segment_info(s).segments <= max_segments)

    text = text.strip()
    if not text or fits(text):
        return [text] if text else []
    parts: list[str] = []
    cur = ""

    def close() -> None:
        nonlocal cur
        if cur.strip():
            parts.append(cur.strip())
        cur = ""

    for sentence, sep in _sentences(text):
        candidate = f"{cur}{sentence}"
        if fits(candidate.strip()):
            cur = candidate + sep
            continue
        close()
        if fits(sentence):
            cur = sentence + sep
            continue
        for word in sentence.split():
            candidate = f"{cur} {word}" if cur.strip() else word
            if fits(candidate):
                cur = candidate
                continue
            close()
            if fits(word) or _is_url(word):
                cur = word
                continue
            while word:  # a huge non-URL "word": cut where it must be cut
                n = max_chars
                while n > 1 and not fits(word[:n]):
                    n -= 1
                parts.append(word[:n])
                word = word[n:]
        cur = (cur + sep) if cur.strip() else ""
    close()
    return parts


# =============================================================================================
# Senders
# =============================================================================================

SendPurpose = Literal["transactional", "marketing"]
# Twilio message statuses in the order a message progresses; failures are terminal.
_PROGRESS = {
    "scheduled": 0,
    "accepted": 0,
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "delivered-dry-run": 3,
    "read": 4,
}
_FAILED = {"failed", "undelivered", "canceled", "blocked", "not_sent"}


@dataclass
class OutboundSms:
    """One text to send. `event_id` is the outbound timeline event it delivers (the turn's reply);
    without one the sender records a new outbound event (e.g. a call recap)."""

    to: str
    body: str
    customer_id: str
    event_id: str | None = None
    purpose: SendPurpose = "transactional"
    proactive: bool = False  # False: part of a conversation the customer started (a reply)
    in_reply_to: str | None = None  # inbound delivery id: lets that turn's one opt-out confirmation out
    part: int = 0
    parts: int = 1
    meta: dict[str, Any] = field(default_factory=dict)  # for a new event (kind of message, call sid)


@dataclass
class SendResult:
    status: str  # delivered-dry-run | queued | accepted | sent | blocked | failed
    sid: str | None = None
    event_id: str | None = None
    reason: str | None = None  # why blocked/failed (consent decision reason, Twilio error text)
    error_code: str | None = None
    segments: int = 0
    encoding: str = "GSM-7"

    @property
    def sent(self) -> bool:
        return self.status not in _FAILED


@dataclass
class StatusUpdate:
    sid: str
    status: str
    customer_id: str | None
    event_id: str | None
    error_code: str | None = None
    opted_out: bool = False  # a carrier opt-out (21610) was recorded in the consent ledger


class Sender(Protocol):
    """What the channels need from a sender (dry-run or Twilio)."""

    name: str

    async def send_sms(self, msg: OutboundSms) -> SendResult: ...

    async def mark_not_sent(self, customer_id: str, event_id: str, reason: str) -> None: ...

    async def record_status(self, params: Mapping[str, Any]) -> StatusUpdate | None: ...


def overall_status(parts: list[dict[str, Any]]) -> str:
    """One status for a reply sent as several texts: the first failure, else the least progressed."""
    for p in parts:
        if p.get("status") in _FAILED:
            return str(p["status"])
    ranked = [p.get("status", "queued") for p in parts]
    return min(ranked, key=lambda s: _PROGRESS.get(s, 0)) if ranked else "queued"


def _advances(old: str | None, new: str) -> bool:
    """Status callbacks can arrive out of order: never move a part backwards."""
    if old is None or new in _FAILED:
        return True
    if old in _FAILED:
        return False
    return _PROGRESS.get(new, 0) >= _PROGRESS.get(old, 0)


class SmsSender:
    """Shared bookkeeping for both senders: the consent gate, delivery records on the timeline, the
    MessageSid index (`MessageSid -> (customer, event)`, TTL) and carrier opt-outs (21610)."""

    name = "base"

    def __init__(
        self,
        redis: Any,
        keys: Keys,
        dealer: DealerConfig,
        *,
        clock: Clock = _utcnow,
        gate: ConsentGate | None = None,
        sid_ttl_s: int = SID_INDEX_TTL_S,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.dealer = dealer
        self.clock = clock
        self.gate = gate or ConsentGate(redis, keys, dealer)
        self.timeline = Timeline(redis, keys)
        self.customers = CustomerStore(redis, keys, clock)
        self.sid_ttl_s = sid_ttl_s

    # --- subclasses ----------------------------------------------------------------------------
    async def _transmit(self, msg: OutboundSms, body: str) -> SendResult:
        raise NotImplementedError

    # --- the one entry point ---------------------------------------------------------------------
    async def send_sms(self, msg: OutboundSms) -> SendResult:
        body = smart_encode(msg.body).strip()
        info = segment_info(body)
        cid = (await self.customers.primary_of(msg.customer_id)).id
        allowed, reason = await self._gate(cid, msg)
        if not allowed:
            log.info("sms to customer %s not sent: %s", cid, reason)
            result = SendResult(status="blocked", reason=reason, segments=info.segments, encoding=info.encoding)
        else:
            result = await self._transmit(msg, body)
            result.segments = result.segments or info.segments
            result.encoding = info.encoding
            if result.error_code == CARRIER_OPT_OUT:
                await self._carrier_opt_out(
                    cid, {"error_code": CARRIER_OPT_OUT, "to": msg.to, "stage": "send", "detail": result.reason}
                )
            elif result.sent and msg.proactive:
                await self.gate.record_send(
                    cid, channel="sms", purpose=msg.purpose, at=self.clock(), proactive=True, message_id=result.sid
                )
        result.event_id = await self._record(cid, msg, body, result)
        if result.sid:
            await self.redis.set(
                self._sid_key(result.sid),
                json.dumps({"customer_id": cid, "event_id": result.event_id, "part": msg.part}),
                ex=self.sid_ttl_s,
            )
        return result

    async def mark_not_sent(self, customer_id: str, event_id: str, reason: str) -> None:
        """A reply the turn produced that we deliberately don't send (Twilio already answered it)."""
        patch = {"status": "not_sent", "reason": reason, "sender": self.name, "channel": "sms"}
        async with self._event_lock(customer_id):
            event = await self._event(customer_id, event_id)
            if event is not None:
                delivery = {**event.meta.get("delivery", {}), **patch}
                await self.timeline.update_meta(customer_id, event_id, {"delivery": delivery})

    async def record_status(self, params: Mapping[str, Any]) -> StatusUpdate | None:
        """Apply one status callback: the part's status on the outbound event; 21610 -> opt-out."""
        sid = str(params.get("MessageSid") or params.get("SmsSid") or "")
        status = str(params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
        if not sid or not status:
            return None
        error = str(params.get("ErrorCode") or "") or None
        raw = await self.redis.get(self._sid_key(sid))
        ref = json.loads(raw) if raw else {}
        cid, eid = ref.get("customer_id"), ref.get("event_id")
        if cid and eid:
            await self._update_part(cid, eid, sid, ref.get("part", 0), status, error)
        update = StatusUpdate(sid=sid, status=status, customer_id=cid, event_id=eid, error_code=error)
        if error == CARRIER_OPT_OUT:
            if not cid and params.get("To"):  # the index expired: find the recipient by number
                customer = await self.customers.lookup("phone", str(params["To"]))
                cid = customer.id if customer else None
            if cid:
                evidence = {"error_code": CARRIER_OPT_OUT, "stage": "status_callback", "params": dict(params)}
                update.opted_out = await self._carrier_opt_out(cid, evidence)
            else:
                log.warning("carrier opt-out for %s: no customer with that number", params.get("To"))
        return update

    # --- internals -----------------------------------------------------------------------------
    def _sid_key(self, sid: str) -> str:
        return self.keys.dealer_key("twilio", "sid", sid)

    def _event_lock(self, customer_id: str) -> Any:
        return self.redis.lock(self.keys.cust(customer_id, "delivery-lock"), timeout=10, blocking_timeout=10)

    async def _event(self, customer_id: str, event_id: str) -> TimelineEvent | None:
        raw = await self.redis.hget(self.keys.timeline_events(customer_id), event_id)
        return TimelineEvent.model_validate_json(raw) if raw else None

    async def _gate(self, cid: str, msg: OutboundSms) -> tuple[bool, str]:
        now = self.clock()
        ids = await self.customers.sources(cid)
        customer = await self.customers.find(cid)
        decision = await self.gate.check_send(
            ids,
            channel="sms",
            purpose=msg.purpose,
            to_phone=msg.to,
            at=now,
            proactive=msg.proactive,
            recipient_state=customer.state if customer else None,
            recipient_timezone=customer.timezone if customer else None,
        )
        if decision.allowed:
            return True, decision.reason
        if decision.reason == "opted_out" and msg.in_reply_to and not msg.proactive:
            # The one confirmation of an opt-out the turn just recorded (and claimed) for this message.
            item = (await self.gate.state(ids, at=now)).latest_opt_out("sms")
            window = dt.timedelta(minutes=self.gate.rules.opt_out_confirmation.window_minutes)
            if (
                item is not None
                and item.at is not None
                and (item.evidence or {}).get("delivery_id") == msg.in_reply_to
                and now - item.at <= window
            ):
                return True, "opt_out_confirmation"
        return False, decision.reason

    async def _carrier_opt_out(self, cid: str, evidence: dict[str, Any]) -> bool:
        """Record a carrier-level opt-out (Twilio 21610) unless sms is already opted out."""
        now = self.clock()
        state = await self.gate.state(await self.customers.sources(cid), at=now)
        if state.status("sms", "transactional") == "opted_out":
            return False
        await self.gate.record_opt_out(
            cid, channels="sms", source="carrier_error", evidence=evidence, actor="twilio", at=now
        )
        log.info("carrier opt-out (21610) recorded for customer %s", cid)
        return True

    async def _record(self, cid: str, msg: OutboundSms, body: str, result: SendResult) -> str | None:
        now = self.clock()
        part = {
            "part": msg.part,
            "sid": result.sid,
            "status": result.status,
            "segments": result.segments,
            "encoding": result.encoding,
            "chars": len(body),
            "at": now.isoformat(),
        }
        if result.reason:
            part["reason"] = result.reason
        if result.error_code:
            part["error_code"] = result.error_code
        if msg.event_id is None:
            if result.status == "blocked":
                return None  # nothing was sent and no reply exists: no event claiming a message went out
            delivery = self._delivery({}, msg, [part])
            event = await self.timeline.append(
                cid,
                TimelineEvent(
                    at=now,
                    channel="sms",
                    direction="outbound",
                    kind="message",
                    text=body,
                    actor="ai",
                    meta={**msg.meta, "delivery": delivery},
                ),
            )
            return event.id
        async with self._event_lock(cid):
            event = await self._event(cid, msg.event_id)
            if event is None:
                log.warning("outbound event %s of customer %s not found", msg.event_id, cid)
                return msg.event_id
            old = event.meta.get("delivery") or {}
            parts = [p for p in old.get("parts", []) if p.get("part") != msg.part] + [part]
            delivery = self._delivery(old, msg, sorted(parts, key=lambda p: p.get("part", 0)))
            if msg.parts > 1 or body != event.text:  # what went out differs from the reply as recorded
                delivery["texts"] = {**old.get("texts", {}), str(msg.part): body}
            await self.timeline.update_meta(cid, msg.event_id, {"delivery": delivery})
        return msg.event_id

    def _delivery(self, old: dict[str, Any], msg: OutboundSms, parts: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            **old,
            "channel": "sms",
            "sender": self.name,
            "to": msg.to,
            "parts_total": msg.parts,
            "parts": parts,
            "status": overall_status(parts),
            "reason": next((p["reason"] for p in parts if p.get("reason")), None),
        }

    async def _update_part(self, cid: str, eid: str, sid: str, part_no: int, status: str, error: str | None) -> None:
        async with self._event_lock(cid):
            event = await self._event(cid, eid)
            if event is None:
                return
            delivery = dict(event.meta.get("delivery") or {})
            parts = [dict(p) for p in delivery.get("parts", [])]
            part = next((p for p in parts if p.get("sid") == sid), None)
            if part is None:
                part = {"part": part_no, "sid": sid}
                parts.append(part)
            if not _advances(part.get("status"), status):
                return
            part["status"] = status
            part["updated_at"] = self.clock().isoformat()
            if error:
                part["error_code"] = error
            delivery["parts"] = sorted(parts, key=lambda p: p.get("part", 0))
            delivery["status"] = overall_status(delivery["parts"])
            await self.timeline.update_meta(cid, eid, {"delivery": delivery})


class DryRunSender(SmsSender):
    """The embedded default: records the text on the timeline as `delivered-dry-run` with a made-up
    MessageSid; nothing leaves the machine."""

    name = "dry-run"

    async def _transmit(self, msg: OutboundSms, body: str) -> SendResult:
        sid = f"SM{secrets.token_hex(16)}"
        log.info("[dry-run sms] to %s (%s): %s", msg.to, sid, body)
        return SendResult(status="delivered-dry-run", sid=sid)


class TwilioSender(SmsSender):
    """Sends through Twilio's REST API (`twilio.rest.Client`; pass `http_client` to inject the HTTP
    layer). The SDK call blocks, so it runs in a worker thread. Delivery updates come back to
    `<public_url>/twilio/sms/status`."""

    name = "twilio"

    def __init__(
        self,
        redis: Any,
        keys: Keys,
        dealer: DealerConfig,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        public_url: str | None,
        http_client: Any = None,
        clock: Clock = _utcnow,
        gate: ConsentGate | None = None,
    ) -> None:
        super().__init__(redis, keys, dealer, clock=clock, gate=gate)
        from twilio.rest import Client

        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_number = from_number
        self.status_callback = public_http_url(public_url, SMS_STATUS_PATH) if public_url else None

    async def _transmit(self, msg: OutboundSms, body: str) -> SendResult:
        from twilio.base.exceptions import TwilioRestException

        kwargs: dict[str, Any] = {"to": msg.to, "from_": self.from_number, "body": body}
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        try:
            message = await asyncio.to_thread(self.client.messages.create, **kwargs)
        except TwilioRestException as exc:
            log.warning("Twilio refused the sms to %s: %s %s", msg.to, exc.code, exc.msg)
            return SendResult(status="failed", reason=str(exc.msg), error_code=str(exc.code) if exc.code else None)
        except Exception as exc:  # network, TLS, timeouts: the turn is done, the send failed
            log.exception("sms to %s failed", msg.to)
            return SendResult(status="failed", reason=f"{type(exc).__name__}: {exc}")
        segments = int(message.num_segments) if str(message.num_segments or "").isdigit() else 0
        return SendResult(
            status=str(message.status or "queued"),
            sid=message.sid,
            segments=segments,
            error_code=str(message.error_code) if message.error_code else None,
        )


def build_sender(
    redis: Any,
    keys: Keys,
    dealer: DealerConfig,
    *,
    account_sid: str | None,
    auth_token: str | None,
    from_number: str | None,
    public_url: str | None,
    clock: Clock = _utcnow,
) -> SmsSender:
    """The composition root's choice: Twilio when all three credentials are set, else dry-run."""
    if account_sid and auth_token and from_number:
        return TwilioSender(
            redis,
            keys,
            dealer,
            account_sid=account_sid,
            auth_token=auth_token,
            from_number=from_number,
            public_url=public_url,
            clock=clock,
        )
    return DryRunSender(redis, keys, dealer, clock=clock)
