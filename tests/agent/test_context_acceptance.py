"""Acceptance: the context the channels hand the offline brain, through the real channels.

- The web chat websocket (`channels.webchat.build_webchat_router`) on a real uvicorn server: a visitor
  on a vehicle page says "hi", "is this one still available?", "does it have awd", asks the price and
  books a test drive of *that* unit; a visitor on a sold unit's page is told so and shown similar
  ones; the first visitor, back later on the home page, asks for "that truck we talked about".
- A JSON lead `POST /leads` (`channels.leads.build_leads_router`) with SMS consent text: the first
  text thanks them for the inquiry via the provider, confirms availability and the real price,
  answers the comment, offers real open slots in one SMS, and "2" then "yes" books one. An ADF lead
  without consent is answered by email the same way.

Everything is real: Redis (REDIS_URL or embedded), the checkpointer, the demo feed, the Agent and the
offline brain; the senders are the dry-run ones. Prices asserted come from the inventory store. The
clock starts on a Tuesday morning in Tampa (inside every quiet-hours window) and advances in real
time. First responses run in background tasks: the test awaits `router.intake.drain()`, never a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import connect

from agent.offline import OfflineBrain
from agent.turn import Agent, Services
from agent.types import InboundMessage
from channels.leads import build_leads_router
from channels.twilio_common import DryRunSender, OutboundSms, SendResult
from channels.webchat import build_webchat_router
from integrations.inventory_csv import import_inventory
from memory.checkpoint import AsyncRedisCheckpointSaver
from memory.customers import CustomerStore
from memory.timeline import Timeline
from tools.booking import available_slots, list_for_customer
from tools.dealer import load_dealer_config
from tools.inventory import InventoryStore, Vehicle, format_money

ROOT = Path(__file__).resolve().parents[2]
FEED = ROOT / "examples" / "demo" / "inventory.csv"
ADF_CARS_COM = ROOT / "tests" / "channels" / "samples" / "cars_com.xml"  # a sample document, read as data
BASE = dt.datetime(2026, 11, 17, 15, 30, tzinfo=dt.UTC)  # Tue 10:30 AM in Tampa
SITE = "https://www.bayviewtoyota.example"
TACOMA, RAV4, SOLD_CAMRY = "U24450", "U24378", "U24507"
_PRICE = re.compile(r"\$(\d[\d,]*)")


# --- a real server ------------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """`app` on a real uvicorn server on a free port, in this event loop (sharing the test's Redis client)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", ws="websockets-sansio"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        sock.close()


class RecordingSms(DryRunSender):
    """The real dry-run SMS sender, also remembering what it transmitted."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[OutboundSms, str]] = []

    async def _transmit(self, msg: OutboundSms, body: str) -> SendResult:
        self.sent.append((msg, body))
        return await super()._transmit(msg, body)


# --- fixtures -------------------------------------------------------------------------------------------
@pytest.fixture
def clock():
    start = time.monotonic()
    return lambda: BASE + dt.timedelta(seconds=time.monotonic() - start)


@pytest.fixture
def dealer(demo_config_path, dealer_id):
    return load_dealer_config(demo_config_path).model_copy(update={"id": dealer_id})


@pytest.fixture
async def agent(redis, redis_handle, keys, dealer, clock) -> AsyncIterator[Agent]:
    """The real turn handler with the product's offline brain, checkpointed in Redis; the demo feed."""
    report = await import_inventory(redis, keys, FEED)
    assert not report.bad_rows
    services = Services(dealer=dealer, redis=redis, keys=keys, clock=clock)
    raw = redis_handle.client(decode_responses=False)
    yield Agent(services, OfflineBrain(), checkpointer=AsyncRedisCheckpointSaver(raw, prefix=keys.checkpoint_prefix()))
    await services.drain()
    await raw.aclose()


@pytest.fixture
async def store(agent) -> InventoryStore:
    return InventoryStore(agent.services.redis, agent.services.keys)


async def unit(store: InventoryStore, stock: str) -> Vehicle:
    v = await store.by_stock(stock)
    assert v is not None
    return v


async def real_prices(store: InventoryStore, text: str) -> set[int]:
    """Every dollar figure in `text`, each checked to be the listed price of an unsold unit."""
    listed = {int(v.price) for v in await store.all() if v.price is not None and v.status != "sold"}
    said = {int(m.replace(",", "")) for m in _PRICE.findall(text)}
    assert said <= listed, f"{said - listed} in {text!r} is no listed price"
    return said


async def open_slots(agent: Agent, labels_isos: list[tuple[str, str]]) -> None:
    """Each offered time is an open test-drive slot right now."""
    deps = agent.services.deps_for(None, "sms")
    for label, iso in labels_isos:
        at = dt.datetime.fromisoformat(iso)
        found = await available_slots(deps, "sales", start=at, end=at + dt.timedelta(minutes=1), kind="test_drive")
        assert [s.iso for s in found] == [iso], f"{label} is not open"


async def dialogue_of(agent: Agent, customer_id: str) -> dict[str, Any]:
    state = await agent.graph.aget_state({"configurable": {"thread_id": agent.thread_id(customer_id)}})
    return dict(state.values.get("dialogue") or {})


# --- web chat ------------------------------------------------------------------------------------------
async def recv(ws: Any, within: float = 15.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), within))


async def open_session(base: str, visitor_id: str | None = None) -> tuple[Any, str]:
    url = base.replace("http://", "ws://") + "/chat/ws"
    ws = await connect(f"{url}?{urlencode({'visitor_id': visitor_id})}" if visitor_id else url)
    session = await recv(ws)
    assert session["type"] == "session"
    assert (await recv(ws))["type"] == "history"
    return ws, session["visitor_id"]


async def say(ws: Any, text: str, msg_id: str, **extra: Any) -> dict[str, Any]:
    """Send a message; return the final reply frame (after checking the streamed tokens add up to it)."""
    await ws.send(json.dumps({"type": "message", "text": text, "id": msg_id, **extra}))
    tokens: list[str] = []
    async with asyncio.timeout(20):
        while True:
            frame = await recv(ws)
            if frame["type"] == "token":
                tokens.append(frame["text"])
            elif frame["type"] == "message":
                assert frame["reply_to"] == msg_id
                if tokens:
                    assert "".join(tokens).split() == frame["text"].split()
                return frame
            elif frame["type"] == "error":
                raise AssertionError(frame)


def vdp(v: Vehicle) -> dict[str, Any]:
    slug = f"{v.year}-{v.make}-{v.model}-{v.stock_number}".lower().replace(" ", "-")
    return {"url": f"{SITE}/inventory/{v.condition}/{slug}", "title": f"{v.title()} | Bayview Toyota"}


async def test_web_chat_on_a_vehicle_page(agent, store, dealer):
    tacoma = await unit(store, TACOMA)
    app = FastAPI()
    app.include_router(build_webchat_router(agent, dealer=dealer, public_url=None))
    source = {"landing_page": f"{SITE}/?utm_source=google&utm_medium=cpc&utm_campaign=trucks", "utm_source": "google"}
    async with serve(app) as base:
        ws, visitor = await open_session(base)
        page = vdp(tacoma)

        first = await say(ws, "hi", "m1", page=page, source=source)
        assert tacoma.title() in first["text"] and format_money(tacoma.price) in first["text"]
        assert f"{tacoma.mileage:,} miles" in first["text"]
        assert await real_prices(store, first["text"]) == {int(tacoma.price)}
        (card,) = first["cards"]
        assert card["stock_number"] == TACOMA and card["price"] == int(tacoma.price)
        assert "Book a test drive" in first["quick_replies"]

        reply = await say(ws, "is this one still available?", "m2", page=page)
        assert tacoma.title() in reply["text"] and "available" in reply["text"]

        reply = await say(ws, "does it have awd", "m3", page=page)
        assert re.search(r"4WD(?:, not| rather than) AWD", reply["text"]), reply["text"]

        reply = await say(ws, "whats the price on this one", "m4", page=page)
        assert await real_prices(store, reply["text"]) == {int(tacoma.price)}

        reply = await say(ws, "can I test drive this", "m5", page=page)
        assert tacoma.title() in reply["text"]
        labels = [q for q in reply["quick_replies"] if re.match(r"\w{3} \w{3} \d+, ", q)]
        assert len(labels) >= 2 and all(label in reply["text"] for label in labels)
        reply = await say(ws, "2", "m6", page=page)
        assert labels[1] in reply["text"]
        reply = await say(ws, "yes", "m7", page=page)
        assert re.search(r"booked|all set", reply["text"], re.I)

        customers = CustomerStore(agent.services.redis, agent.services.keys)
        customer = await customers.lookup("visitor", visitor)
        (appt,) = await list_for_customer(agent.services.deps_for(customer.id, "chat"))
        assert appt.vin == tacoma.vin and appt.kind == "test_drive"
        assert any(i.vin == tacoma.vin for i in customer.interests)
        assert customer.source["utm_source"] == "google" and customer.source["utm_campaign"] == "trucks"
        inbound = [e for e in await Timeline(agent.services.redis, agent.services.keys).read([customer.id])
                   if e.direction == "inbound"]  # fmt: skip
        assert inbound[0].meta["vdp_stock"] == TACOMA and inbound[0].meta["page_url"] == page["url"]
        await ws.close()

        # Back a week later, on the home page: the truck they talked about, re-checked.
        ws, again = await open_session(base, visitor)
        assert again == visitor
        reply = await say(ws, "what was that truck we talked about?", "m8", page={"url": f"{SITE}/"})
        assert tacoma.title() in reply["text"] and "available" in reply["text"]
        assert await real_prices(store, reply["text"]) == {int(tacoma.price)}
        await ws.close()


async def test_web_chat_on_a_sold_units_page(agent, store, dealer):
    sold = await unit(store, SOLD_CAMRY)
    assert sold.status == "sold"
    app = FastAPI()
    app.include_router(build_webchat_router(agent, dealer=dealer, public_url=None))
    async with serve(app) as base:
        ws, _ = await open_session(base)
        reply = await say(ws, "is this one still available?", "s1", page=vdp(sold))
        text = reply["text"]
        assert sold.title() in text and "sold" in text
        assert format_money(sold.price) not in text
        prices = await real_prices(store, text)
        assert prices and reply["cards"]
        for card in reply["cards"]:
            similar = await unit(store, card["stock_number"])
            assert similar.model == "Camry" and similar.status != "sold" and card["price"] == int(similar.price)
            assert format_money(similar.price) in text
        await ws.close()


# --- leads ----------------------------------------------------------------------------------------------
@pytest.fixture
async def leads(agent, dealer, clock) -> AsyncIterator[Any]:
    sms = RecordingSms(agent.services.redis, agent.services.keys, dealer, clock=clock)
    router = build_leads_router(agent, dealer=dealer, sender=sms)
    app = FastAPI()
    app.include_router(router)
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=20) as http:
        yield http, router.intake, sms
        await router.intake.drain()


JSON_LEAD = {
    "first_name": "Sam",
    "last_name": "Ortiz",
    "phone": "813-555-0181",
    "email": "sam.ortiz@example.com",
    "vehicle": {"year": 2021, "make": "Toyota", "model": "RAV4", "stock": RAV4, "interest": "buy"},
    "comments": "Does it have AWD?",
    "provider": "Facebook Lead Ads",
    "lead_id": "FB-2001",
    "consent": {
        "text": "I agree to receive text messages from Bayview Toyota about my inquiry, including automated texts.",
        "channels": ["sms"],
    },
}


async def test_a_json_lead_gets_a_first_text_that_can_book(agent, store, leads):
    http, intake, sms = leads
    rav4 = await unit(store, RAV4)
    r = await http.post("/leads", json=JSON_LEAD)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["response"] == "queued" and body["channel"] == "sms"
    await asyncio.wait_for(intake.drain(), 20)

    ((msg, text),) = sms.sent  # one text
    assert msg.to == "+18135550181" and msg.proactive is True and len(text) <= 320
    assert text.startswith("Hi Sam") and "inquiry" in text and "Facebook Lead Ads" in text
    assert rav4.title() in text and "still available" in text
    assert await real_prices(store, text) == {int(rav4.price)}
    assert rav4.drivetrain == "FWD" and "FWD" in text  # "Does it have AWD?", answered from the unit
    dialogue = await dialogue_of(agent, body["customer_id"])
    offered = dialogue["pending"]["offered"]
    assert dialogue["pending"]["type"] == "choose_slot" and dialogue["pending"]["ctx"]["vin"] == rav4.vin
    assert 2 <= len(offered) <= 3 and all(o["label"] in text for o in offered)
    await open_slots(agent, [(o["label"], o["iso"]) for o in offered])
    timeline = Timeline(agent.services.redis, agent.services.keys)
    events = await timeline.read([body["customer_id"]])
    (reply,) = [e for e in events if e.direction == "outbound"]
    assert reply.meta["intent"] == "lead_response" and reply.meta["delivery"]["status"] == "delivered-dry-run"

    # The customer texts back "2", then "yes": the second offered time is booked for the RAV4.
    result = await agent.handle_turn(InboundMessage(dealer="x", channel="sms", phone="+18135550181", text="2"))
    assert offered[1]["label"] in result.replies[0].text
    result = await agent.handle_turn(InboundMessage(dealer="x", channel="sms", phone="+18135550181", text="yes"))
    assert re.search(r"booked|all set", result.replies[0].text, re.I)
    (appt,) = await list_for_customer(agent.services.deps_for(body["customer_id"], "sms"))
    assert appt.vin == rav4.vin and appt.starts_at == dt.datetime.fromisoformat(offered[1]["iso"])


async def test_an_adf_lead_without_consent_is_answered_by_email(agent, store, leads):
    http, intake, sms = leads
    tacoma = await unit(store, TACOMA)
    r = await http.post("/leads/adf", content=ADF_CARS_COM.read_bytes(), headers={"content-type": "application/xml"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["channel"] == "email"
    await asyncio.wait_for(intake.drain(), 20)
    assert sms.sent == []
    timeline = Timeline(agent.services.redis, agent.services.keys)
    (reply,) = [e for e in await timeline.read([body["customer_id"]]) if e.direction == "outbound"]
    email = reply.meta["delivery"]
    assert email["to"] == "maria.gonzalez@example.com" and "Tacoma" in email["subject"]
    text = reply.text
    assert text.startswith("Hi Maria") and "Cars.com" in text and "inquiry" in text
    assert tacoma.title() in text and "still available" in text and "Tow Package" in text
    assert await real_prices(store, text) == {int(tacoma.price)}
    offered = (await dialogue_of(agent, body["customer_id"]))["pending"]["offered"]
    assert len(offered) == 3 and all(o["label"] in text for o in offered)
    await open_slots(agent, [(o["label"], o["iso"]) for o in offered])


async def test_a_lead_quotes_todays_price(agent, store, leads):
    """The lead form's price is the provider's; the reply says the inventory's current one."""
    http, intake, sms = leads
    rav4 = await unit(store, RAV4)
    repriced = rav4.model_copy(update={"price": Decimal(25750)})
    async with agent.services.redis.pipeline(transaction=True) as pipe:
        store.queue_write(pipe, repriced)
        store.queue_bump(pipe)
        await pipe.execute()
    lead = {**JSON_LEAD, "lead_id": "FB-2002", "phone": "813-555-0182", "email": "sam2@example.com"}
    lead["vehicle"] = {**JSON_LEAD["vehicle"], "price": "26995"}
    r = await http.post("/leads", json=lead)
    assert r.status_code == 202 and r.json()["channel"] == "sms"
    await asyncio.wait_for(intake.drain(), 20)
    ((_, text),) = sms.sent
    assert "$25,750" in text and "$26,995" not in text
