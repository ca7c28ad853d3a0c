"""Fixtures for the staff API / console tests: the staff router on a real uvicorn server (in the test's
event loop, sharing its Redis), an httpx client, and helpers to create staff logins and customers.

Fixtures from tests/conftest.py and tests/channels/conftest.py are used as they are (`redis`, `keys`,
`dealer`, `services`, `agent` with the ScriptedBrain TEST DOUBLE, `offline_agent`, `kit`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent.types import BrainInput, BrainOutput, HandoffRequest, InboundMessage, Reply
from channels.staff import build_staff_router
from channels.twilio_common import DryRunSender

ADMIN_TOKEN = "test-admin-token-9f8e7d6c5b4a3210"
PASSWORD = "correct horse battery"


@pytest.fixture
def sender(redis, keys, dealer) -> DryRunSender:
    return DryRunSender(redis, keys, dealer)


@pytest.fixture
def clock_box() -> dict[str, Any]:
    """The staff router's clock; a test may pin it (`clock_box["now"] = ...`), else it's real time."""
    return {"now": None}


@pytest.fixture
def staff_router(agent, services, dealer, sender, clock_box):
    def clock() -> dt.datetime:
        return clock_box["now"] or dt.datetime.now(dt.UTC)

    return build_staff_router(
        agent=agent, services=services, dealer=dealer, admin_token=ADMIN_TOKEN, sender=sender, clock=clock
    )


@pytest.fixture
def staff_app(staff_router) -> FastAPI:
    app = FastAPI()
    app.include_router(staff_router)
    return app


@pytest.fixture
async def base_url(staff_app, kit) -> AsyncIterator[str]:
    async with kit.serve(staff_app) as base:
        yield base


@pytest.fixture
async def client(base_url) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin() -> dict[str, str]:
    return bearer(ADMIN_TOKEN)


@pytest.fixture
def login(client, admin) -> Callable[..., Awaitable[dict[str, str]]]:
    """Create a staff login through the API (as the bootstrap admin) and sign in; returns auth headers."""

    async def make(staff_id: str, role: str = "agent", team: str = "bdc", name: str | None = None) -> dict[str, str]:
        body = {
            "id": staff_id,
            "name": name or staff_id.replace("-", " ").title(),
            "role": role,
            "team": team,
            "password": PASSWORD,
        }
        r = await client.post("/api/staff", json=body, headers=admin)
        assert r.status_code in (201, 409), r.text
        r = await client.post("/api/auth/login", json={"id": staff_id, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return bearer(r.json()["token"])

    return make


@pytest.fixture
def open_handoff(agent, brain, dealer) -> Callable[..., Awaitable[Any]]:
    """A customer asks for a person on `channel`; the (scripted) brain hands off. Returns the TurnResult."""

    async def make(
        phone: str | None = "+18135550111", channel: str = "sms", name: str | None = None, **msg: Any
    ) -> Any:
        async def handler(inp: BrainInput) -> BrainOutput:
            if "person" in inp.text:
                return BrainOutput(
                    reply=Reply(text="Connecting you with our team."),
                    handoff=HandoffRequest(
                        reason="customer_request", summary=f"{name or phone or 'visitor'} asked for a person"
                    ),
                    brain="scripted",
                    dialogue=inp.dialogue,
                )
            return BrainOutput(
                reply=Reply(text=f"AI here: {inp.text}"),
                brain="scripted",
                dialogue=inp.dialogue,
            )

        brain.handler = handler
        result = await agent.handle_turn(
            InboundMessage(
                dealer=dealer.id, channel=channel, text="can I talk to a real person", phone=phone, name=name, **msg
            )
        )
        assert result.handoff_id, "the turn should have opened a handoff"
        return result

    return make
