"""One turn at a time per customer, across channels and processes; a delivery seen twice is one turn."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from memory.keys import Keys


class CustomerBusy(TimeoutError):
    """Another turn for this customer held the lock longer than we were willing to wait."""


class CustomerLocks:
    """SET NX PX with a random token and a token-checked release: a holder that dies frees the lock
    when `ttl` expires, so a crashed process never deadlocks a customer.

    Our own rather than redis-py's `Lock` (same protocol) so a turn can take the lock in the same
    round trip as its delivery claim and let both go in one (`try_on`/`release_on` on a pipeline):
    two round trips fewer per turn.
    """

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

    def __init__(self, redis: Redis, keys: Keys, *, ttl: float = 60.0, wait: float = 90.0) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl = ttl
        self.wait = wait

    def try_on(self, pipe: Any, customer_id: str) -> str:
        """Queue one attempt to take the lock on `pipe`; returns the token (the reply says whether
        it was taken)."""
        token = secrets.token_hex(16)
        pipe.set(self.keys.lock(customer_id), token, nx=True, px=int(self.ttl * 1000))
        return token

    def release_on(self, pipe: Any, customer_id: str, token: str) -> None:
        """Queue the release; a lock that expired and was taken by another holder is left alone."""
        pipe.eval(self._RELEASE, 1, self.keys.lock(customer_id), token)

    async def acquire(self, customer_id: str, *, wait: float | None = None) -> str:
        """Take the lock, polling until `wait` runs out (CustomerBusy then); returns the token."""
        deadline = time.monotonic() + (self.wait if wait is None else wait)
        while True:
            token = secrets.token_hex(16)
            if await self.redis.set(self.keys.lock(customer_id), token, nx=True, px=int(self.ttl * 1000)):
                return token
            if time.monotonic() >= deadline:
                raise CustomerBusy(f"customer {customer_id} is busy")
            await asyncio.sleep(0.01)

    async def release(self, customer_id: str, token: str) -> None:
        await self.redis.eval(self._RELEASE, 1, self.keys.lock(customer_id), token)

    @asynccontextmanager
    async def hold(self, customer_id: str, *, wait: float | None = None) -> AsyncIterator[None]:
        token = await self.acquire(customer_id, wait=wait)
        try:
            yield
        finally:
            await self.release(customer_id, token)


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
        pipe = self.redis.pipeline(transaction=False)
        self.claim_on(pipe, scope, delivery_id)
        (taken,) = await pipe.execute()
        return await self.claimed(scope, delivery_id, taken)

    def claim_on(self, pipe: Any, scope: str, delivery_id: str) -> None:
        """Queue the claim on `pipe`; pass its reply to `claimed`."""
        key = self.keys.idempotency(scope, delivery_id)
        pipe.set(key, json.dumps({"state": "processing"}), nx=True, ex=self.processing_ttl)

    async def claimed(self, scope: str, delivery_id: str, taken: Any) -> Claim:
        if taken:
            return Claim(first=True)
        raw = await self.redis.get(self.keys.idempotency(scope, delivery_id))
        data = json.loads(raw) if raw else {}
        return Claim(first=False, result=data.get("result"))

    async def complete(self, scope: str, delivery_id: str, result: Any) -> None:
        pipe = self.redis.pipeline(transaction=False)
        self.complete_on(pipe, scope, delivery_id, result)
        await pipe.execute()

    def complete_on(self, pipe: Any, scope: str, delivery_id: str, result: Any) -> None:
        key = self.keys.idempotency(scope, delivery_id)
        pipe.set(key, json.dumps({"state": "done", "result": result}), ex=self.ttl)

    async def release(self, scope: str, delivery_id: str) -> None:
        """Forget a claim whose processing failed before anything was stored, so a retry runs."""
        await self.redis.delete(self.keys.idempotency(scope, delivery_id))

    def release_on(self, pipe: Any, scope: str, delivery_id: str) -> None:
        pipe.delete(self.keys.idempotency(scope, delivery_id))
