"""Handoffs through the Staff API over real HTTP: claim (one winner), staff replies on SMS / chat /
voice, the AI silent while claimed, notes, hand back, and the console websocket's live events."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
import websockets

from agent.types import InboundMessage
from channels.staff import staff_delivery_channel
from tools.consent import ConsentGate

PHONE = "+18135550111"


async def test_claim_reply_silence_note_and_hand_back(client, login, open_handoff, agent, dealer, brain, journey):
    turn = await open_handoff(PHONE, name="Jordan Price")
    kevin = await login("kevin-tran", "agent")
    lucia = await login("lucia-herrera", "agent")
    tasha = await login("tasha-greene", "manager")

    queue = (await client.get("/api/handoffs", headers=kevin)).json()["items"]
    assert [h["id"] for h in queue] == [turn.handoff_id]
    h = queue[0]
    assert h["status"] == "open" and h["channel"] == "sms" and h["reason"] == "customer_request"
    assert h["customer"]["name"] == "Jordan Price" and h["summary"] == "Jordan Price asked for a person"
    assert h["opened_at"][-6:] in ("-05:00", "-04:00") and h["due_at"]  # ISO 8601 with the dealer's offset

    hid = turn.handoff_id
    r = await client.post(f"/api/handoffs/{hid}/messages", json={"text": "hi"}, headers=kevin)
    assert r.status_code == 409 and "claim" in r.json()["detail"]
    r = await client.post(f"/api/handoffs/{hid}/claim", headers=kevin)
    assert r.status_code == 200 and r.json()["status"] == "claimed" and r.json()["assignee"] == "kevin-tran"
    assert (await client.post(f"/api/handoffs/{hid}/claim", headers=kevin)).status_code == 200  # idempotent
    r = await client.post(f"/api/handoffs/{hid}/claim", headers=lucia)
    assert r.status_code == 409 and "kevin-tran" in r.json()["detail"]
    r = await client.post(f"/api/handoffs/{hid}/claim", json={"assignee": "priya-raman"}, headers=lucia)
    assert r.status_code == 403  # agents can't assign to others
    r = await client.post(f"/api/handoffs/{hid}/messages", json={"text": "hi"}, headers=lucia)
    assert r.status_code == 409

    text = "Hi Jordan, this is Kevin at Bayview Toyota. What time works for a call today?"
    r = await client.post(f"/api/handoffs/{hid}/messages", json={"text": text}, headers=kevin)
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["via"] == "sms" and sent["status"] == "delivered-dry-run" and sent["to"] == PHONE
    events = await journey(PHONE)
    staff_msg = next(e for e in events if e.actor == "staff:kevin-tran" and e.kind == "message")
    assert staff_msg.channel == "sms" and staff_msg.direction == "outbound" and staff_msg.text == text
    assert staff_msg.meta["delivery"]["status"] == "delivered-dry-run" and staff_msg.meta["handoff_id"] == hid

    # the customer writes again: no AI answer while a person owns the conversation
    calls = len(brain.calls)
    quiet = await agent.handle_turn(InboundMessage(dealer=dealer.id, channel="sms", text="3pm works", phone=PHONE))
    assert quiet.replies == [] and quiet.suppressed == "human_owns:kevin-tran" and len(brain.calls) == calls

    r = await client.post(f"/api/handoffs/{hid}/notes", json={"text": "Wants a call at 3pm"}, headers=lucia)
    assert r.status_code == 201 and r.json()["history"][-1]["event"] == "note"

    # a manager reassigns explicitly
    r = await client.post(f"/api/handoffs/{hid}/claim", json={"assignee": "lucia-herrera"}, headers=tasha)
    assert r.status_code == 200 and r.json()["assignee"] == "lucia-herrera"
    assert (await client.post(f"/api/handoffs/{hid}/release", headers=kevin)).status_code == 409
    r = await client.post(f"/api/handoffs/{hid}/release", headers=lucia)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert (await client.post(f"/api/handoffs/{hid}/claim", headers=kevin)).status_code == 409  # closed

    back = await agent.handle_turn(
        InboundMessage(dealer=dealer.id, channel="sms", text="are you open sunday", phone=PHONE)
    )
    assert back.suppressed is None and back.replies[0].text == "AI here: are you open sunday"
    events = await journey(PHONE)
    kinds = [(e.direction, e.kind, e.actor) for e in events]
    assert ("internal", "note", "staff:lucia-herrera") in kinds
    assert ("internal", "handoff", "staff:lucia-herrera") in kinds  # handed back
    assert (await client.get("/api/handoffs", headers=kevin)).json()["items"] == []
    closed = (await client.get("/api/handoffs?status=closed", headers=kevin)).json()["items"]
    assert [c["id"] for c in closed] == [hid]


async def test_two_staff_claiming_at_once_get_one_winner(client, login, open_handoff):
    turn = await open_handoff(PHONE)
    a, b = await login("kevin-tran"), await login("lucia-herrera")
    ra, rb = await asyncio.gather(
        client.post(f"/api/handoffs/{turn.handoff_id}/claim", headers=a),
        client.post(f"/api/handoffs/{turn.handoff_id}/claim", headers=b),
    )
    assert sorted([ra.status_code, rb.status_code]) == [200, 409]


async def test_a_staff_reply_never_goes_to_an_opted_out_customer(
    client, login, open_handoff, redis, keys, dealer, journey
):
    turn = await open_handoff(PHONE)
    await ConsentGate(redis, keys, dealer).record_opt_out(
        turn.customer_id,
        channels="sms",
        source="keyword",
        evidence={"text": "STOP"},
        actor="customer",
        at=dt.datetime.now(dt.UTC),
    )
    kevin = await login("kevin-tran")
    await client.post(f"/api/handoffs/{turn.handoff_id}/claim", headers=kevin)
    r = await client.post(f"/api/handoffs/{turn.handoff_id}/messages", json={"text": "Still there?"}, headers=kevin)
    assert r.status_code == 409 and "opted_out" in r.json()["detail"]
    assert not [e for e in await journey(PHONE) if e.actor == "staff:kevin-tran" and e.kind == "message"]


async def test_a_staff_reply_to_a_chat_customer_is_published_for_their_websocket(
    client, login, open_handoff, redis, keys, timeline
):
    pubsub = redis.pubsub()
    await pubsub.subscribe(staff_delivery_channel(keys))
    turn = await open_handoff(None, channel="chat", visitor_id="visitor-abc123")
    kevin = await login("kevin-tran")
    await client.post(f"/api/handoffs/{turn.handoff_id}/claim", headers=kevin)
    r = await client.post(f"/api/handoffs/{turn.handoff_id}/messages", json={"text": "Hi! Kevin here."}, headers=kevin)
    assert r.status_code == 201 and r.json()["via"] == "chat" and r.json()["status"] == "published"
    async with asyncio.timeout(5):
        while True:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if msg:
                break
    payload = json.loads(msg["data"])
    assert payload["type"] == "staff_message" and payload["text"] == "Hi! Kevin here."
    assert payload["customer_id"] == turn.customer_id and payload["visitor_id"] == "visitor-abc123"
    assert payload["staff"] == {"id": "kevin-tran", "name": "Kevin Tran"}
    ev = next(
        e for e in await timeline.read([turn.customer_id]) if e.actor == "staff:kevin-tran" and e.kind == "message"
    )
    assert ev.channel == "chat" and ev.direction == "outbound" and ev.meta["visitor_id"] == "visitor-abc123"
    await pubsub.aclose()


async def test_a_staff_reply_on_a_voice_handoff_becomes_a_callback_task(client, login, open_handoff, timeline):
    turn = await open_handoff(PHONE, channel="voice")
    kevin = await login("kevin-tran")
    await client.post(f"/api/handoffs/{turn.handoff_id}/claim", headers=kevin)
    r = await client.post(
        f"/api/handoffs/{turn.handoff_id}/messages", json={"text": "Call back re: trade-in"}, headers=kevin
    )
    assert r.status_code == 201 and r.json()["via"] == "callback" and r.json()["phone"] == PHONE
    ev = next(e for e in await timeline.read([turn.customer_id]) if e.kind == "callback")
    assert ev.direction == "internal" and "Call back re: trade-in" in ev.text and ev.actor == "staff:kevin-tran"
    h = (await client.get(f"/api/handoffs/{turn.handoff_id}", headers=kevin)).json()
    assert h["history"][-1]["event"] == "callback_requested"


async def test_the_console_websocket_pushes_handoff_changes_live(base_url, client, login, open_handoff):
    headers = await login("kevin-tran")
    token = headers["Authorization"].split()[1]
    url = base_url.replace("http://", "ws://") + f"/console/ws?token={token}"
    async with websockets.connect(url) as ws:

        async def frame(kind: str) -> dict:
            async with asyncio.timeout(10):
                while True:
                    data = json.loads(await ws.recv())
                    if data["type"] == kind:
                        return data

        assert (await frame("hello"))["staff"]["id"] == "kevin-tran"
        assert (await frame("snapshot"))["items"] == []
        turn = await open_handoff(PHONE, name="Live Test")
        pushed = await frame("handoff")
        assert pushed["handoff"]["id"] == turn.handoff_id and pushed["handoff"]["status"] == "open"
        assert pushed["handoff"]["customer"]["name"] == "Live Test"
        await client.post(f"/api/handoffs/{turn.handoff_id}/claim", headers=headers)
        while True:
            pushed = await frame("handoff")
            if pushed["handoff"]["status"] == "claimed":
                break
        assert pushed["handoff"]["assignee"] == "kevin-tran" and pushed["event"] == "claimed"
        await ws.send(json.dumps({"type": "ping"}))
        assert (await frame("pong"))["type"] == "pong"


@pytest.mark.parametrize("path", ["release", "close"])
async def test_release_and_close_of_an_unknown_handoff_are_404(client, login, path):
    kevin = await login("kevin-tran")
    assert (await client.post(f"/api/handoffs/nope/{path}", headers=kevin)).status_code == 404
