"""The web chat channel over a real uvicorn server and real websocket clients.

The agent is the real `Agent` on the test's Redis. Most tests use `ScriptedBrain`, a TEST DOUBLE
defined below, so streamed deltas, quick replies and cards are known in advance; one test runs the
real offline brain end to end.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect

from agent.offline import OfflineBrain
from agent.turn import Agent
from agent.types import BrainInput, BrainOutput, Reply, VehicleCard
from channels.webchat import PageFrame, build_webchat_router, contacts_in, first_touch, page_context
from integrations.inventory_csv import import_inventory
from memory.checkpoint import AsyncRedisCheckpointSaver
from memory.timeline import TimelineEvent
from tools.inventory import InventoryStore

SAMPLES = Path(__file__).parent / "samples"
TACOMA_STOCK = "U24450"
VDP = "https://www.bayviewtoyota.example/inventory/used/2019-toyota-tacoma-U24450"
SENTENCES = ["Yes, the 2019 Toyota Tacoma TRD Off-Road is here.", "It has a 3.5L V6.", "Want to see it in person?"]
QUICK = ["Book a test drive", "Show similar trucks"]


class ScriptedBrain:
    """TEST DOUBLE, not the product's brain: streams SENTENCES through `inp.emit`, answers with the
    Tacoma's card and two quick replies. Records every BrainInput; `gate` (an Event) can hold a turn
    mid-way so a test can disconnect or resend while it runs."""

    name = "scripted"

    def __init__(self) -> None:
        self.calls: list[BrainInput] = []
        self.gate: asyncio.Event | None = None

    async def respond(self, inp: BrainInput) -> BrainOutput:
        self.calls.append(inp)
        if self.gate is not None:
            await self.gate.wait()
        vehicle = await InventoryStore(inp.deps.redis, inp.deps.keys).by_stock(TACOMA_STOCK)
        assert vehicle is not None
        inp.deps.facts.add_vehicle(vehicle)  # what an inventory tool call records for the outbound guard
        if inp.emit is not None:
            for i, sentence in enumerate(SENTENCES):
                await inp.emit(sentence if i == 0 else " " + sentence)
        card = VehicleCard(
            vin=vehicle.vin,
            title=vehicle.title(),
            price=int(vehicle.price) if vehicle.price is not None else None,
            mileage=vehicle.mileage,
            stock_number=vehicle.stock_number,
            photo_url=vehicle.photo_urls[0] if vehicle.photo_urls else None,
            vdp_url=vehicle.vdp_url,
            status=vehicle.status,
        )
        return BrainOutput(
            reply=Reply(text=" ".join(SENTENCES), quick_replies=list(QUICK), cards=[card]),
            dialogue=inp.dialogue,
            brain="scripted",
        )


@pytest.fixture
def brain() -> ScriptedBrain:
    return ScriptedBrain()


@pytest.fixture
async def server(redis, keys, agent, dealer, kit):
    await import_inventory(redis, keys, SAMPLES / "inventory.csv")
    app = FastAPI()
    app.include_router(build_webchat_router(agent, dealer=dealer, public_url=None))
    async with kit.serve(app) as base:
        yield base


def ws_url(base: str, visitor_id: str | None = None) -> str:
    url = base.replace("http://", "ws://") + "/chat/ws"
    return f"{url}?{urlencode({'visitor_id': visitor_id})}" if visitor_id else url


async def recv(ws: Any, within: float = 10.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), within))


async def until(ws: Any, kind: str, within: float = 15.0) -> list[dict[str, Any]]:
    """Frames received up to and including the first of type `kind`."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(within):
        while True:
            frame = await recv(ws, within)
            frames.append(frame)
            if frame["type"] == kind:
                return frames


async def open_session(base: str, visitor_id: str | None = None) -> tuple[Any, str, list[dict[str, Any]]]:
    ws = await connect(ws_url(base, visitor_id))
    session = await recv(ws)
    assert session["type"] == "session"
    history = await recv(ws)
    assert history["type"] == "history"
    return ws, session["visitor_id"], history["messages"]


async def say(ws: Any, text: str, msg_id: str | None = None, **extra: Any) -> list[dict[str, Any]]:
    frame = {"type": "message", "text": text, **extra}
    if msg_id:
        frame["id"] = msg_id
    await ws.send(json.dumps(frame))
    return await until(ws, "message")


async def test_session_id_is_issued_and_kept(server):
    ws, visitor_id, history = await open_session(server)
    assert visitor_id and history == []
    await ws.close()
    ws2, again, _ = await open_session(server, visitor_id)
    assert again == visitor_id
    await ws2.close()
    ws3, fresh, _ = await open_session(server, "bad id!")  # not a usable id: a new one is issued
    assert fresh != "bad id!"
    await ws3.close()


async def test_streamed_tokens_then_the_message_with_quick_replies_and_cards(server, brain):
    ws, _, _ = await open_session(server)
    frames = await say(ws, "Is the Tacoma still available?", "m1")
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "typing" and kinds[-1] == "message"
    tokens = [f for f in frames if f["type"] == "token"]
    assert len(tokens) == len(SENTENCES) and all(t["reply_to"] == "m1" for t in tokens)
    message = frames[-1]
    assert "".join(t["text"] for t in tokens) == message["text"] == " ".join(SENTENCES)
    assert message["reply_to"] == "m1"
    assert message["quick_replies"] == QUICK
    (card,) = message["cards"]
    assert set(card) == {"vin", "title", "price", "mileage", "stock_number", "photo_url", "vdp_url", "status"}
    assert card["stock_number"] == TACOMA_STOCK and card["price"] == 32995 and card["status"] == "available"
    assert card["vdp_url"].endswith("/2019-toyota-tacoma-u24450")
    assert len(brain.calls) == 1
    await ws.close()


async def test_reconnect_with_the_same_visitor_id_gets_the_history(server):
    ws, visitor_id, _ = await open_session(server)
    await say(ws, "Is the Tacoma still available?", "m1")
    await say(ws, "Great, thanks", "m2")
    await ws.close()
    ws2, _, history = await open_session(server, visitor_id)
    assert [(m["role"], m.get("client_id"), m.get("reply_to")) for m in history] == [
        ("customer", "m1", None),
        ("assistant", None, "m1"),
        ("customer", "m2", None),
        ("assistant", None, "m2"),
    ]
    assert history[0]["text"] == "Is the Tacoma still available?"
    assert history[1]["quick_replies"] == QUICK and history[1]["cards"][0]["stock_number"] == TACOMA_STOCK
    await ws2.close()


async def test_resending_a_message_id_is_one_turn(server, brain, customers, timeline):
    ws, visitor_id, _ = await open_session(server)
    first = (await say(ws, "Is the Tacoma still available?", "m1"))[-1]
    await ws.close()
    ws2, _, _ = await open_session(server, visitor_id)  # e.g. the widget resends after a reconnect
    again = (await say(ws2, "Is the Tacoma still available?", "m1"))[-1]
    assert len(brain.calls) == 1
    assert again["duplicate"] is True and again["reply_to"] == "m1"
    assert again["text"] == first["text"] and again["cards"] == first["cards"]
    assert again["quick_replies"] == first["quick_replies"]
    customer = await customers.lookup("visitor", visitor_id)
    events = await timeline.read(await customers.sources(customer.id))
    assert [(e.direction, e.kind) for e in events] == [("inbound", "message"), ("outbound", "message")]
    await ws2.close()


async def test_a_turn_survives_a_disconnect_and_a_resend_waits_for_it(server, brain, kit):
    brain.gate = asyncio.Event()
    ws, visitor_id, _ = await open_session(server)
    await ws.send(json.dumps({"type": "message", "id": "m1", "text": "Is the Tacoma still available?"}))
    assert (await recv(ws))["type"] == "typing"

    async def brain_started() -> bool:
        return len(brain.calls) == 1

    await kit.eventually(brain_started)
    await ws.close()  # the visitor's connection drops mid-turn

    ws2, _, history = await open_session(server, visitor_id)
    assert [m["role"] for m in history] == ["customer"]  # what they said is already stored
    await ws2.send(json.dumps({"type": "message", "id": "m1", "text": "Is the Tacoma still available?"}))
    brain.gate.set()
    reply = (await until(ws2, "message"))[-1]
    assert reply["reply_to"] == "m1" and reply["text"] == " ".join(SENTENCES)
    assert len(brain.calls) == 1
    await ws2.close()


@pytest.mark.parametrize(
    "raw, expect",
    [
        ("not json", "JSON"),
        ("[1, 2]", "JSON objects"),
        (json.dumps({"type": "dance"}), "unknown frame type"),
        (json.dumps({"type": "message"}), "text"),
        (json.dumps({"type": "message", "text": "   "}), "empty"),
        (json.dumps({"type": "message", "text": "x" * 2001}), "text"),
        (json.dumps({"type": "message", "text": "hi", "id": "bad id with spaces"}), "id"),
        (json.dumps({"type": "message", "text": "hi", "page": "not an object"}), "page"),
        (json.dumps({"type": "identify", "phone": "12"}), "phone"),
        (json.dumps({"type": "identify"}), "identify needs"),
        ("{" + " " * 20_000 + "}", "too large"),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_stays_usable(server, brain, raw, expect):
    ws, _, _ = await open_session(server)
    await ws.send(raw)
    error = await recv(ws)
    assert error["type"] == "error" and expect.lower() in error["error"].lower()
    frames = await say(ws, "Is the Tacoma still available?", "ok1")
    assert frames[-1]["text"] == " ".join(SENTENCES)
    assert len(brain.calls) == 1
    await ws.close()


async def test_binary_frames_get_an_error(server):
    ws, _, _ = await open_session(server)
    await ws.send(b"\x00\x01binary")
    error = await recv(ws)
    assert error["type"] == "error" and "binary" in error["error"]
    await ws.send(json.dumps({"type": "ping"}))
    assert (await recv(ws))["type"] == "pong"
    await ws.close()


async def test_a_visitor_typing_their_phone_merges_with_the_known_customer(server, customers, timeline, dealer):
    known = (await customers.resolve(phone="+18135550151", name="Lee Park")).customer
    ws, visitor_id, _ = await open_session(server)
    await say(ws, "Is the Tacoma still available?", "m1")
    await say(ws, "You can text me at (813) 555-0151", "m2")
    merged = await customers.lookup("visitor", visitor_id)
    assert merged.id == known.id and merged.name == "Lee Park"
    kinds = [e.kind for e in await timeline.read(await customers.sources(known.id))]
    assert "merge" in kinds and kinds.count("message") == 4
    await ws.close()


async def test_the_identify_form_merges_and_history_stays_this_visitors_own(server, customers, timeline):
    known = (await customers.resolve(email="lee@example.com", name="Lee Park")).customer
    await timeline.append(
        known.id,
        TimelineEvent(at=known.created_at, channel="chat", direction="inbound", kind="message",
                      text="an earlier chat on another device", meta={"visitor_id": "other-device-1"}),
    )  # fmt: skip
    ws, visitor_id, _ = await open_session(server)
    await ws.send(json.dumps({"type": "identify", "email": "Lee@Example.com", "name": "Lee"}))
    done = await recv(ws)
    assert done == {"type": "identified", "fields": ["email", "name"]}
    assert (await customers.lookup("visitor", visitor_id)).id == known.id
    await say(ws, "Is the Tacoma still available?", "m1")
    await ws.close()
    ws2, _, history = await open_session(server, visitor_id)
    texts = [m["text"] for m in history]
    assert "an earlier chat on another device" not in texts  # a typed email is not proof of identity
    assert texts[0] == "Is the Tacoma still available?" and len(history) == 2
    await ws2.close()


async def test_page_context_and_first_touch_reach_the_brain_and_the_record(server, brain, customers):
    ws, visitor_id, _ = await open_session(server)
    source = {
        "landing_page": "https://www.bayviewtoyota.example/?utm_source=google&utm_medium=cpc&gclid=abc123",
        "referrer": "https://www.google.com/",
        "utm_source": "google",
        "utm_campaign": "trucks-fall",
        "evil": "x" * 10,
    }
    page = {"url": VDP, "title": "2019 Toyota Tacoma | Bayview Toyota"}
    await say(ws, "Is this one still available?", "m1", page=page, source=source)
    meta = brain.calls[0].meta
    assert meta["vdp_stock"] == "U24450" and meta["page_url"] == VDP
    customer = await customers.lookup("visitor", visitor_id)
    assert customer.source == {
        "channel": "web_chat",
        "landing_page": source["landing_page"],
        "referrer": "https://www.google.com/",
        "utm_source": "google",
        "utm_campaign": "trucks-fall",
        "utm_medium": "cpc",
        "gclid": "abc123",
    }
    await ws.close()


async def test_the_offline_brain_answers_through_the_socket(redis, keys, services, redis_handle, dealer, kit):
    await import_inventory(redis, keys, SAMPLES / "inventory.csv")
    raw = redis_handle.client(decode_responses=False)
    saver = AsyncRedisCheckpointSaver(raw, prefix=keys.checkpoint_prefix())
    agent = Agent(services, OfflineBrain(use_embeddings=False), checkpointer=saver)
    app = FastAPI()
    app.include_router(build_webchat_router(agent, dealer=dealer, public_url=None))
    async with kit.serve(app) as base:
        ws, _, _ = await open_session(base)
        frames = await say(ws, "Do you have any used Tacomas?", "q1")
        message = frames[-1]
        assert message["text"] and message["reply_to"] == "q1"
        assert [f for f in frames if f["type"] == "token"], "the reply is streamed"
        assert any(c["stock_number"] == TACOMA_STOCK for c in message["cards"])
        await ws.close()
    await services.drain()
    await raw.aclose()


async def test_widget_script_and_demo_pages(server):
    async with httpx.AsyncClient(base_url=server) as http:
        js = await http.get("/chat/widget.js")
        assert js.status_code == 200 and js.headers["content-type"].startswith("application/javascript")
        assert "DealerOSChat" in js.text
        home = await http.get("/")
        assert home.status_code == 200 and "Bayview Toyota" in home.text
        assert home.text.count("<script") == 1 and 'src="/chat/widget.js"' in home.text
        vdp = await http.get("/demo/inventory/used/2019-toyota-tacoma-u24450")
        assert vdp.status_code == 200 and "TRD Off-Road" in vdp.text and 'content="U24450"' in vdp.text
        assert (await http.get("/demo/inventory/used/2019-toyota-tacoma-zz999")).status_code == 404


def test_page_context_reads_the_vdp():
    assert page_context(
        PageFrame(url="https://www.bayviewtoyota.example/inventory/used/2019-toyota-tacoma-U24567")
    ) == {
        "page_url": "https://www.bayviewtoyota.example/inventory/used/2019-toyota-tacoma-U24567",
        "vdp_stock": "U24567",
    }
    by_vin = page_context(
        PageFrame(url="https://dealer.example/vehicle-details/used-2019-toyota-tacoma-3TMCZ5AN2KM387595")
    )
    assert by_vin["vdp_vin"] == "3TMCZ5AN2KM387595" and "vdp_stock" not in by_vin
    assert (
        page_context(PageFrame(url="https://dealer.example/VehicleDetails.aspx?stock=u24450"))["vdp_stock"] == "U24450"
    )
    for not_a_vdp in (
        "https://dealer.example/",
        "https://dealer.example/about-us",
        "https://dealer.example/service/2024",
    ):
        assert "vdp_stock" not in page_context(PageFrame(url=not_a_vdp))
    assert page_context(PageFrame(url="https://x.example/specials", stock="t26101")) == {
        "page_url": "https://x.example/specials",
        "vdp_stock": "T26101",
    }


def test_first_touch_and_contacts_helpers():
    assert first_touch({"utm_source": "fb", "fbclid": "F1", "weird": 1}) == {
        "channel": "web_chat",
        "utm_source": "fb",
        "fbclid": "F1",
    }
    assert contacts_in("call me at (813) 555-0151 or mail JO@Example.com") == ("+18135550151", "jo@example.com")
    assert contacts_in("under $30,000 and 2019 or newer") == (None, None)


async def test_a_flood_of_messages_is_refused_without_running_turns(server, brain):
    from channels.webchat import RATE_MAX_MESSAGES

    ws, _, _ = await open_session(server)
    for i in range(RATE_MAX_MESSAGES):
        await say(ws, f"message {i}", f"f{i}")
    await ws.send(json.dumps({"type": "message", "id": "one-too-many", "text": "and another"}))
    error = await recv(ws)
    assert error == {"type": "error", "error": error["error"], "id": "one-too-many"}
    assert "too many messages" in error["error"]
    assert len(brain.calls) == RATE_MAX_MESSAGES
    await ws.close()


async def test_a_hello_frame_can_carry_the_stored_visitor_id(server):
    ws, visitor_id, _ = await open_session(server)
    await say(ws, "Is the Tacoma still available?", "m1")
    await ws.close()
    ws2, issued, _ = await open_session(server)  # no id in the URL: a fresh one is issued...
    assert issued != visitor_id
    await ws2.send(json.dumps({"type": "hello", "visitor_id": visitor_id}))
    session, history = await recv(ws2), await recv(ws2)  # ...and the stored one adopted
    assert session == {"type": "session", "visitor_id": visitor_id}
    assert [m["role"] for m in history["messages"]] == ["customer", "assistant"]
    await ws2.close()
