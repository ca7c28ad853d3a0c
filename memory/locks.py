"""One turn at a time per customer, across channels and processes; a delivery seen twice is one turn."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import LockError

from memory.keys import Keys


class CustomerBusy(TimeoutError):
    """Another turn for this customer held the lock longer than we were willing to wait."""


class CustomerLocks:
    """redis-py's Lock (SET NX PX + token-checked release): a holder that dies frees the lock when
    `ttl` expires, so a crashed process never deadlocks a customer."""

    def __init__(self, redis: Redis, keys: Keys, *, ttl: float = 60.0, wait: float = 90.0) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl = ttl
        self.wait = wait

    @asynccontextmanager
    async def hold(self, customer_id: str, *, wait: float | None = None) -> AsyncIterator[None]:
        lock = self.redis.lock(
            self.keys.lock(customer_id),
            timeout=self.ttl,
            blocking_timeout=self.wait if wait is None else wait,
            sleep=0.01,
        )
        if not await lock.acquire():
            raise CustomerBusy(f"customer {customer_id} is busy")
        try:
            yield
        finally:
            try:
                await lock.release()
            except LockError:  # expired while we held it; another holder may own it now
                pass


@dataclass
class Claim:
    first: bool  # True: process it; False: a duplicate delivery
    result: Any = None  # what the first processing stored, if it finished


class Idempotency:
    """Delivery ids (Twilio MessageSid/CallSid, client message ids) claimed once per dealer."""

    def __init__(
        self, redis: Redis, keys: Keys, *, ttl_seconds: int = 7 * 24 * 3600, processing_seconds: int = 180
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl = ttl_seconds
        # A claim whose process died mid-turn expires after this, so a redelivery is processed.
        self.processing_ttl = processing_seconds

    async def claim(self, scope: str, delivery_id: str) -> Claim:
        key = self.keys.idempotency(scope, delivery_id)
        if await self.redis.set(key, json.dumps({"state": "processing"}), nx=True, ex=self.processing_ttl):
            return Claim(first=True)
        raw = await self.redis.get(key)
        data = json.loads(raw) if raw else {}
        return Claim(first=False, result=data.get("result"))

    async def complete(self, scope: str, delivery_id: str, result: Any) -> None:
        key = self.keys.idempotency(scope, delivery_id)
        await self.redis.set(key, json.dumps({"state": "done", "result": result}), ex=self.ttl)

    async def release(self, scope: str, delivery_id: str) -> None:
        """Forget a claim whose processing failed before anything was stored, so a retry runs."""
        await self.redis.delete(self.keys.idempotency(scope, delivery_id))
