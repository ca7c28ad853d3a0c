"""Fixtures for the Twilio channel tests: the real Agent on the test's Redis, a real uvicorn server on a
free port (in the test's event loop, so the app and the test share one Redis client), signatures made
with the twilio SDK's RequestValidator, and `ScriptedBrain`, a TEST DOUBLE brain.

Signatures are always computed with `RequestValidator(AUTH_TOKEN).compute_signature(...)` over the
PUBLIC url (not the server's own http://127.0.0.1:port), as Twilio does behind a proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from twilio.request_validator import RequestValidator

from agent.turn import Agent, Services
from agent.types import BrainInput, BrainOutput, Reply
from memory.checkpoint import AsyncRedisCheckpointSaver
from memory.customers import CustomerStore
from memory.timeline import Timeline, TimelineEvent
from tools.dealer import load_dealer_config

AUTH_TOKEN = "test-auth-token-0123456789abcdef"  # the HMAC key of these tests; signatures are computed
PUBLIC_URL = "https://dealer.example.test"  # what Twilio calls (a proxy in front of the app)


class ScriptedBrain:
    """TEST DOUBLE (not the product's brain): answers from a per-test script and streams the reply's
    sentences through `inp.emit`, so the channels' streaming, interrupt and delivery paths are
    deterministic. `handler(inp) -> BrainOutput` is the script; `calls` records each turn's text."""

    name = "scripted"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.handler: Callable[[BrainInput], Awaitable[BrainOutput]] | None = None

    async def respond(self, inp: BrainInput) -> BrainOutput:
        self.calls.append(inp.text)
        if self.handler is not None:
            return await self.handler(inp)
        return await say(inp, "Thanks for the message!", "A member of our team will follow up shortly.")


async def say(inp: BrainInput, *sentences: str, **out: Any) -> BrainOutput:
    """Stream `sentences` (when the channel streams) and return them as the reply."""
    if inp.emit is not None:
        for i, s in enumerate(sentences):
            await inp.emit(s if i == 0 else " " + s)
    return BrainOutput(reply=Reply(text=" ".join(sentences)), brain="scripted", dialogue=inp.dialogue, **out)


def sign(url: str, params: dict[str, str]) -> str:
    return RequestValidator(AUTH_TOKEN).compute_signature(url, params)


async def post_signed(client: httpx.AsyncClient, path: str, params: dict[str, str], **kw: Any) -> httpx.Response:
    headers = {"X-Twilio-Signature": sign(PUBLIC_URL + path, params)}
    return await client.post(path, data=params, headers=headers, **kw)


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 10.0, interval: float = 0.02) -> Any:
    """Wait until `check()` returns something truthy (a condition, never a fixed sleep)."""
    async with asyncio.timeout(within):
        while True:
            value = await check()
            if value:
                return value
            await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Run `app` on a real uvicorn server on a free port, in this event loop; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws="websockets-sansio")
    server = uvicorn.Server(config)
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


@pytest.fixture
def dealer(demo_config_path, dealer_id):
    return load_dealer_config(demo_config_path).model_copy(update={"id": dealer_id})


@pytest.fixture
def brain() -> ScriptedBrain:
    return ScriptedBrain()


@pytest.fixture
def services(redis, keys, dealer) -> Services:
    return Services(dealer=dealer, redis=redis, keys=keys)


@pytest.fixture
async def agent(services, brain, redis_handle, keys) -> AsyncIterator[Agent]:
    """The real turn handler, checkpointed in Redis like production."""
    raw = redis_handle.client(decode_responses=False)
    yield Agent(services, brain, checkpointer=AsyncRedisCheckpointSaver(raw, prefix=keys.checkpoint_prefix()))
    await services.drain()
    await raw.aclose()


def _offline_brain_class() -> type:
    """`agent.offline.OfflineBrain`. With pytest's "prepend" import mode, tests/ is on sys.path and the
    folders tests/agent and tests/agent/offline (no __init__.py) can stand in for the real packages as
    namespace packages when the project root is not on sys.path; put the root first and drop them.
    (Project-wide fix: `pythonpath = ["."]` under [tool.pytest.ini_options].)"""
    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)
    for name in ("agent.offline", "agent"):
        if name in sys.modules and getattr(sys.modules[name], "__file__", None) is None:
            del sys.modules[name]
    from agent.offline import OfflineBrain

    return OfflineBrain


@pytest.fixture
async def offline_agent(services, redis_handle, keys) -> AsyncIterator[Agent]:
    """The real turn handler with the product's offline brain (no embeddings model: rule-based NLU)."""
    OfflineBrain = _offline_brain_class()

    raw = redis_handle.client(decode_responses=False)
    checkpointer = AsyncRedisCheckpointSaver(raw, prefix=keys.checkpoint_prefix())
    yield Agent(services, OfflineBrain(use_embeddings=False), checkpointer=checkpointer)
    await services.drain()
    await raw.aclose()


@pytest.fixture
def customers(redis, keys) -> CustomerStore:
    return CustomerStore(redis, keys)


@pytest.fixture
def timeline(redis, keys) -> Timeline:
    return Timeline(redis, keys)


@pytest.fixture
def journey(customers, timeline) -> Callable[[str], Awaitable[list[TimelineEvent]]]:
    """The timeline of the customer with this phone number ([] when there is no such customer)."""

    async def read(phone: str) -> list[TimelineEvent]:
        customer = await customers.lookup("phone", phone)
        if customer is None:
            return []
        return await timeline.read(await customers.sources(customer.id))

    return read


class Kit:
    """The helpers above, handed to tests as a fixture (test modules don't import conftest)."""

    AUTH_TOKEN = AUTH_TOKEN
    PUBLIC_URL = PUBLIC_URL
    say = staticmethod(say)
    sign = staticmethod(sign)
    post_signed = staticmethod(post_signed)
    eventually = staticmethod(eventually)
    serve = staticmethod(serve)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
