"""Twilio voice: TwiML over real HTTP and a scripted ConversationRelay session over a real websocket.

The agent is the real `Agent` on the test's Redis; `ScriptedBrain` (tests/channels/conftest.py) is a
test double that streams known sentences, so streaming, interrupt and handoff are deterministic. To
interrupt *mid-stream*, the brain pauses after its first sentence until the server has received the
`interrupt` frame (seen by a tiny ASGI wrapper around the app), then streams the rest — which must
never reach the caller.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from agent.types import BrainOutput, HandoffRequest, Reply, VehicleCard
from channels.twilio_common import DryRunSender
from channels.voice import build_voice_router, speakable
from memory.consent import ConsentLedger
from tools import booking
from tools.consent import ConsentGate
from tools.handoff import HandoffStore

CALLER = "+18135550188"
CALL_SID = "CA" + "ab" * 16
VIN = "2T3P1RFV8RW000123"
RELAY_PUBLIC = "wss://dealer.example.test/twilio/relay"


class SeesInterrupts:
    """ASGI wrapper: notes when the app has received an `interrupt` frame from the caller."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen = asyncio.Event()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)

        async def watched():
            message = await receive()
            if message.get("type") == "websocket.receive" and '"interrupt"' in (message.get("text") or ""):
                self.seen.set()
            return message

        return await self.app(scope, watched, send)


@pytest.fixture
def make_app(agent, dealer, redis, keys, kit):
    def make(*, auth_token: str | None = kit.AUTH_TOKEN, core=None, **kw: Any):
        sender = DryRunSender(redis, keys, dealer)
        router = build_voice_router(
            core or agent, public_url=kit.PUBLIC_URL, auth_token=auth_token, dealer=dealer, sender=sender, **kw
        )
        app = FastAPI()
        app.include_router(router)
        return SeesInterrupts(app)

    return make


def call_params(**extra: str) -> dict[str, str]:
    return {
        "CallSid": CALL_SID,
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER,
        "To": "+18135550142",
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def relay_headers(kit, url: str = RELAY_PUBLIC) -> dict[str, str]:
    return {"X-Twilio-Signature": kit.sign(url, {})}


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/twilio/relay"


async def recv_until(ws, stop) -> list[dict[str, Any]]:
    out = []
    async with asyncio.timeout(15):
        while True:
            message = json.loads(await ws.recv())
            out.append(message)
            if stop(message):
                return out


# --- TwiML -------------------------------------------------------------------------------------------


async def test_incoming_call_connects_to_conversation_relay(make_app, kit):
    app = make_app()
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        r = await kit.post_signed(client, "/twilio/voice", call_params())
        forged = await client.post("/twilio/voice", data=call_params(), headers={"X-Twilio-Signature": "bm9wZQ=="})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert forged.status_code == 403
    root = ET.fromstring(r.text)
    assert root.tag == "Response"
    [connect_el] = list(root)
    assert connect_el.tag == "Connect" and connect_el.get("action") == kit.PUBLIC_URL + "/twilio/voice/after"
    [relay] = list(connect_el)
    assert relay.tag == "ConversationRelay"
    assert relay.get("url") == RELAY_PUBLIC  # https public URL -> wss, on the public host
    assert "Bayview Toyota" in relay.get("welcomeGreeting")
    assert relay.get("interruptible") == "any" and relay.get("welcomeGreetingInterruptible") == "any"
    assert relay.get("dtmfDetection") == "true"
    params = {p.get("name"): p.get("value") for p in relay if p.tag == "Parameter"}
    assert params == {"caller": CALLER, "call_sid": CALL_SID}


async def test_after_relay_dials_the_transfer_number_only_for_a_handoff(make_app, kit, dealer):
    app = make_app()
    async with kit.serve(app) as base, httpx.AsyncClient(base_url=base) as client:
        handoff = json.dumps({"reason": "customer_request", "handoff_id": "h1"})
        transfer = await kit.post_signed(
            client,
            "/twilio/voice/after",
            call_params(SessionStatus="ended", HandoffData=handoff, CallStatus="in-progress"),
        )
        done = await kit.post_signed(client, "/twilio/voice/after", call_params(SessionStatus="completed"))
        failed = await kit.post_signed(
            client, "/twilio/voice/after", call_params(SessionStatus="failed", ErrorCode="64101")
        )
        unsigned = await client.post("/twilio/voice/after", data=call_params(HandoffData=handoff))
    assert unsigned.status_code == 403
    dial = ET.fromstring(transfer.text).find("Dial")
    assert dial is not None and dial.text == dealer.model_extra["voice"]["transfer_number"] == "+18135550142"
    assert [el.tag for el in ET.fromstring(done.text)] == ["Hangup"]
    assert [el.tag for el in ET.fromstring(failed.text)][:2] == ["Say", "Dial"]


def test_transfer_number_falls_back_to_the_dealer_phone(dealer):
    from channels.voice import transfer_number

    data = dealer.model_dump()
    data.pop("voice")
    plain = dealer.__class__.model_validate({**data, "phone": "+18135550199"})
    assert transfer_number(plain) == "+18135550199"


# --- the websocket handshake -----------------------------------------------------------------------------


async def test_relay_handshake_must_be_signed_over_the_public_wss_url(make_app, kit, redis, keys):
    app = make_app()
    async with kit.serve(app) as base:
        for headers in (
            {},
            {"X-Twilio-Signature": "Zm9yZ2Vk"},
            relay_headers(kit, ws_url(base)),  # signed over the app's own URL, not the public one
            relay_headers(kit, "https://dealer.example.test/twilio/relay"),  # https is not the URL Twilio used
        ):
            with pytest.raises(InvalidStatus) as err:
                async with connect(ws_url(base), additional_headers=headers):
                    pass
            assert err.value.response.status_code == 403
        async with connect(ws_url(base), additional_headers=relay_headers(kit)) as ws:
            await ws.send(json.dumps({"type": "setup", "callSid": CALL_SID, "from": CALLER, "to": "+18135550142"}))
    unconfigured = make_app(auth_token=None)
    async with kit.serve(unconfigured) as base:
        with pytest.raises(InvalidStatus) as err:
            async with connect(ws_url(base), additional_headers=relay_headers(kit)):
                pass
        assert err.value.response.status_code == 403
    assert [k async for k in redis.scan_iter(match=keys.scan_pattern())] == []


# --- a whole call -----------------------------------------------------------------------------------------


async def test_scripted_call_streams_is_interrupted_hands_off_and_texts_a_recap(
    make_app, kit, brain, journey, customers, redis, keys, dealer
):
    app = make_app()
    card = VehicleCard(
        vin=VIN, title="2024 Toyota RAV4 XLE", price=31995, mileage=12400, stock_number="T12345",
        photo_url=None, vdp_url="https://www.bayviewtoyota.example/used/T12345",
    )  # fmt: skip
    booked: list[booking.Appointment] = []

    async def handler(inp):
        text = inp.text.lower()
        if "book" in text:
            [slot] = await booking.available_slots(inp.deps, "sales", limit=1, kind="test_drive")
            appt = await booking.book(inp.deps, department="sales", kind="test_drive", starts_at=slot.starts_at)
            booked.append(appt)
            return await kit.say(inp, f"You're booked for a test drive on {appt.label()}.")
        if "person" in text:
            return await kit.say(
                inp, "Sure, connecting you with our team now.",
                handoff=HandoffRequest(reason="customer_request", summary="Caller asked for a person"),
            )  # fmt: skip
        # a vehicle question: the first sentence streams, then the brain keeps "thinking"
        inp.deps.facts.add_vehicle(card)
        inp.deps.facts.prices.add(31995)
        await inp.emit("The 2024 RAV4 XLE, stock T12345, is $31,995. Would")
        await asyncio.wait_for(app.seen.wait(), 10)  # the caller talks over us meanwhile
        await inp.emit(" you like to see it tomorrow?")
        full = "The 2024 RAV4 XLE, stock T12345, is $31,995. Would you like to see it tomorrow?"
        return BrainOutput(
            reply=Reply(text=full, cards=[card]), brain="scripted", dialogue=inp.dialogue,
            interests=[{"description": card.title, "vin": VIN, "stock_number": "T12345"}],
        )  # fmt: skip

    brain.handler = handler
    async with kit.serve(app) as base:
        async with connect(ws_url(base), additional_headers=relay_headers(kit)) as ws:
            await ws.send(json.dumps({
                "type": "setup", "sessionId": "VX" + "0" * 32, "callSid": CALL_SID, "from": CALLER,
                "to": "+18135550142", "direction": "inbound", "customParameters": {"caller": CALLER},
            }))  # fmt: skip
            await ws.send(json.dumps({"type": "prompt", "voicePrompt": "Is the blue RAV4 still", "last": False}))
            await ws.send(json.dumps({"type": "prompt", "voicePrompt": " available?", "lang": "en-US", "last": True}))

            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
            # streamed while the brain is still working, and said the way people say it
            assert not app.seen.is_set()
            assert first == {
                "type": "text",
                "token": "The 2024 RAV4 XLE, stock number T 1 2 3 4 5, is 31,995 dollars.",
                "last": False,
            }
            spoken = "The 2024 RAV4 XLE, stock number T 1 2 3"
            await ws.send(json.dumps({"type": "interrupt", "utteranceUntilInterrupt": spoken,
                                      "durationUntilInterruptMs": "2140"}))  # fmt: skip
            await ws.send(json.dumps({"type": "prompt", "voicePrompt": "Yes, book me a test drive", "last": True}))
            second = await recv_until(ws, lambda m: m.get("last") is True)
            assert all("tomorrow" not in m.get("token", "") for m in second)  # the rest was never spoken
            assert "".join(m["token"] for m in second).startswith("You're booked for a test drive on")
            assert second[-1] == {"type": "text", "token": "", "last": True}

            await ws.send(json.dumps({"type": "dtmf", "digit": "0"}))
            third = await recv_until(ws, lambda m: m["type"] == "end")
        # the caller is transferred: Twilio closes the socket, then calls the action URL
        end = third[-1]
        data = json.loads(end["handoffData"])
        assert data["reason"] == "customer_request" and data["handoff_id"] and data["call_sid"] == CALL_SID
        assert (await HandoffStore(redis, keys).get(data["handoff_id"])).reason == "customer_request"

        async def recap_sent():
            return [e for e in await journey(CALLER) if e.channel == "sms" and e.direction == "outbound"]

        [recap] = await kit.eventually(recap_sent)

    events = await journey(CALLER)
    prompts = [e for e in events if e.channel == "voice" and e.direction == "inbound" and e.kind == "message"]
    assert [e.text for e in prompts] == [
        "Is the blue RAV4 still available?",
        "Yes, book me a test drive",
        "I'd like to talk to a person, please.",
    ]
    assert [e.meta["delivery_id"] for e in prompts] == [f"{CALL_SID}:1", f"{CALL_SID}:2", f"{CALL_SID}:3"]
    replies = [e for e in events if e.channel == "voice" and e.direction == "outbound"]
    assert replies[0].meta["interrupted"] is True
    assert replies[0].meta["spoken"] == spoken and replies[0].meta["spoken_ms"] == 2140
    assert "interrupted" not in replies[1].meta
    [call] = [e for e in events if e.kind == "call"]
    assert call.meta["call_sid"] == CALL_SID and call.meta["turns"] == 3
    assert call.meta["handoff"]["reason"] == "customer_request"

    # the recap: only facts from the stores — the appointment booked and the vehicle shown
    assert recap.meta["purpose"] == "call_recap" and recap.meta["delivery"]["status"] == "delivered-dry-run"
    assert recap.text.startswith("Thanks for calling Bayview Toyota!")
    assert f"Your test drive is booked for {booked[0].label()}" in recap.text
    assert "2024 Toyota RAV4 XLE" in recap.text and card.vdp_url in recap.text
    assert len(recap.text) <= 320


async def test_keypad_zero_reaches_a_person_even_when_the_brain_does_not_hand_off(
    make_app, kit, brain, redis, keys, journey
):
    app = make_app()
    async with kit.serve(app) as base:
        async with connect(ws_url(base), additional_headers=relay_headers(kit)) as ws:
            await ws.send(json.dumps({"type": "setup", "callSid": CALL_SID, "from": CALLER, "to": "+18135550142"}))
            await ws.send(json.dumps({"type": "dtmf", "digit": "5"}))  # ignored
            await ws.send(json.dumps({"type": "dtmf", "digit": "0"}))
            messages = await recv_until(ws, lambda m: m["type"] == "end")
    data = json.loads(messages[-1]["handoffData"])
    handoff = await HandoffStore(redis, keys).get(data["handoff_id"])
    assert handoff.reason == "customer_request" and handoff.channel == "voice"
    assert brain.calls == ["I'd like to talk to a person, please."]


async def test_no_recap_for_a_caller_opted_out_of_texts(make_app, kit, brain, customers, redis, keys, dealer, journey):
    customer = (await customers.resolve(phone=CALLER)).customer
    await ConsentGate(redis, keys, dealer).record_opt_out(
        customer.id, channels="sms", source="keyword", evidence={"text": "STOP"}, actor="customer",
        at=dt.datetime.now(dt.UTC) - dt.timedelta(days=3),
    )  # fmt: skip
    card = VehicleCard(vin=VIN, title="2024 Toyota RAV4 XLE", price=None, mileage=None, stock_number=None,
                       photo_url=None, vdp_url="https://www.bayviewtoyota.example/used/T12345")  # fmt: skip

    async def handler(inp):
        out = await kit.say(inp, "Happy to help with the RAV4.")
        out.reply.cards = [card]
        return out

    brain.handler = handler
    app = make_app()
    async with kit.serve(app) as base:
        async with connect(ws_url(base), additional_headers=relay_headers(kit)) as ws:
            await ws.send(json.dumps({"type": "setup", "callSid": CALL_SID, "from": CALLER, "to": "+18135550142"}))
            await ws.send(json.dumps({"type": "prompt", "voicePrompt": "tell me about the rav4", "last": True}))
            await recv_until(ws, lambda m: m.get("last") is True)

        async def call_recorded():
            return [e for e in await journey(CALLER) if e.kind == "call"]

        await kit.eventually(call_recorded)  # after_call ran: the recap decision is made by then
    assert not [e for e in await journey(CALLER) if e.channel == "sms"]
    assert [e.source for e in await ConsentLedger(redis, keys).entries([customer.id])] == ["keyword"]


async def test_the_offline_brain_streams_and_transfers_a_caller(make_app, kit, offline_agent, redis, keys, journey):
    app = make_app(core=offline_agent)
    async with kit.serve(app) as base:
        async with connect(ws_url(base), additional_headers=relay_headers(kit)) as ws:
            await ws.send(json.dumps({"type": "setup", "callSid": CALL_SID, "from": CALLER, "to": "+18135550142"}))
            await ws.send(
                json.dumps({"type": "prompt", "voicePrompt": "can I talk to a real person please", "last": True})
            )
            messages = await recv_until(ws, lambda m: m["type"] == "end")
    texts = [m for m in messages if m["type"] == "text"]
    assert texts[0]["token"] and texts[0]["last"] is False
    assert texts[-1] == {"type": "text", "token": "", "last": True}
    data = json.loads(messages[-1]["handoffData"])
    assert data["reason"] == "customer_request"
    assert (await HandoffStore(redis, keys).get(data["handoff_id"])).channel == "voice"


def test_speakable_says_numbers_the_way_people_do():
    assert speakable("It's $31,995.") == "It's 31,995 dollars."
    assert speakable("About $450/mo with $2,500 down") == "About 450 dollars a month with 2,500 dollars down"
    assert speakable("Was $32,499.50, now $31k") == "Was 32,499 dollars and 50 cents, now 31 thousand dollars"
    assert (
        speakable("See stock #T12345 or stock number 8841A.")
        == "See stock number T 1 2 3 4 5 or stock number 8 8 4 1 A."
    )
    assert speakable("Photos at https://www.bayviewtoyota.example/x today") == "Photos at our website today"
    assert speakable("Call +18135550142 🚗") == "Call 813-555-0142"
    assert speakable("AWD, 12,400 mi, 40 mpg") == "all-wheel drive, 12,400 miles, 40 miles per gallon"
    assert speakable(" next sentence.") == " next sentence."  # streamed tokens keep their spacing
