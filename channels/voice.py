"""Twilio Voice with ConversationRelay: `POST /twilio/voice`, `WS /twilio/relay`, `POST /twilio/voice/after`.

1. `/twilio/voice` (signed webhook) answers the call with TwiML: `<Connect action=".../twilio/voice/after">
   <ConversationRelay url="wss://<public host>/twilio/relay" welcomeGreeting=... interruptible="any"
   dtmfDetection="true">` and the caller's number as a `<Parameter>`. Twilio does speech-to-text and
   text-to-speech; we exchange JSON over the websocket.
2. `/twilio/relay`: the handshake's `X-Twilio-Signature` is checked like any webhook — HMAC-SHA1 over
   the URL Twilio connected to (the `url` attribute we put in the TwiML, i.e. the public `wss://` URL,
   plus any query string), with no POST parameters (the handshake is a GET). Then per message:
   `setup` (callSid, from, customParameters) · `prompt` (voicePrompt; `last`) -> one turn with
   `delivery_id = CallSid:n`, its reply streamed as `{"type":"text","token":…,"last":false}` as the
   brain produces it, then `{"type":"text","token":"","last":true}` · `interrupt` -> stop streaming
   that reply; its timeline event gets `meta.interrupted/spoken` = what Twilio says was actually
   played (`utteranceUntilInterrupt`) · `dtmf` "0" -> a person · `error` -> logged.
   A transfer ends the session with `{"type":"end","handoffData":"{\"reason\":…,\"handoff_id\":…}"}`.
3. `/twilio/voice/after` (the `<Connect>` action URL) receives `HandoffData` when the session ended
   that way and returns `<Dial>` to the dealership's transfer number (`voice.transfer_number` in the
   dealer config, else its main phone).

After the caller hangs up, one short recap text goes out (appointment booked on this call, vehicle
discussed, its link — only what the stores hold). It is sent as a transactional continuation of the
conversation the caller started (`proactive=False`): the sender's consent gate lets it through unless
the number is opted out of SMS (a STOP, a carrier 21610, or a revocation said on this very call).
No recap when nothing was booked or shown. Voice replies are made speakable here ("$31,995" ->
"31,995 dollars", stock numbers spelled, no URLs); the agent's guard keeps them to 1-2 sentences.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER
from twilio.twiml.voice_response import Connect, VoiceResponse

from agent.types import InboundMessage, TurnResult
from channels.twilio_common import (
    RELAY_PATH,
    SIGNATURE_HEADER,
    VOICE_AFTER_PATH,
    VOICE_PATH,
    OutboundSms,
    Sender,
    public_base,
    public_http_url,
    signature_valid,
    twiml,
    verified_form,
    websocket_url,
)
from memory.identity import InvalidIdentity, normalize_phone
from memory.keys import Keys
from memory.timeline import Timeline, TimelineEvent
from tools.dealer import DealerConfig

log = logging.getLogger(__name__)

KEYPAD_PERSON = "0"
KEYPAD_TEXT = "I'd like to talk to a person, please."  # what pressing 0 means, as the turn's text
RECAP_MAX_CHARS = 320
TURN_WAIT_S = 60.0  # how long the hang-up waits for a turn still running before the recap

# =============================================================================================
# Speakable text
# =============================================================================================

_NUM = r"\d{1,3}(?:,\d{3})+|\d+"
_MONEY = re.compile(rf"\$\s?(?P<n>{_NUM})(?:\.(?P<c>\d{{1,2}}))?(?P<k>\s?[kK]\b)?(?P<per>\s?/\s?(?:mo|month)\b\.?)?")
_STOCK = re.compile(
    r"\b(?P<label>stock\s*(?:number|no\.?|num|#)?\s*[:#]?\s*)(?=[A-Z0-9-]*\d)(?P<code>[A-Z0-9][A-Z0-9-]{2,})\b",
    re.I,
)
_VIN = re.compile(r"\b(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}\b")
_E164 = re.compile(r"\+1(\d{3})(\d{3})(\d{4})\b")
_URL = re.compile(r"\bhttps?://[^\s<>()\"']+|\bwww\.[^\s<>()\"']+", re.I)
_WORDS = [
    (re.compile(rf"\b({_NUM})\s?mi\b"), r"\1 miles"),
    (re.compile(r"\b(\d+)\s?mpg\b", re.I), r"\1 miles per gallon"),
    (re.compile(r"\bAWD\b"), "all-wheel drive"),
    (re.compile(r"\bFWD\b"), "front-wheel drive"),
    (re.compile(r"\bRWD\b"), "rear-wheel drive"),
    (re.compile(r"\b(?:4WD|4x4)\b"), "four-wheel drive"),
    (re.compile(r"\s&\s"), " and "),
]


def _money(m: re.Match[str]) -> str:
    words = m.group("n") + (" thousand" if m.group("k") else "") + " dollars"
    cents = m.group("c")
    if cents and int(cents.ljust(2, "0")):
        words += f" and {int(cents.ljust(2, '0'))} cents"
    if m.group("per"):
        words += " a month" + ("." if m.group("per").endswith(".") else "")
    return words


def _spell(code: str) -> str:
    return " ".join(ch for ch in code.upper() if ch.isalnum())


def speakable(text: str) -> str:
    """Text as text-to-speech should say it. Keeps leading/trailing whitespace (streamed tokens are
    concatenated by Twilio as they are)."""
    core = text.strip()
    if not core:
        return text
    lead, trail = text[: len(text) - len(text.lstrip())], text[len(text.rstrip()) :]
    core = _URL.sub("our website", core)
    core = _MONEY.sub(_money, core)
    core = _STOCK.sub(lambda m: "stock number " + _spell(m.group("code")), core)
    core = _VIN.sub(lambda m: _spell(m.group()), core)
    core = _E164.sub(r"\1-\2-\3", core)
    for pattern, repl in _WORDS:
        core = pattern.sub(repl, core)
    core = "".join(ch for ch in core if unicodedata.category(ch) not in {"So", "Cs", "Co"})
    core = re.sub(r"[*_`#]+", "", core)
    core = re.sub(r"\s{2,}", " ", core).strip()
    return f"{lead}{core}{trail}" if core else ""


# =============================================================================================
# Dealer voice settings
# =============================================================================================


def voice_config(dealer: DealerConfig) -> dict[str, Any]:
    """The dealer config's optional `voice:` section (transfer_number, greeting, language, tts_provider,
    voice, hints)."""
    extra = dealer.model_extra or {}
    value = extra.get("voice") or getattr(dealer, "voice", None) or {}
    return dict(value) if isinstance(value, dict) else {}


def transfer_number(dealer: DealerConfig) -> str:
    return str(voice_config(dealer).get("transfer_number") or dealer.phone)


def greeting(dealer: DealerConfig) -> str:
    custom = voice_config(dealer).get("greeting")
    if custom:
        return str(custom).format(dealer=dealer.name)
    return f"Thanks for calling {dealer.name}! I'm the virtual assistant. How can I help you today?"


def connect_twiml(
    dealer: DealerConfig, *, relay_url: str, action_url: str, caller: str, call_sid: str
) -> VoiceResponse:
    cfg = voice_config(dealer)
    response = VoiceResponse()
    connect = Connect(action=action_url, method="POST")
    attrs: dict[str, Any] = {
        "url": relay_url,
        "welcome_greeting": greeting(dealer),
        "welcome_greeting_interruptible": "any",
        "interruptible": "any",
        "dtmf_detection": True,
        "language": cfg.get("language") or "en-US",
    }
    for key in ("tts_provider", "voice", "transcription_provider", "hints"):
        if cfg.get(key):
            attrs[key] = str(cfg[key])
    relay = connect.conversation_relay(**attrs)
    relay.parameter(name="caller", value=caller)
    relay.parameter(name="call_sid", value=call_sid)
    response.append(connect)
    return response


# =============================================================================================
# The relay session
# =============================================================================================


class ReplyStream:
    """One reply on its way to ConversationRelay: streamed as the brain produces it, until the caller
    interrupts. `done` flips when the turn is over (later interrupts concern the spoken reply)."""

    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[bool]], *, live: bool) -> None:
        self._send = send
        self.live = live  # False once the caller hung up: nothing is sent
        self.tokens: list[str] = []
        self.interrupt: dict[str, Any] | None = None
        self.done = False

    @property
    def streaming(self) -> bool:
        return self.live and self.interrupt is None

    async def emit(self, delta: str) -> None:
        """The turn's emit callback: a text delta from the (guarded) brain."""
        if not self.streaming or not delta:
            return
        token = speakable(delta)
        if not token.strip():
            return
        if await self._send({"type": "text", "token": token, "last": False}):
            self.tokens.append(token)
        else:
            self.live = False

    async def finish(self, reply_text: str) -> None:
        """End of the turn: speak the reply if nothing was streamed, then close the talk cycle."""
        if not self.streaming:
            return
        if not self.tokens and reply_text.strip():
            await self.emit(reply_text)
        await self._send({"type": "text", "token": "", "last": True})


class RelaySession:
    """One call's websocket. Prompts are handled one at a time by a worker, so the receive loop stays
    free to act on `interrupt` while a reply streams."""

    def __init__(self, channel: VoiceChannel, ws: WebSocket) -> None:
        self.channel = channel
        self.ws = ws
        self.call_sid = ""
        self.phone: str | None = None
        self.to = ""
        self.started_at = channel.clock()
        self.customer_id: str | None = None
        self.turns = 0
        self.partial = ""
        self.queue: asyncio.Queue[tuple[str, str, dict[str, Any]] | None] = asyncio.Queue()
        self.current: ReplyStream | None = None
        self.last_outbound: tuple[str, str] | None = None  # (customer id, event id) of the last reply
        self.handoff: dict[str, Any] | None = None
        self.closed = False  # the websocket is gone (hang-up, or after `end`)
        self.ended = False  # we sent `end`
        self._send_lock = asyncio.Lock()

    # --- wire ------------------------------------------------------------------------------------
    async def send(self, message: dict[str, Any]) -> bool:
        if self.closed:
            return False
        async with self._send_lock:
            try:
                await self.ws.send_text(json.dumps(message))
                return True
            except Exception:  # the caller hung up mid-reply
                self.closed = True
                return False

    async def run(self) -> None:
        await self.ws.accept()
        worker = asyncio.create_task(self._worker())
        try:
            while True:
                frame = await self.ws.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                raw = frame.get("text") or (frame.get("bytes") or b"").decode("utf-8", "replace")
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("ConversationRelay sent non-JSON: %.200s", raw)
                    continue
                if isinstance(message, dict):
                    await self._on(message)
        except WebSocketDisconnect:
            pass
        finally:
            self.closed = True
            await self.queue.put(None)
            try:
                await asyncio.wait_for(worker, TURN_WAIT_S)
            except Exception:
                log.exception("call %s: a turn did not finish after hang-up", self.call_sid)
                worker.cancel()
            await self.channel.after_call(self)

    async def _on(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "setup":
            self._setup(message)
        elif kind == "prompt":
            self.partial += str(message.get("voicePrompt") or "")
            if message.get("last", True):
                text, self.partial = self.partial.strip(), ""
                if text:
                    await self.queue.put(("prompt", text, {"lang": message.get("lang")}))
        elif kind == "interrupt":
            await self._interrupted(message)
        elif kind == "dtmf":
            digit = str(message.get("digit") or "")
            if digit == KEYPAD_PERSON:
                await self.queue.put(("keypad", KEYPAD_TEXT, {"dtmf": digit}))
            else:
                log.info("call %s: keypad %r ignored", self.call_sid, digit)
        elif kind == "error":
            log.warning("ConversationRelay error on call %s: %s", self.call_sid, message.get("description"))
        else:
            log.info("ConversationRelay message %r ignored", kind)

    def _setup(self, message: dict[str, Any]) -> None:
        params = message.get("customParameters") or {}
        self.call_sid = str(message.get("callSid") or params.get("call_sid") or "")
        self.to = str(message.get("to") or "")
        for raw in (message.get("from"), params.get("caller")):  # Twilio's own, then ours (same number)
            if not raw:
                continue
            try:
                self.phone = normalize_phone(str(raw))
                break
            except InvalidIdentity:
                continue

    async def _interrupted(self, message: dict[str, Any]) -> None:
        raw_ms = message.get("durationUntilInterruptMs")
        info = {
            "interrupted": True,
            "spoken": str(message.get("utteranceUntilInterrupt") or ""),
            "spoken_ms": int(raw_ms) if str(raw_ms or "").isdigit() else None,
        }
        current = self.current
        if current is not None and not current.done:
            current.interrupt = info  # stop streaming now; recorded when the turn has its event
        elif self.last_outbound is not None:
            await self.channel.timeline.update_meta(*self.last_outbound, info)

    # --- turns -----------------------------------------------------------------------------------
    async def _worker(self) -> None:
        while (item := await self.queue.get()) is not None:
            kind, text, meta = item
            if self.ended:
                continue  # the call is being transferred
            try:
                await self._turn(text, meta, keypad=kind == "keypad")
            except Exception:
                log.exception("call %s: turn failed", self.call_sid)
                if self.current is not None and self.current.streaming:
                    await self.send({"type": "text", "token": self.channel.snag_text(), "last": True})

    async def _turn(self, text: str, meta: dict[str, Any], *, keypad: bool) -> None:
        if not self.call_sid:
            log.warning("prompt before setup: ignored")
            return
        n = await self.channel.next_prompt_number(self.call_sid)
        stream = ReplyStream(self.send, live=not self.closed)
        self.current = stream
        msg = InboundMessage(
            dealer=self.channel.dealer.id,
            channel="voice",
            text=text,
            phone=self.phone,
            visitor_id=None if self.phone else f"call-{self.call_sid}",
            delivery_id=f"{self.call_sid}:{n}",
            meta={"call_sid": self.call_sid, "source": {"channel": "voice", "number": self.to}, **meta},
        )
        result: TurnResult = await self.channel.agent.handle_turn(msg, emit=stream.emit)
        self.customer_id = result.customer_id
        if result.duplicate:
            stream.done = True
            return
        self.turns += 1
        reply_text = result.replies[0].text if result.replies else ""
        event = (result.customer_id, result.outbound_event_id) if result.outbound_event_id else None
        if event is not None:
            self.last_outbound = event
        stream.done = True  # interrupts from here on concern the reply Twilio is playing
        if event is not None and stream.interrupt is not None:
            await self.channel.timeline.update_meta(*event, stream.interrupt)
        elif event is not None and not stream.live:
            await self.channel.timeline.update_meta(*event, {"spoken": "", "not_spoken": "call_ended"})
        await stream.finish(reply_text)
        if keypad or result.end_call:
            handoff_id = result.handoff_id or (await self.channel.open_keypad_handoff(self, result) if keypad else None)
            await self._end("customer_request", handoff_id)

    async def _end(self, reason: str, handoff_id: str | None) -> None:
        """Hand the call back to TwiML (the <Connect> action URL dials a person)."""
        self.handoff = {"reason": reason, "handoff_id": handoff_id, "call_sid": self.call_sid}
        self.ended = True
        await self.send({"type": "end", "handoffData": json.dumps(self.handoff)})


class VoiceChannel:
    """The voice adapter: Twilio's TwiML and ConversationRelay protocol on one side, `agent.handle_turn`
    and the SMS sender (for the recap) on the other."""

    def __init__(
        self,
        agent: Any,
        *,
        public_url: str | None,
        auth_token: str | None,
        dealer: DealerConfig,
        sender: Sender | None,
        redis: Any,
        keys: Keys,
        clock: Callable[[], dt.datetime] | None = None,
        send_recap: bool = True,
    ) -> None:
        self.agent = agent
        self.public_url = public_url
        self.auth_token = auth_token
        self.dealer = dealer
        self.sender = sender
        self.redis = redis
        self.keys = keys
        self.timeline = Timeline(redis, keys)
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.send_recap = send_recap

    # --- HTTP ------------------------------------------------------------------------------------
    async def incoming_call(self, request: Request) -> Response:
        form = await verified_form(request, public_url=self.public_url, auth_token=self.auth_token, path=VOICE_PATH)
        base = public_base(self.public_url, request)
        return twiml(
            connect_twiml(
                self.dealer,
                relay_url=websocket_url(base, RELAY_PATH),
                action_url=public_http_url(base, VOICE_AFTER_PATH),
                caller=str(form.get("From") or ""),
                call_sid=str(form.get("CallSid") or ""),
            )
        )

    async def after_relay(self, request: Request) -> Response:
        """The <Connect> action: a person when the session ended with handoff data (or failed)."""
        form = await verified_form(
            request, public_url=self.public_url, auth_token=self.auth_token, path=VOICE_AFTER_PATH
        )
        response = VoiceResponse()
        raw = str(form.get("HandoffData") or "")
        failed = str(form.get("SessionStatus") or "").lower() == "failed" or bool(form.get("ErrorCode"))
        reason = ""
        if raw:
            try:
                data = json.loads(raw)
                reason = str(data.get("reason") or "") if isinstance(data, dict) else ""
            except ValueError:
                reason = "unparsed"
        if (raw and reason != "hangup") or failed:
            if failed and not raw:
                response.say("Sorry, I'm having trouble on my end. Let me connect you with our team.")
            response.dial(transfer_number(self.dealer), timeout=30, answer_on_bridge=True)
            response.say(f"Sorry, no one at {self.dealer.name} could take your call right now. We'll call you back.")
        response.hangup()
        return twiml(response)

    async def relay(self, ws: WebSocket) -> None:
        url = websocket_url(public_base(self.public_url, ws), RELAY_PATH)
        if ws.url.query:
            url += f"?{ws.url.query}"
        if not signature_valid(
            self.auth_token,
            url,
            {},
            ws.headers.get(SIGNATURE_HEADER),
            signature_settings=ws.headers.get(SIGNATURE_SETTINGS_HEADER),
        ):
            log.warning("ConversationRelay handshake refused: bad or missing signature (validated against %s)", url)
            await ws.close(code=1008)  # before accept: the handshake gets HTTP 403
            return
        await RelaySession(self, ws).run()

    # --- helpers for the session -------------------------------------------------------------------
    async def next_prompt_number(self, call_sid: str) -> int:
        """Per call, across reconnects and processes: `CallSid:n` stays unique."""
        key = self.keys.dealer_key("voice", "prompts", call_sid)
        n = int(await self.redis.incr(key))
        if n == 1:
            await self.redis.expire(key, 24 * 3600)
        return n

    def snag_text(self) -> str:
        return f"Sorry, I hit a snag. Someone from {self.dealer.name} will follow up with you shortly."

    async def open_keypad_handoff(self, session: RelaySession, result: TurnResult) -> str | None:
        """Pressing 0 always reaches a person; if the turn didn't open a handoff, open one here."""
        from tools.context import ToolDeps
        from tools.handoff import open_handoff

        if not result.customer_id:
            return None
        deps = ToolDeps(dealer=self.dealer, redis=self.redis, keys=self.keys, customer_id=result.customer_id,
                        channel="voice", clock=self.clock)  # fmt: skip
        h = await open_handoff(
            deps, reason="customer_request", priority="high", summary="Caller pressed 0 to talk to a person."
        )
        await self.timeline.append(
            result.customer_id,
            TimelineEvent(
                at=self.clock(),
                channel="voice",
                direction="internal",
                kind="handoff",
                text=f"Handoff to {h.team}: {h.reason}",
                actor="system",
                meta={"handoff_id": h.id, "priority": h.priority, "call_sid": session.call_sid, "via": "keypad"},
            ),
        )
        return h.id

    async def after_call(self, session: RelaySession) -> None:
        """Hang-up: the call on the timeline, then the recap text (when there is something to recap)."""
        if session.customer_id is None:
            return
        try:
            ended = self.clock()
            await self.timeline.append(
                session.customer_id,
                TimelineEvent(
                    at=session.started_at,
                    channel="voice",
                    direction="inbound",
                    kind="call",
                    text=f"Phone call, {session.turns} exchange{'s' if session.turns != 1 else ''}, "
                    f"{int((ended - session.started_at).total_seconds())} s"
                    + (", transferred to staff" if session.handoff else ""),
                    actor="customer",
                    meta={
                        "call_sid": session.call_sid,
                        "duration_s": round((ended - session.started_at).total_seconds(), 1),
                        "turns": session.turns,
                        "handoff": session.handoff,
                    },
                ),
            )
            if self.send_recap and self.sender is not None and session.phone:
                text = await self.recap_text(session.customer_id, session.started_at)
                if text:
                    await self.sender.send_sms(
                        OutboundSms(
                            to=session.phone,
                            body=text,
                            customer_id=session.customer_id,
                            purpose="transactional",
                            proactive=False,
                            meta={"purpose": "call_recap", "call_sid": session.call_sid},
                        )
                    )
        except Exception:
            log.exception("call %s: after-call bookkeeping failed", session.call_sid)

    async def recap_text(self, customer_id: str, since: dt.datetime) -> str | None:
        """Only facts from the stores: appointments booked during the call, the vehicle last shown."""
        from memory.customers import CustomerStore
        from tools import booking
        from tools.context import ToolDeps

        since = since - dt.timedelta(seconds=1)
        store = CustomerStore(self.redis, self.keys)
        ids = await store.sources(customer_id)
        deps = ToolDeps(dealer=self.dealer, redis=self.redis, keys=self.keys, customer_id=customer_id,
                        channel="sms", clock=self.clock)  # fmt: skip
        appointments = [a for a in await booking.list_for_customer(deps, customer_id) if a.created_at >= since]
        vehicle: dict[str, Any] | None = None
        for event in await self.timeline.read(ids, after=since):
            if event.direction == "outbound" and event.channel == "voice" and event.meta.get("cards"):
                vehicle = event.meta["cards"][0]
        if not appointments and vehicle is None:
            return None
        head = f"Thanks for calling {self.dealer.name}!"
        pieces: list[tuple[str, bool]] = []  # (text, essential)
        if appointments:
            a = appointments[0]
            pieces.append((f"Your {a.kind.replace('_', ' ')} is booked for {a.label()}", True))
            pieces.append((f" at {self.dealer.address.one_line()}", False))
            pieces.append((".", True))
        if vehicle is not None:
            title = vehicle.get("title") or "vehicle"
            link = vehicle.get("vdp_url") or ""
            pieces.append((f" The {title} you asked about: {link}" if link else f" The {title} you asked about.", True))
        tail = " Questions? Just reply here. Reply STOP to opt out."
        body = head + " " + "".join(t for t, _ in pieces) + tail
        if len(body) > RECAP_MAX_CHARS:
            body = head + " " + "".join(t for t, essential in pieces if essential) + tail
        if len(body) > RECAP_MAX_CHARS:
            body = (head + " " + "".join(t for t, essential in pieces if essential)).strip()
        return re.sub(r"\s{2,}", " ", body).strip()


def build_voice_router(
    agent: Any,
    *,
    public_url: str | None,
    auth_token: str | None,
    dealer: DealerConfig,
    sender: Sender | None,
    send_recap: bool = True,
    redis: Any = None,
    keys: Keys | None = None,
) -> APIRouter:
    """The voice routes. `agent.handle_turn` is the core; `redis`/`keys` (prompt counters, timeline
    marks, the recap's facts) default to the agent's services. `router.channel` is the VoiceChannel."""
    services = getattr(agent, "services", None)
    channel = VoiceChannel(
        agent,
        public_url=public_url,
        auth_token=auth_token,
        dealer=dealer,
        sender=sender,
        redis=redis if redis is not None else services.redis,
        keys=keys or services.keys,
        clock=getattr(services, "clock", None),
        send_recap=send_recap,
    )
    router = APIRouter(tags=["twilio"])
    router.add_api_route(VOICE_PATH, channel.incoming_call, methods=["POST"])
    router.add_api_route(VOICE_AFTER_PATH, channel.after_relay, methods=["POST"])
    router.add_api_websocket_route(RELAY_PATH, channel.relay)
    router.channel = channel  # type: ignore[attr-defined]
    return router
