"""A web chat visitor asks for a person; staff claim and reply in the console's API; the words
arrive on the visitor's open chat socket, and the AI stays quiet until the conversation is handed back."""

from __future__ import annotations

import asyncio
import json

import httpx
from fastapi import FastAPI
from websockets.asyncio.client import connect

from agent.types import BrainInput, BrainOutput, HandoffRequest, Reply
from channels.staff import build_staff_router
from channels.twilio_common import DryRunSender
from channels.webchat import build_webchat_router

ADMIN = "admin-token-for-tests-0123456789"


class HandoffBrain:
    """Test double: hands off when asked for a person, otherwise answers "AI here"."""

    name = "handoff-double"

    async def respond(self, inp: BrainInput) -> BrainOutput:
        if "person" in inp.text:
            return BrainOutput(
                reply=Reply(text="Connecting you with our team."),
                dialogue=inp.dialogue,
                handoff=HandoffRequest(reason="customer_request", summary="wants a person"),
            )
        return BrainOutput(reply=Reply(text="AI here."), dialogue=inp.dialogue, brain=self.name)


async def next_of(ws, kind: str, within: float = 15.0) -> dict:
    async with asyncio.timeout(within):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame


async def test_staff_reply_reaches_the_open_chat_and_the_ai_waits(services, redis_handle, keys, dealer, kit):
    from agent.turn import Agent
    from memory.checkpoint import AsyncRedisCheckpointSaver

    raw = redis_handle.client(decode_responses=False)
    agent = Agent(
        services, HandoffBrain(), checkpointer=AsyncRedisCheckpointSaver(raw, prefix=keys.checkpoint_prefix())
    )
    app = FastAPI()
    chat = build_webchat_router(agent, dealer=dealer, public_url=None)
    app.include_router(chat)
    app.include_router(
        build_staff_router(
            agent=agent,
            services=services,
            dealer=dealer,
            admin_token=ADMIN,
            sender=DryRunSender(services.redis, keys, dealer),
        )
    )
    auth = {"Authorization": f"Bearer {ADMIN}"}
    # The harness runs uvicorn without lifespans; enter the app's (the relay's subscriber) ourselves.
    async with app.router.lifespan_context(app), kit.serve(app) as base:
        await asyncio.wait_for(chat.staff_relay.ready.wait(), 10)
        ws = await connect(base.replace("http://", "ws://") + "/chat/ws")
        await next_of(ws, "history")
        await ws.send(json.dumps({"type": "message", "text": "can I talk to a person please"}))
        assert (await next_of(ws, "message"))["text"] == "Connecting you with our team."
        async with httpx.AsyncClient(base_url=base, headers=auth) as api:
            handoffs = (await api.get("/api/handoffs", params={"status": "open"})).json()["items"]
            assert len(handoffs) == 1 and handoffs[0]["channel"] == "chat"
            hid = handoffs[0]["id"]
            assert (await api.post(f"/api/handoffs/{hid}/claim")).status_code == 200
            r = await api.post(f"/api/handoffs/{hid}/messages", json={"text": "Hi, this is Ana from sales!"})
            assert r.status_code in (200, 201), r.text
            assert r.json()["status"] == "published" and r.json()["listeners"] == 1
            staff_frame = await next_of(ws, "message")
            assert staff_frame["text"] == "Hi, this is Ana from sales!" and staff_frame["from"] == "staff"

            # While staff own it, the AI says nothing.
            await ws.send(json.dumps({"type": "message", "text": "great, is it still available?"}))
            quiet = await next_of(ws, "ack")
            assert quiet["status"] == "handed_off"

            assert (await api.post(f"/api/handoffs/{hid}/release")).status_code == 200
            await ws.send(json.dumps({"type": "message", "text": "thanks, one more question"}))
            assert (await next_of(ws, "message"))["text"] == "AI here."
        await ws.close()
    await raw.aclose()
