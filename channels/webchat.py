"""Web chat: the embeddable widget's websocket, the widget script, and a demo dealership site.

Wire protocol of `WS /chat/ws[?visitor_id=…]`, JSON text frames (DESIGN.md is the contract):

client → server
  {"type": "message", "text", "id"?, "page"?, "source"?}   id: client message id, so a resend after a
                                                            reconnect is one turn; page: where the
                                                            visitor is now; source: first touch (UTM…)
  {"type": "hello", "visitor_id"?, "source"?}              optional; adopts a stored visitor id when
                                                            the query string had none
  {"type": "identify", "phone"?, "email"?, "name"?}        the widget's contact form
  {"type": "ping"}
server → client
  {"type": "session", "visitor_id"}                        on connect (again if a hello adopts an id)
  {"type": "history", "messages": [...]}                   this visitor's chat so far
  {"type": "typing", "reply_to"}                           a turn started
  {"type": "token", "text", "reply_to"} ...                streamed deltas of the reply
  {"type": "message", "text", "quick_replies", "cards", "reply_to"}   the final, authoritative reply
  {"type": "ack", "id", "status"}                          a message that got no reply (e.g. staff owns it)
  {"type": "identified", "fields"} | {"type": "pong"} | {"type": "error", "error", "id"?}

Bad frames get an error frame; the socket stays open. A turn survives the visitor's disconnect (it
is shielded and its reply lands on the timeline), so the next connection's history shows it and a
resent message id replays it instead of running a second turn.

History is this visitor's own chat only (inbound events carrying its visitor id and the replies of
those turns), not the merged customer's whole journey: a visitor id lives in a browser's
localStorage and a typed phone number is not proof of identity, so the socket never shows what was
said on another device or channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import phonenumbers
from fastapi import APIRouter, HTTPException, Request, WebSocket
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.types import InboundMessage, Reply, TurnResult
from memory.identity import InvalidIdentity, normalize_email, normalize_phone, normalize_visitor
from memory.locks import CustomerBusy
from memory.timeline import TimelineEvent
from tools.dealer import DealerConfig
from tools.handoff import staff_delivery_channel
from tools.inventory import InventoryStore, Vehicle, format_money

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
WIDGET_JS = WEB_DIR / "widget" / "widget.js"
DEMO_DIR = WEB_DIR / "demo"

MAX_FRAME_CHARS = 16_000
MAX_TEXT_CHARS = 2_000
HISTORY_LIMIT = 60  # messages sent on (re)connect
HISTORY_SCAN = 400  # timeline events read to find them
REPLAY_WAIT_S = 90.0  # how long a resent message waits for the first delivery's turn in this process
RATE_WINDOW_S, RATE_MAX_MESSAGES = 60.0, 20  # per connection: a person doesn't send more than this
_RUNNING: set[asyncio.Task] = set()  # turns outliving their connection stay referenced until done

_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_VIN = re.compile(r"(?<![A-HJ-NPR-Z0-9])[A-HJ-NPR-Z0-9]{17}(?![A-HJ-NPR-Z0-9])", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_STOCK = re.compile(r"^[A-Za-z0-9]{3,20}$")
_VDP_HINTS = {
    "inventory", "vehicle", "vehicles", "vdp", "used", "new", "certified", "cpo", "detail", "details",
    "pre-owned", "preowned", "cars", "trucks", "suvs", "new-vehicles", "used-vehicles",
}  # fmt: skip
SOURCE_KEYS = (
    "landing_page", "referrer", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
    "gclid", "fbclid", "msclkid", "first_seen_at",
)  # fmt: skip
_URL_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "fbclid", "msclkid")


# --- frames ---------------------------------------------------------------------------------
class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PageFrame(_Frame):
    url: str | None = Field(None, max_length=4096)
    title: str | None = Field(None, max_length=1000)
    referrer: str | None = Field(None, max_length=4096)
    stock: str | None = Field(None, max_length=40)
    vin: str | None = Field(None, max_length=40)


class MessageFrame(_Frame):
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    id: str | None = Field(None, pattern=_CLIENT_ID.pattern)
    visitor_id: str | None = Field(None, max_length=64)
    page: PageFrame | None = None
    source: dict[str, Any] | None = None


class HelloFrame(_Frame):
    visitor_id: str | None = Field(None, max_length=64)
    source: dict[str, Any] | None = None
    page: PageFrame | None = None


class IdentifyFrame(_Frame):
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    name: str | None = Field(None, max_length=100)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "frame"
    return f"{where}: {err.get('msg', 'invalid')}"


# --- page context and first touch -----------------------------------------------------------
def page_context(page: PageFrame | None) -> dict[str, Any]:
    """What the visitor is looking at, for the brain: page URL and the VDP's stock number / VIN.

    A VDP is recognised by its URL (dealer sites put the stock number or VIN last in the slug,
    e.g. /inventory/used/2019-toyota-tacoma-U24567) or by explicit stock/vin the page declares.
    """
    if page is None:
        return {}
    out: dict[str, Any] = {}
    url = (page.url or "").strip()
    if url:
        out["page_url"] = url
    if page.title:
        out["page_title"] = page.title.strip()
    if page.referrer:
        out["page_referrer"] = page.referrer.strip()
    stock = (page.stock or "").strip().upper() or None
    vin = (page.vin or "").strip().upper() or None
    if url:
        parts = urlsplit(url)
        query = {k.lower(): v for k, v in parse_qs(parts.query).items()}
        vin = vin or next((v[0].strip().upper() for k, v in query.items() if k == "vin" and v), None)
        stock = stock or next(
            (v[0].strip().upper() for k, v in query.items() if k in ("stock", "stocknumber", "stock_number") and v),
            None,
        )
        segments = [s for s in parts.path.split("/") if s]
        if not vin:
            found = [m.group(0).upper() for m in _VIN.finditer(parts.path)]
            vin = next((v for v in found if re.search(r"\d", v) and re.search(r"[A-Z]", v)), None)
        if not stock and len(segments) >= 2 and any(s.lower() in _VDP_HINTS for s in segments[:-1]):
            last = re.sub(r"\.(html?|aspx?|php)$", "", segments[-1], flags=re.IGNORECASE)
            token = last.rsplit("-", 1)[-1]
            if (
                _STOCK.match(token)
                and re.search(r"\d", token)
                and not re.fullmatch(r"(19|20)\d\d", token)
                and token.upper() != vin
            ):
                stock = token.upper()
    if stock and _STOCK.match(stock):
        out["vdp_stock"] = stock
    if vin and _VIN.fullmatch(vin):
        out["vdp_vin"] = vin
    return out


def first_touch(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The lead source the widget captured on the visitor's first page: landing page, referrer,
    UTM parameters, click ids. Unknown keys are dropped and values bounded."""
    raw = raw or {}
    out: dict[str, Any] = {"channel": "web_chat"}
    for key in SOURCE_KEYS:
        value = raw.get(key)
        if isinstance(value, str | int | float) and str(value).strip():
            out[key] = str(value).strip()[:1000]
    landing = out.get("landing_page")
    if landing:  # belt and braces: the parameters are in the landing URL even if the script missed them
        query = parse_qs(urlsplit(landing).query)
        for key in _URL_PARAMS:
            if key not in out and query.get(key):
                out[key] = query[key][0][:1000]
    return out


def contacts_in(text: str) -> tuple[str | None, str | None]:
    """A phone number and an email the visitor typed, normalised (the first valid one of each)."""
    phone = email = None
    for match in phonenumbers.PhoneNumberMatcher(text, "US"):
        try:
            phone = normalize_phone(phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164))
            break
        except InvalidIdentity:
            continue
    for m in _EMAIL.finditer(text):
        try:
            email = normalize_email(m.group(0))
            break
        except InvalidIdentity:
            continue
    return phone, email


def new_visitor_id() -> str:
    return "v" + secrets.token_urlsafe(15)


def reply_frame(reply: Reply | dict[str, Any], reply_to: str | None) -> dict[str, Any]:
    if isinstance(reply, Reply):
        cards = [asdict(c) for c in reply.cards]
        return {
            "type": "message",
            "text": reply.text,
            "quick_replies": list(reply.quick_replies),
            "cards": cards,
            "reply_to": reply_to,
        }
    return {"type": "message", "reply_to": reply_to, **reply}


# --- staff replies -----------------------------------------------------------------------------
class StaffRelay:
    """Forwards staff replies to this process's open chat sockets.

    The console publishes each reply on `staff_delivery_channel` (any process may hold the visitor's
    socket); every web chat process subscribes once and delivers to its own sessions of a listed
    visitor id. A visitor with no open socket sees the reply in the history on their next visit.
    """

    def __init__(self, redis: Any, channel: str) -> None:
        self.redis = redis
        self.channel = channel
        self.sessions: set[ChatSession] = set()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.channel)
        self.ready.set()
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    await self.deliver(message["data"])
        finally:
            await pubsub.aclose()

    async def deliver(self, raw: str | bytes) -> int:
        try:
            data = json.loads(raw)
        except ValueError:
            log.warning("ignoring a malformed staff delivery message")
            return 0
        visitors = {data.get("visitor_id"), *(data.get("visitor_ids") or [])} - {None, ""}
        frame = {
            "type": "message",
            "from": "staff",
            "text": data.get("text", ""),
            "staff": {"name": (data.get("staff") or {}).get("name")},
            "event_id": data.get("event_id"),
        }
        targets = [s for s in self.sessions if s.visitor_id in visitors and s.alive]
        for session in targets:
            await session.send(frame)
        return len(targets)


# --- one websocket connection ---------------------------------------------------------------
class ChatSession:
    """One browser connection. Turns run one at a time, in the order the visitor sent them."""

    def __init__(self, ws: WebSocket, agent: Any, dealer: DealerConfig, inflight: dict[str, asyncio.Future]) -> None:
        self.ws = ws
        self.agent = agent
        self.dealer = dealer
        self.inflight = inflight
        self.visitor_id = ""
        self.alive = True
        self.turns = 0
        self.source: dict[str, Any] | None = None
        self.recent: deque[float] = deque()  # monotonic times of this connection's recent messages

    async def send(self, frame: dict[str, Any]) -> None:
        """Send unless the visitor has gone; a turn in progress carries on without them."""
        if not self.alive:
            return
        try:
            await self.ws.send_text(json.dumps(frame, default=str))
        except Exception:
            self.alive = False

    async def error(self, message: str, client_id: str | None = None) -> None:
        frame: dict[str, Any] = {"type": "error", "error": message}
        if client_id:
            frame["id"] = client_id
        await self.send(frame)

    async def run(self) -> None:
        await self.ws.accept()
        given = self.ws.query_params.get("visitor_id")
        try:
            self.visitor_id = normalize_visitor(given) if given else new_visitor_id()
        except InvalidIdentity:
            self.visitor_id = new_visitor_id()
        await self.start_session()
        while self.alive:
            try:
                event = await self.ws.receive()
            except Exception:
                break
            if event["type"] == "websocket.disconnect":
                break
            raw = event.get("text")
            if raw is None:
                await self.error("binary frames are not supported; send JSON text")
                continue
            await self.on_frame(raw)
        self.alive = False

    async def start_session(self) -> None:
        await self.send({"type": "session", "visitor_id": self.visitor_id})
        try:
            messages = await self.history()
        except Exception:
            log.exception("chat history failed for visitor %s", self.visitor_id)
            messages = []
        await self.send({"type": "history", "messages": messages})

    async def adopt(self, visitor_id: str | None) -> None:
        """A stored visitor id sent in a frame (instead of the query string) before any turn."""
        if not visitor_id or visitor_id == self.visitor_id or self.turns:
            return
        try:
            self.visitor_id = normalize_visitor(visitor_id)
        except InvalidIdentity:
            return
        await self.start_session()

    async def on_frame(self, raw: str) -> None:
        if len(raw) > MAX_FRAME_CHARS:
            await self.error(f"frame too large (limit {MAX_FRAME_CHARS} characters)")
            return
        try:
            data = json.loads(raw)
        except ValueError:
            await self.error("frames must be JSON objects")
            return
        if not isinstance(data, dict):
            await self.error("frames must be JSON objects")
            return
        kind = data.get("type")
        cid = data.get("id") if isinstance(data.get("id"), str) and _CLIENT_ID.match(data["id"]) else None
        try:
            if kind == "message":
                await self.on_message(MessageFrame.model_validate(data))
            elif kind == "hello":
                hello = HelloFrame.model_validate(data)
                if hello.source:
                    self.source = hello.source
                await self.adopt(hello.visitor_id)
            elif kind == "identify":
                await self.on_identify(IdentifyFrame.model_validate(data))
            elif kind == "ping":
                await self.send({"type": "pong"})
            else:
                await self.error(f"unknown frame type {kind!r}; expected message, identify, hello or ping", cid)
        except ValidationError as exc:
            await self.error(_first_error(exc), cid)

    # --- messages ---------------------------------------------------------------------------
    async def on_message(self, frame: MessageFrame) -> None:
        text = frame.text.strip()
        if not text:
            await self.error("text: the message is empty", frame.id)
            return
        now = time.monotonic()
        while self.recent and now - self.recent[0] > RATE_WINDOW_S:
            self.recent.popleft()
        if len(self.recent) >= RATE_MAX_MESSAGES:
            await self.error("too many messages; please wait a moment and try again", frame.id)
            return
        self.recent.append(now)
        await self.adopt(frame.visitor_id)
        if frame.source:
            self.source = frame.source
        self.turns += 1
        phone, email = contacts_in(text)
        meta: dict[str, Any] = {
            "visitor_id": self.visitor_id,
            "source": first_touch(self.source),
            **page_context(frame.page),
        }
        if frame.id:
            meta["client_id"] = frame.id
        msg = InboundMessage(
            dealer=self.dealer.id,
            channel="chat",
            text=text,
            phone=phone,
            email=email,
            visitor_id=self.visitor_id,
            delivery_id=f"{self.visitor_id}:{frame.id}" if frame.id else None,
            meta=meta,
        )
        key = msg.delivery_id
        if key and key in self.inflight:  # resent while the first delivery is still running here
            await self.deliver(await self.wait_for(self.inflight[key]), frame.id)
            return
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        if key:
            self.inflight[key] = future
        await self.send({"type": "typing", "reply_to": frame.id})
        task = asyncio.create_task(self.turn(msg, frame.id, future))
        _RUNNING.add(task)
        task.add_done_callback(_RUNNING.discard)
        frames = await asyncio.shield(task)  # a disconnect must not cancel a turn half-way
        await self.deliver(frames, frame.id)

    async def turn(self, msg: InboundMessage, client_id: str | None, future: asyncio.Future) -> list[dict]:
        async def emit(delta: str) -> None:
            await self.send({"type": "token", "text": delta, "reply_to": client_id})

        frames: list[dict[str, Any]] = []
        try:
            result: TurnResult = await self.agent.handle_turn(msg, emit=emit)
            frames = await self.frames_for(result, client_id)
        except CustomerBusy:
            frames = [{"type": "error", "error": "still answering your previous message; try again", "id": client_id}]
        except Exception:
            log.exception("chat turn failed for visitor %s", self.visitor_id)
            frames = [{"type": "error", "error": "something went wrong on our side; please try again", "id": client_id}]
        finally:
            if not future.done():
                future.set_result(frames)
            if msg.delivery_id:
                self.inflight.pop(msg.delivery_id, None)
        return frames

    async def frames_for(self, result: TurnResult, client_id: str | None) -> list[dict[str, Any]]:
        if result.duplicate:
            return await self.replay(result, client_id)
        if result.replies:
            return [reply_frame(r, client_id) for r in result.replies]
        status = "handed_off" if (result.suppressed or "").startswith("human_owns") else "no_reply"
        return [{"type": "ack", "id": client_id, "status": status}]

    async def replay(self, result: TurnResult, client_id: str | None) -> list[dict[str, Any]]:
        """A message id seen before: the reply it got (cards included, from the timeline)."""
        if result.turn_id:
            event = await self.outbound_of(result.customer_id, result.turn_id)
            if event is not None:
                return [reply_frame(_event_reply(event), client_id) | {"duplicate": True}]
        if result.replies:
            return [reply_frame(r, client_id) | {"duplicate": True} for r in result.replies]
        return [{"type": "ack", "id": client_id, "status": "processing" if not result.turn_id else "no_reply"}]

    async def wait_for(self, future: asyncio.Future) -> list[dict[str, Any]]:
        try:
            frames = await asyncio.wait_for(asyncio.shield(future), REPLAY_WAIT_S)
        except TimeoutError:
            return [{"type": "ack", "status": "processing"}]
        return [f | {"duplicate": True} if f.get("type") == "message" else f for f in frames]

    async def deliver(self, frames: list[dict[str, Any]], client_id: str | None) -> None:
        for f in frames:
            if f.get("type") == "ack" and client_id:
                f = {**f, "id": client_id}
            await self.send(f)

    async def outbound_of(self, customer_id: str, turn_id: str) -> TimelineEvent | None:
        svc = self.agent.services
        sources = await svc.customers.sources((await svc.customers.primary_of(customer_id)).id)
        for ev in reversed(await svc.timeline.read(sources, limit=HISTORY_SCAN, newest=True)):
            if ev.direction == "outbound" and ev.meta.get("turn_id") == turn_id:
                return ev
        return None

    async def history(self) -> list[dict[str, Any]]:
        svc = self.agent.services
        customer = await svc.customers.lookup("visitor", self.visitor_id)
        if customer is None:
            return []
        sources = await svc.customers.sources(customer.id)
        events = await svc.timeline.read(sources, limit=HISTORY_SCAN, newest=True)
        mine: dict[str, str | None] = {}  # turn id -> client message id, for this visitor's turns
        out: list[dict[str, Any]] = []
        for ev in events:
            if ev.channel != "chat" or ev.kind != "message":
                continue
            meta = ev.meta
            if ev.direction == "inbound":
                if meta.get("visitor_id") != self.visitor_id:
                    continue
                mine[meta.get("turn_id") or ev.id] = meta.get("client_id")
                out.append(
                    {"id": ev.id, "role": "customer", "text": ev.text, "at": ev.at.isoformat(),
                     "client_id": meta.get("client_id")}
                )  # fmt: skip
            elif ev.direction == "outbound":
                turn_id = meta.get("turn_id")
                if turn_id not in mine and meta.get("visitor_id") != self.visitor_id:
                    continue
                out.append(
                    {
                        "id": ev.id,
                        "role": "assistant" if ev.actor == "ai" else "staff",
                        "at": ev.at.isoformat(),
                        "reply_to": mine.get(turn_id) if turn_id else None,
                        **_event_reply(ev),
                    }
                )
        return out[-HISTORY_LIMIT:]

    # --- contact form -----------------------------------------------------------------------
    async def on_identify(self, frame: IdentifyFrame) -> None:
        try:
            phone = normalize_phone(frame.phone) if frame.phone and frame.phone.strip() else None
            email = normalize_email(frame.email) if frame.email and frame.email.strip() else None
        except InvalidIdentity as exc:
            await self.error(str(exc))
            return
        name = (frame.name or "").strip() or None
        if not (phone or email or name):
            await self.error("identify needs a phone, an email or a name")
            return
        msg = InboundMessage(
            dealer=self.dealer.id,
            channel="chat",
            text="",
            phone=phone,
            email=email,
            visitor_id=self.visitor_id,
            name=name,
            meta={"source": first_touch(self.source)},
        )
        try:
            customer = await self.agent.resolve(msg)  # merges with a known customer, records the merge
            fields = [f for f, v in (("phone", phone), ("email", email), ("name", name)) if v]
            await self.agent.services.timeline.append(
                customer.id,
                TimelineEvent(
                    at=self.agent.services.clock(),
                    channel="chat",
                    direction="inbound",
                    kind="contact",
                    text=f"Shared {', '.join(fields)} in the chat widget",
                    actor="customer",
                    meta={"visitor_id": self.visitor_id, "fields": fields, "via": "chat_form"},
                ),
            )
        except Exception:
            log.exception("identify failed for visitor %s", self.visitor_id)
            await self.error("could not save your details; please try again")
            return
        await self.send({"type": "identified", "fields": fields})


def _event_reply(ev: TimelineEvent) -> dict[str, Any]:
    return {
        "text": ev.text,
        "quick_replies": list(ev.meta.get("quick_replies") or []),
        "cards": list(ev.meta.get("cards") or []),
    }


# --- demo site ------------------------------------------------------------------------------
def _card(v: Vehicle) -> dict[str, Any]:
    slug = (v.vdp_url or "").rstrip("/").rsplit("/", 1)[-1] or f"{v.year}-{v.make}-{v.model}-{v.stock_number}".lower()
    return {
        "title": v.title(),
        "price": format_money(v.price),
        "miles": v.miles_label(),
        "color": v.exterior_color or "",
        "stock": v.stock_number or v.vin,
        "vin": v.vin,
        "condition": v.condition,
        "href": f"/demo/inventory/{v.condition}/{slug.replace(' ', '-')}",
        "features": v.features[:6],
        "body": v.body_style or "",
    }


def _featured(vehicles: list[Vehicle], n: int = 6) -> list[Vehicle]:
    """A used truck, then a mix of new and used units, newest arrivals first."""
    ordered = sorted(vehicles, key=lambda v: v.date_in_stock or dt.date.min, reverse=True)
    picks: list[Vehicle] = []
    for want in (("used", "Tacoma"), ("new", "RAV4"), ("used", "Camry"), ("new", "Highlander")):
        hit = next((v for v in ordered if v.condition == want[0] and want[1].lower() in v.model.lower()), None)
        if hit and hit not in picks:
            picks.append(hit)
    for v in ordered:
        if len(picks) >= n:
            break
        if v not in picks:
            picks.append(v)
    return picks[:n]


def _phone_display(raw: str | None) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(raw or "", "US"), phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        return raw or ""


def build_webchat_router(agent: Any, *, dealer: DealerConfig, public_url: str | None) -> APIRouter:
    """`WS /chat/ws`, `GET /chat/widget.js`, and the demo site (`GET /`, `GET /demo/inventory/...`).

    `agent` is the turn handler (`handle_turn`, `resolve`, and `services` for the visitor's history);
    `public_url` is where browsers reach this server (the demo page's script tag points there).
    """
    relay = StaffRelay(agent.services.redis, staff_delivery_channel(agent.services.keys))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        task = asyncio.create_task(relay.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    router = APIRouter(lifespan=lifespan)
    router.staff_relay = relay  # type: ignore[attr-defined]
    inflight: dict[str, asyncio.Future] = {}
    templates = Environment(loader=FileSystemLoader(DEMO_DIR), autoescape=select_autoescape(["html"]))
    templates.globals["phone_display"] = _phone_display(dealer.phone)
    widget_src = (public_url.rstrip("/") if public_url else "") + "/chat/widget.js"

    @router.websocket("/chat/ws")
    async def chat_ws(websocket: WebSocket) -> None:
        session = ChatSession(websocket, agent, dealer, inflight)
        relay.sessions.add(session)
        try:
            await session.run()
        finally:
            relay.sessions.discard(session)

    @router.get("/chat/widget.js", include_in_schema=False)
    async def widget_js() -> FileResponse:
        return FileResponse(
            WIDGET_JS,
            media_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
        )

    def inventory() -> InventoryStore:
        return InventoryStore(agent.services.redis, agent.services.keys)

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def demo_home(request: Request) -> HTMLResponse:
        vehicles = _featured(await inventory().all(status="available"))
        html = templates.get_template("index.html").render(
            dealer=dealer, vehicles=[_card(v) for v in vehicles], widget_src=widget_src
        )
        return HTMLResponse(html)

    @router.get("/demo/inventory/{condition}/{slug}", response_class=HTMLResponse, include_in_schema=False)
    async def demo_vdp(condition: str, slug: str) -> HTMLResponse:
        ctx = page_context(PageFrame(url=f"/inventory/{condition}/{slug}"))
        ref = ctx.get("vdp_vin") or ctx.get("vdp_stock")
        vehicle = await inventory().find(ref) if ref else None
        if vehicle is None:
            raise HTTPException(404, "no such vehicle")
        html = templates.get_template("vdp.html").render(dealer=dealer, v=_card(vehicle), widget_src=widget_src)
        return HTMLResponse(html)

    return router


__all__ = ["ChatSession", "build_webchat_router", "contacts_in", "first_touch", "page_context"]
