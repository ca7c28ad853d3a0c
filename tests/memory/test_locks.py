import asyncio

import pytest

from memory.locks import CustomerBusy, CustomerLocks, Idempotency


async def test_one_turn_at_a_time_per_customer_across_clients(redis_handle, redis, keys):
    """Eight 'processes' (separate connections) run turns for one customer: never two at once."""
    clients = [redis_handle.client() for _ in range(8)]
    active, peak, order = 0, 0, []
    gate = asyncio.Event()

    async def turn(i, client):
        nonlocal active, peak
        await gate.wait()
        async with CustomerLocks(client, keys).hold("c1"):
            active += 1
            peak = max(peak, active)
            order.append(i)
            await asyncio.sleep(0)  # yield inside the critical section
            await client.ping()
            active -= 1

    tasks = [asyncio.create_task(turn(i, c)) for i, c in enumerate(clients)]
    gate.set()
    await asyncio.gather(*tasks)
    assert peak == 1 and sorted(order) == list(range(8))
    for c in clients:
        await c.aclose()


async def test_other_customers_are_not_blocked(redis, keys):
    locks = CustomerLocks(redis, keys)
    async with locks.hold("c1"):
        async with locks.hold("c2", wait=0.5):
            pass


async def test_dead_holder_expires_and_busy_is_reported(redis, keys):
    # A holder that never releases (a crashed process) holds the key only until its ttl.
    dead = CustomerLocks(redis, keys, ttl=0.3)
    lock = redis.lock(keys.lock("c9"), timeout=0.3)
    assert await lock.acquire()
    with pytest.raises(CustomerBusy):
        async with dead.hold("c9", wait=0.05):
            pass
    async with CustomerLocks(redis, keys).hold("c9", wait=5):
        assert await redis.exists(keys.lock("c9"))


async def test_delivery_seen_twice_is_processed_once(redis_handle, redis, keys):
    idem = Idempotency(redis, keys)
    clients = [redis_handle.client() for _ in range(5)]
    claims = await asyncio.gather(*(Idempotency(c, keys).claim("sms", "SM123") for c in clients))
    assert sum(c.first for c in claims) == 1
    await idem.complete("sms", "SM123", {"reply": "hello"})
    later = await idem.claim("sms", "SM123")
    assert not later.first and later.result == {"reply": "hello"}
    await idem.release("sms", "SM999")
    assert (await idem.claim("sms", "SM999")).first
    for c in clients:
        await c.aclose()


async def test_scan_pattern_covers_one_dealer_only(redis):
    from memory.keys import Keys

    demo, demo2 = Keys("demoxyz"), Keys("demoxyz2")
    await redis.set(demo.profile("c1"), "1")
    await redis.set(demo.vehicles(), "1")
    await redis.set(demo2.profile("c1"), "1")
    await redis.set(demo2.vehicles(), "1")
    try:
        found = sorted([k async for k in redis.scan_iter(match=demo.scan_pattern())])
        assert found == sorted([demo.profile("c1"), demo.vehicles()])
    finally:
        await redis.delete(demo.profile("c1"), demo.vehicles(), demo2.profile("c1"), demo2.vehicles())


async def test_a_claim_abandoned_by_a_crashed_process_expires(redis, keys):
    crashed = Idempotency(redis, keys, processing_seconds=1)
    assert (await crashed.claim("sms", "SMcrash")).first
    assert 0 < await redis.ttl(keys.idempotency("sms", "SMcrash")) <= 1  # never completed: short-lived
    done = Idempotency(redis, keys)
    assert (await done.claim("sms", "SMok")).first
    await done.complete("sms", "SMok", {"reply": "x"})
    assert await redis.ttl(keys.idempotency("sms", "SMok")) > 24 * 3600  # completed: remembered for days


async def test_a_busy_pool_waits_instead_of_failing(redis_handle, keys):
    """More concurrent commands than connections: they queue, none raises (a burst of webhooks)."""
    import asyncio

    client = redis_handle.client(max_connections=4, pool_timeout=10)
    try:
        key = keys.dealer_key("pooltest")
        await asyncio.gather(*(client.blpop([key], timeout=0.05) for _ in range(12)))
        assert await client.ping()
    finally:
        await client.aclose()
