"""Chroma vector store and cross-channel customer memory, with the real offline embedding model."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from chromadb.api.client import SharedSystemClient

from memory.embeddings import DIMENSIONS, Embedder, get_embedder
from memory.keys import Keys
from memory.redis import RedisHandle
from memory.vectors import (
    CustomerMemory,
    MemoryWriter,
    RecallIndex,
    VectorStore,
    collection_name,
    open_vector_store,
)

AT = dt.datetime(2026, 3, 14, 15, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return get_embedder()  # loaded once per process


@pytest.fixture
def store(tmp_path: Path, embedder: Embedder) -> VectorStore:
    return open_vector_store(None, tmp_path, embedder)


def test_embedder_is_normalized_cached_and_a_chroma_function(embedder: Embedder) -> None:
    a, b, c = embedder.embed(["red pickup truck", "a crimson pickup", "when does the service desk open"])
    assert len(a) == DIMENSIONS
    assert abs(sum(x * x for x in a) - 1.0) < 1e-3

    def cos(u: list[float], v: list[float]) -> float:
        return sum(x * y for x, y in zip(u, v, strict=True))

    assert cos(a, b) > cos(a, c) + 0.2
    assert embedder.embed_one("red pickup truck") == pytest.approx(a, abs=1e-5)
    before = embedder.cache_info()["size"]
    embedder.embed_one("red pickup truck")
    assert embedder.cache_info()["size"] == before
    assert embedder.name() == "dealeros_minilm" and not embedder.is_legacy()
    assert len(embedder(["x"])[0]) == DIMENSIONS
    assert get_embedder() is embedder


def test_texts_waiting_for_the_model_share_one_forward_pass(embedder: Embedder) -> None:
    """Ten callers at once: their queries wait for the pass in progress, then go through together."""
    texts = [f"is the blue tacoma number {i} still there" for i in range(5)]
    alone = embedder.embed(texts)  # reference vectors (embed() does not use the query cache)
    passes: list[int] = []
    encode = embedder._encode

    def counted(batch):
        passes.append(len(batch))
        return encode(batch)

    embedder._encode = counted  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(5) as pool:
            with embedder._encode_lock:  # a pass is running: everyone who arrives now waits
                futures = [pool.submit(embedder.embed_one, t) for t in texts]
                deadline = time.monotonic() + 30
                while len(embedder._waiting) < len(texts) and time.monotonic() < deadline:
                    time.sleep(0.001)  # until all five are queued (a condition, not a guess)
                assert len(embedder._waiting) == len(texts)
            results = [f.result(timeout=30) for f in futures]
    finally:
        del embedder._encode
    assert passes == [5]  # one pass for all of them, not five
    for got, want in zip(results, alone, strict=True):
        assert got == pytest.approx(want, abs=1e-4)


def test_collection_names_follow_chroma_rules() -> None:
    assert collection_name("mem_demo") == "mem_demo"
    odd = collection_name("kb/Bay View:dealer!")
    assert odd.startswith("kb_Bay_View_dealer_") and odd != collection_name("kb/Bay View:dealer?")
    assert len(collection_name("x")) >= 3


async def test_upsert_query_count_delete(store: VectorStore) -> None:
    index = store.collection("docs")
    assert store.collection("docs") is index
    await index.upsert(
        ["a", "b", "c"],
        ["We are open Saturday 9 to 7.", "Oil changes cost $49.95.", "Bring your title for a trade-in."],
        [{"topic": "hours"}, {"topic": "service"}, {"topic": "trade", "extra": None}],
    )
    assert await index.count() == 3
    hits = await index.query("how much is an oil change", k=2)
    assert hits[0].id == "b" and hits[0].score > hits[1].score and 0 < hits[0].score <= 1
    assert hits[0].text == "Oil changes cost $49.95." and hits[0].metadata == {"topic": "service"}
    filtered = await index.query("how much is an oil change", k=5, where={"topic": "hours"})
    assert [h.id for h in filtered] == ["a"]
    await index.upsert(["b"], ["Oil changes cost $59.95 now."], [{"topic": "service"}])
    assert (await index.query("oil change price", k=1))[0].text.endswith("$59.95 now.")
    await index.delete(where={"topic": "trade"})
    await index.delete(ids=["a"])
    assert await index.count() == 1
    with pytest.raises(ValueError):
        await index.delete()


async def test_persists_across_a_new_client(tmp_path: Path, embedder: Embedder) -> None:
    first = open_vector_store(None, tmp_path, embedder)
    await first.collection("mem_p").upsert(["x"], ["Customer prefers texts after 5pm."], [{"k": 1}])
    first.close()  # the last client of the path: Chroma stops that embedded system
    assert first.client._identifier not in SharedSystemClient._identifier_to_system
    second = open_vector_store(None, tmp_path, embedder)
    hits = await second.collection("mem_p").query("when should we text them", k=1)
    assert [h.id for h in hits] == ["x"]
    second.close()


# --- customer memory -------------------------------------------------------------------------


@pytest.fixture(params=["chroma-filter", "recall-index"])
async def memory_for(request: pytest.FixtureRequest, store: VectorStore, redis_handle: RedisHandle):
    """CustomerMemory for a dealer, recalling through Chroma's filter or through the Redis recall
    index: every behaviour below must hold for both."""
    raw = redis_handle.client(decode_responses=False)
    run = uuid.uuid4().hex[:8]
    made: list[Keys] = []

    async def make(dealer: str) -> CustomerMemory:
        if request.param == "chroma-filter":
            return CustomerMemory(store, dealer)
        keys = Keys(f"{dealer}-{run}")
        made.append(keys)
        memory = CustomerMemory(store, dealer, recall_index=RecallIndex(raw, keys))
        assert await memory.backfill_recall_index() == 0  # nothing stored yet; recall uses the index now
        return memory

    yield make
    for keys in made:
        async for key in raw.scan_iter(match=keys.scan_pattern(), count=500):
            await raw.delete(key)
    await raw.aclose()


async def _seed(memory: CustomerMemory) -> None:
    await memory.remember("A", "I want a blue RAV4 hybrid under 35k", channel="sms", at=AT, event_id="1")
    await memory.remember("A", "My trade is a 2015 Camry with 90k miles", channel="chat", at=AT, event_id="2")
    await memory.remember("B", "I want a blue RAV4 hybrid under 35k", channel="voice", at=AT, event_id="1")
    await memory.remember("B", "Need an oil change for my Tacoma", channel="sms", at=AT)


async def test_recall_is_cross_channel_and_per_customer(memory_for) -> None:
    memory = await memory_for("dealer1")
    await _seed(memory)
    hits = await memory.recall("A", "what car are they trading in?", k=4)
    assert hits[0].text.startswith("My trade is a 2015 Camry")
    assert {h.metadata["channel"] for h in hits} == {"sms", "chat"}
    assert all(h.metadata["customer_id"] == "A" for h in hits)
    # same event id, another customer: a separate memory
    assert await memory.count("A") == 2 and await memory.count("B") == 2
    # remembering the same event again is an upsert, not a duplicate
    await memory.remember("A", "My trade is a 2015 Camry with 90k miles", channel="chat", at=AT, event_id="2")
    await memory.remember("B", "Need an oil change for my Tacoma", channel="sms", at=AT)
    assert await memory.count("A") == 2 and await memory.count("B") == 2


async def test_no_cross_customer_leakage(memory_for) -> None:
    memory = await memory_for("dealer1")
    await _seed(memory)
    # identical text stored for both: each sees only their own copy
    for cid in ("A", "B"):
        hits = await memory.recall(cid, "I want a blue RAV4 hybrid under 35k", k=10)
        assert hits and all(h.metadata["customer_id"] == cid for h in hits)
    assert not any("Camry" in h.text for h in await memory.recall("B", "2015 Camry trade", k=10))
    assert not any("Tacoma" in h.text for h in await memory.recall("A", "oil change Tacoma", k=10))
    # nothing for an unknown customer, and no way to pass an empty or wildcard id
    assert await memory.recall("C", "RAV4", k=10) == []
    for bad in ("", "  "):
        with pytest.raises(ValueError):
            await memory.recall(bad, "RAV4")
        with pytest.raises(ValueError):
            await memory.forget_customer(bad)
    # recall has no where-clause parameter at all
    with pytest.raises(TypeError):
        await memory.recall("A", "RAV4", where={"customer_id": "B"})  # type: ignore[call-arg]
    # forgetting one customer leaves the other intact
    await memory.forget_customer("A")
    assert await memory.recall("A", "RAV4", k=10) == []
    assert await memory.count("B") == 2
    # another dealer's memory is another collection
    other = await memory_for("dealer2")
    assert await other.recall("B", "RAV4", k=10) == []


async def test_merge_and_unmerge(memory_for) -> None:
    memory = await memory_for("dealer1")
    await _seed(memory)
    assert await memory.reassign("A", "A") == 2  # onto itself: nothing moves, nothing is lost
    assert len(await memory.recall("A", "Camry trade", k=10)) == 2
    assert await memory.reassign("A", "B") == 2
    assert await memory.recall("A", "Camry trade", k=10) == []
    merged = await memory.recall("B", "Camry trade", k=10)
    assert len(merged) == 4 and merged[0].text.startswith("My trade is")
    assert merged[0].metadata["origin_customer"] == "A"
    # B keeps talking after the merge
    await memory.remember("B", "Can I come Saturday?", channel="chat", at=AT + dt.timedelta(days=1))

    assert await memory.unmerge("A", "B") == 2
    a_texts = {h.text for h in await memory.recall("A", "car", k=10)}
    assert a_texts == {"I want a blue RAV4 hybrid under 35k", "My trade is a 2015 Camry with 90k miles"}
    b_hits = await memory.recall("B", "car", k=10)
    assert len(b_hits) == 3 and all(h.metadata["origin_customer"] == "B" for h in b_hits)


async def test_chained_merge_reverses_step_by_step(memory_for) -> None:
    memory = await memory_for("dealer1")
    await _seed(memory)
    await memory.remember("C", "Looking for a Tundra", channel="sms", at=AT)
    await memory.reassign("A", "B")
    await memory.reassign("B", "C")
    assert await memory.count("C") == 5
    # undo B→C: B's own memories and those of A (still merged into B) go back to B
    await memory.unmerge("B", "C")
    await memory.unmerge("A", "C", to_customer="B")
    assert await memory.count("C") == 1 and await memory.count("B") == 4
    assert [h.text for h in await memory.recall("C", "which truck", k=10)] == ["Looking for a Tundra"]
    assert len(await memory.recall("B", "car", k=10)) == 4 and await memory.recall("A", "car", k=10) == []


async def test_memory_writer_batches_and_flushes(memory_for) -> None:
    memory = await memory_for("demo")
    writer = MemoryWriter(memory, delay=60.0)  # nothing is written by the timer during this test
    writer.add("c1", "I want a blue RAV4 hybrid", channel="chat", at=AT)
    writer.add("c1", "I want a blue RAV4 hybrid", channel="chat", at=AT)  # the same memory twice
    writer.add("c2", "my trade is a 2015 Civic", channel="sms", at=AT)
    writer.add("c2", "   ", channel="sms", at=AT)  # nothing to remember
    assert writer.pending == 3 and await memory.count("c1") == 0  # queued, not yet written
    await writer.flush()
    assert writer.pending == 0 and writer.written == 2
    assert await memory.count("c1") == 1 and await memory.count("c2") == 1
    hits = await memory.recall("c1", "which SUV did I like?")
    assert [h.text for h in hits] == ["I want a blue RAV4 hybrid"] and hits[0].metadata["channel"] == "chat"


async def test_memory_writer_writes_a_full_batch_without_waiting(memory_for) -> None:
    memory = await memory_for("demo")
    writer = MemoryWriter(memory, delay=60.0, max_batch=2)
    writer.add("c1", "first thing I said", channel="sms", at=AT)
    writer.add("c1", "second thing I said", channel="sms", at=AT + dt.timedelta(seconds=1))
    await asyncio.wait_for(writer._timer, 10)  # a full batch starts its write at once
    assert writer.written == 2 and await memory.count("c1") == 2


async def test_memory_writer_drops_a_failed_batch_and_keeps_going(store: VectorStore) -> None:
    class Broken(CustomerMemory):
        async def remember_many(self, items):
            raise RuntimeError("chroma is down")

    writer = MemoryWriter(Broken(store, "demo"), delay=60.0)
    writer.add("c1", "hello", channel="sms", at=AT)
    await writer.flush()  # logged, not raised: memories are derived data
    assert writer.failed == 1 and writer.pending == 0


# --- the Redis recall index ------------------------------------------------------------------

CUSTOMER_SAYS = [
    "I want a blue RAV4 hybrid under 35k",
    "My trade is a 2015 Camry with 90k miles",
    "Can I come in Saturday morning for a test drive?",
    "What's my payoff if I refinance?",
    "The check engine light came on again after the last service",
    "Do you price match CarMax?",
    "My wife needs a third row, maybe a Highlander",
    "I only want to be texted after 5pm",
    "Is the Tacoma TRD Pro still on the lot?",
    "How much for new tires on a 2019 Corolla?",
]


async def _indexed(store: VectorStore, raw, dealer: str, **kw) -> CustomerMemory:
    return CustomerMemory(store, dealer, recall_index=RecallIndex(raw, Keys(dealer), **kw))


@pytest.fixture
async def raw(redis_handle: RedisHandle):
    client = redis_handle.client(decode_responses=False)
    dealers: list[str] = []
    client.dealers = dealers  # type: ignore[attr-defined]
    yield client
    for dealer in dealers:
        async for key in client.scan_iter(match=Keys(dealer).scan_pattern(), count=500):
            await client.delete(key)
    await client.aclose()


def _dealer(raw) -> str:
    dealer = f"ri{uuid.uuid4().hex[:10]}"
    raw.dealers.append(dealer)
    return dealer


async def test_the_recall_index_ranks_like_chroma(store: VectorStore, raw) -> None:
    """Same memories, same queries: the exact search over one customer's float16 vectors returns
    Chroma's hits in Chroma's order, with the same scores to ~1e-3."""
    dealer = _dealer(raw)
    indexed = await _indexed(store, raw, dealer)
    await indexed.backfill_recall_index()
    items = [
        {"customer_id": cid, "text": f"{text} ({cid})" if cid != "A" else text, "channel": "sms",
         "at": AT + dt.timedelta(minutes=i), "event_id": f"{cid}{i}"}
        for cid in ("A", "B", "C") for i, text in enumerate(CUSTOMER_SAYS)
    ]  # fmt: skip
    await indexed.remember_many(items)
    plain = CustomerMemory(store, dealer)  # the same collection, recalled through Chroma's filter
    for query in ("what are they trading in", "third row SUV", "when can we text", "tire price", "price match"):
        want, got = await plain.recall("A", query, k=4), await indexed.recall("A", query, k=4)
        assert [h.id for h in got] == [h.id for h in want]
        assert [h.text for h in got] == [h.text for h in want]
        assert got[0].metadata == want[0].metadata
        assert [h.score for h in got] == pytest.approx([h.score for h in want], abs=2e-3)


async def test_memories_from_before_the_index_are_backfilled(store: VectorStore, raw) -> None:
    dealer = _dealer(raw)
    before = CustomerMemory(store, dealer)  # an install from before the index
    await before.remember_many(
        [
            {"customer_id": "A", "text": t, "channel": "chat", "at": AT, "event_id": str(i)}
            for i, t in enumerate(CUSTOMER_SAYS)
        ]
    )
    after = await _indexed(store, raw, dealer)
    assert not await after.recall_index.ready()  # type: ignore[union-attr]
    want = [h.id for h in await after.recall("A", "trade-in Camry", k=3)]  # through Chroma's filter meanwhile
    assert await after.backfill_recall_index(page_size=3) == len(CUSTOMER_SAYS)  # several pages
    assert await after.recall_index.ready()  # type: ignore[union-attr]
    assert await after.backfill_recall_index() == 0  # once is enough
    assert [h.id for h in await after.recall("A", "trade-in Camry", k=3)] == want
    # another process sees the index is complete
    assert await RecallIndex(raw, Keys(dealer)).ready()


async def test_the_recall_index_keeps_each_customers_newest_memories(store: VectorStore, raw) -> None:
    dealer = _dealer(raw)
    memory = await _indexed(store, raw, dealer, cap=5, slack=0)
    await memory.backfill_recall_index()
    for i, text in enumerate(CUSTOMER_SAYS[:8]):
        await memory.remember("A", text, channel="sms", at=AT + dt.timedelta(hours=i), event_id=str(i))
    key = Keys(dealer).memory_vectors("A")
    assert await raw.hlen(key) == 5
    kept = {h.text for h in await memory.recall("A", "anything about cars", k=10)}
    assert kept == set(CUSTOMER_SAYS[3:8])  # the three oldest went first


async def test_a_damaged_index_entry_is_no_crash(store: VectorStore, raw) -> None:
    dealer = _dealer(raw)
    memory = await _indexed(store, raw, dealer)
    await memory.backfill_recall_index()
    await memory.remember("A", CUSTOMER_SAYS[1], channel="sms", at=AT, event_id="1")
    await raw.hset(
        Keys(dealer).memory_vectors("A"), mapping={b"garbage": b"xx", b"gone": RecallIndex.pack(0, [0.1] * DIMENSIONS)}
    )
    hits = await memory.recall("A", "trade in", k=4)
    assert [h.text for h in hits] == [CUSTOMER_SAYS[1]]  # damaged or textless entries are skipped
    assert await memory.recall("A", "   ", k=4) == []


async def test_a_forget_during_the_backfill_stays_forgotten(store: VectorStore, raw) -> None:
    """Another process forgets a customer while this one backfills: the batch written meanwhile is
    re-checked against Chroma and the forgotten memories leave the index again."""
    dealer = _dealer(raw)
    before = CustomerMemory(store, dealer)
    await before.remember_many(
        [{"customer_id": cid, "text": f"{t} ({cid})", "channel": "sms", "at": AT, "event_id": f"{cid}{i}"}
         for cid in ("X", "Y") for i, t in enumerate(CUSTOMER_SAYS[:4])]
    )  # fmt: skip
    after = await _indexed(store, raw, dealer)
    fetch = after.index.fetch

    async def fetch_then_forget(ids):
        rows = await fetch(ids)
        await before.forget_customer("X")  # the other process: no index of its own yet
        return rows

    after.index.fetch = fetch_then_forget  # type: ignore[method-assign]
    assert await after.backfill_recall_index() == 4  # Y's four; X's were undone
    assert await after.recall("X", "trade-in", k=10) == []
    assert await raw.hlen(Keys(dealer).memory_vectors("X")) == 0
    assert len(await after.recall("Y", "trade-in", k=10)) == 4


async def test_forgetting_drops_the_index_first(store: VectorStore, raw) -> None:
    dealer = _dealer(raw)
    memory = await _indexed(store, raw, dealer)
    await memory.backfill_recall_index()
    await memory.remember("A", CUSTOMER_SAYS[3], channel="sms", at=AT, event_id="1")

    async def broken(*args, **kwargs):
        raise RuntimeError("chroma is down")

    memory.index.delete = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await memory.forget_customer("A")
    assert await memory.recall("A", "refinance payoff", k=4) == []  # never recalled again, even so


def test_a_batch_embeds_only_the_texts_the_cache_lacks(counting_encoder) -> None:
    """A turn's memory write stores the message its recall just embedded: not a second time."""
    encoder = counting_encoder()
    embedder = Embedder(encoder)
    one = embedder.embed_one("is the silver tacoma still there")
    a, b = embedder.embed(["is the silver tacoma still there", "we open at 9 on saturdays"])
    assert encoder.texts == ["is the silver tacoma still there", "we open at 9 on saturdays"]
    assert a == one and b == pytest.approx(get_embedder().embed(["we open at 9 on saturdays"])[0], abs=1e-5)
    long_text = "the service advisor said the brakes need replacing " * 10  # past the cache's length limit
    embedder.embed([long_text])
    embedder.embed([long_text])
    assert encoder.texts.count(long_text) == 2 and embedder.cached(long_text) is None
    embedder.keep("made elsewhere", one)
    assert embedder.cached("made elsewhere") == one and embedder.embed(["made elsewhere"]) == [one]
    assert encoder.texts.count("made elsewhere") == 0


async def test_a_query_prepared_in_one_process_is_not_embedded_again_in_another(
    store: VectorStore, tmp_path: Path, raw, counting_encoder
) -> None:
    """An SMS burst's text is embedded while the burst waits (`prepare`, in the process that took the
    webhook); the turn, run by another process, finds the vector in Redis: the model is not run
    again, and the hits are the ones recalling without preparation gives."""
    dealer = _dealer(raw)
    api = await _indexed(store, raw, dealer)
    await api.backfill_recall_index()
    await api.remember_many([
        {"customer_id": "A", "text": text, "channel": "sms", "at": AT + dt.timedelta(minutes=i), "event_id": str(i)}
        for i, text in enumerate(CUSTOMER_SAYS)
    ])  # fmt: skip
    query = "what would they get for their trade-in?"
    assert await api.prepare(query) is True
    assert await api.prepare("   ") is False
    prepared = [k async for k in raw.scan_iter(match=Keys(dealer).recall_query("*"), count=500)]
    assert len(prepared) == 1 and 0 < await raw.ttl(prepared[0]) <= RecallIndex.QUERY_TTL_S  # kept for minutes only

    encoder = counting_encoder()  # another process: its own model and an empty cache
    worker = CustomerMemory(open_vector_store(None, tmp_path, Embedder(encoder)), dealer,
                            recall_index=RecallIndex(raw, Keys(dealer)))  # fmt: skip
    want = await CustomerMemory(store, dealer).recall("A", query, k=4)  # Chroma's filter, embedded here
    got = await worker.recall("A", query, k=4, prepared=True)
    assert encoder.texts == []
    assert [h.id for h in got] == [h.id for h in want] and "Camry" in got[0].text
    # the turn's memory write then stores that text without embedding it either
    await worker.remember("A", query, channel="sms", at=AT + dt.timedelta(hours=1), event_id="q")
    assert encoder.texts == []

    # said to be prepared but not (expired, or the burst's text changed): embedded now, same hits
    other = "do they want a third row?"
    got = await worker.recall("A", other, k=4, prepared=True)
    assert encoder.texts == [other]
    assert [h.id for h in got] == [h.id for h in await CustomerMemory(store, dealer).recall("A", other, k=4)]

    # a damaged prepared value is no vector: embedded now, never a crash
    third = "when can we text them"
    assert await api.prepare(third)
    async for key in raw.scan_iter(match=Keys(dealer).recall_query("*"), count=500):
        await raw.set(key, b"not a vector")
    assert [h.id for h in await worker.recall("A", third, k=4, prepared=True)] == \
        [h.id for h in await api.recall("A", third, k=4)]  # fmt: skip
    assert encoder.texts == [other, third]


async def test_recall_reads_the_packed_matrix_which_follows_every_change(store: VectorStore, raw) -> None:
    """Recall reads a customer's ids and vectors packed in one string: built from the hash at the
    first recall, extended when a memory is added, dropped (rebuilt at the next recall) when one is
    replaced, forgotten or moved. Whatever happened, recall returns what ranking the hash gives."""
    dealer = _dealer(raw)
    keys = Keys(dealer)
    memory = await _indexed(store, raw, dealer)
    await memory.backfill_recall_index()
    items = [{"customer_id": "A", "text": t, "channel": "sms", "at": AT + dt.timedelta(minutes=i), "event_id": str(i)}
             for i, t in enumerate(CUSTOMER_SAYS)]  # fmt: skip
    await memory.remember_many(items[:6])
    matrix, record = keys.memory_matrix("A"), RecallIndex.RECORD.itemsize

    async def ranked_from_the_hash(cid: str, query: str) -> list[str]:
        vector = np.asarray(memory.index.embedder.embed_one(query), dtype=np.float32)
        return [h.id for h in await memory._rank_entries(cid, await raw.hgetall(keys.memory_vectors(cid)), vector, 4)]

    async def check(cid: str, query: str) -> list[str]:
        """This process (which keeps what it read and then reads only what was appended) and a new
        one (reads everything) both recall what ranking the hash gives."""
        got = [h.id for h in await memory.recall(cid, query, k=4)]
        fresh = await _indexed(store, raw, dealer)
        assert got == [h.id for h in await fresh.recall(cid, query, k=4)] == await ranked_from_the_hash(cid, query)
        return got

    async def packed(key: str) -> tuple[int, int]:
        """(blocks after the stamp, records in them)"""
        stamp, *blocks = await raw.lrange(key, 0, -1)
        assert len(stamp) == RecallIndex.STAMP
        return len(blocks), sum(len(b) for b in blocks) // record

    assert not await raw.exists(matrix)  # nothing packed until someone recalls
    await check("A", "what are they trading in")
    assert await packed(matrix) == (1, 6) and 0 < await raw.ttl(matrix) <= RecallIndex.MATRIX_TTL_S
    await memory.remember_many(items[6:8])  # new memories: one block added
    assert await packed(matrix) == (2, 8)
    kept = memory.recall_index._packed["A"]
    await check("A", "third row SUV")
    assert memory.recall_index._packed["A"] is kept and kept.n == 8  # the two new ones read, added in place
    await memory.remember_many([{**items[0], "text": "I traded the Camry in already"}])  # replaced: dropped
    assert not await raw.exists(matrix)
    assert "I traded the Camry in already" in [h.text for h in await memory.recall("A", "Camry", k=4)]
    assert memory.recall_index._packed["A"] is not kept  # another build: read afresh
    assert await packed(matrix) == (1, 8)
    await memory.reassign("A", "B")  # moved: both sides dropped
    assert not await raw.exists(matrix)
    assert await memory.recall("A", "Camry", k=4) == [] and len(await check("B", "Camry")) == 4
    # an entry the matrix lists but the hash no longer holds (removed meanwhile) is skipped
    gone = np.zeros(1, dtype=RecallIndex.RECORD)
    gone["id"], gone["v"] = b"f" * 32, memory.index.embedder.embed_one("third row SUV")
    await raw.rpush(keys.memory_matrix("B"), gone.tobytes())
    assert "f" * 32 not in await check("B", "third row SUV")
    # forgetting drops the customer's hash and matrix
    await memory.forget_customer("B")
    assert not await raw.exists(keys.memory_matrix("B")) and await memory.recall("B", "Camry", k=4) == []


async def test_concurrent_recalls_over_a_small_cache_all_answer(store: VectorStore, raw) -> None:
    """Recalls of many customers at once, with room in this process's cache for one or two of them:
    entries are evicted and replaced while reads are in flight, and every recall still answers what
    ranking the customer's own entries gives."""
    dealer = _dealer(raw)
    memory = await _indexed(store, raw, dealer, cache_bytes=40_000)
    await memory.backfill_recall_index()
    customers = [f"C{i}" for i in range(8)]
    await memory.remember_many([
        {"customer_id": cid, "text": f"{t} ({cid})", "channel": "sms", "at": AT + dt.timedelta(minutes=i),
         "event_id": f"{cid}-{i}"} for cid in customers for i, t in enumerate(CUSTOMER_SAYS)
    ])  # fmt: skip
    queries = ["what are they trading in", "third row SUV", "tire price", "when can we text"]
    keys = Keys(dealer)

    async def from_the_hash() -> dict[tuple[str, str], list[str]]:
        out = {}
        for c in customers:
            entries = await raw.hgetall(keys.memory_vectors(c))
            for q in queries:
                vector = np.asarray(memory.index.embedder.embed_one(q), dtype=np.float32)
                out[c, q] = [h.id for h in await memory._rank_entries(c, entries, vector, 3)]
        return out

    want = await from_the_hash()
    for visit in range(3):  # rounds: the first builds and caches, later ones read tails of evicted entries
        for q in queries:
            memory.index.embedder.embed_one(q)
        asks = [(c, q) for c in customers for q in queries]
        got = await asyncio.gather(*(memory.recall(c, q, k=3) for c, q in asks))
        assert {a: [h.id for h in hits] for a, hits in zip(asks, got, strict=True)} == want
        for c in customers[::2]:  # new memories meanwhile: cached entries get tails to read
            await memory.remember(
                c, f"Asked about winter tires, visit {visit} ({c})", channel="chat", at=AT, event_id=f"x{visit}"
            )
        want = await from_the_hash()
    assert len(memory.recall_index._packed) <= 2


async def test_a_prepared_vector_that_is_not_a_unit_vector_is_not_used(
    store: VectorStore, tmp_path: Path, raw, counting_encoder
) -> None:
    dealer = _dealer(raw)
    memory = await _indexed(store, raw, dealer)
    await memory.backfill_recall_index()
    await memory.remember("A", CUSTOMER_SAYS[1], channel="sms", at=AT, event_id="1")
    encoder = counting_encoder()
    worker = CustomerMemory(open_vector_store(None, tmp_path, Embedder(encoder)), dealer,
                            recall_index=RecallIndex(raw, Keys(dealer)))  # fmt: skip
    for bad in (np.full(DIMENSIONS, np.nan, dtype=np.float32), np.full(DIMENSIONS, 0.5, dtype=np.float32)):
        query = f"trade in value? ({bad[0]})"
        await memory.prepare(query)
        async for key in raw.scan_iter(match=Keys(dealer).recall_query("*"), count=500):
            await raw.set(key, bad.tobytes())
        hits = await worker.recall("A", query, k=4, prepared=True)
        assert [h.text for h in hits] == [CUSTOMER_SAYS[1]] and encoder.texts[-1] == query  # embedded here instead
        assert worker.index.embedder.cached(query) == pytest.approx(memory.index.embedder.embed_one(query), abs=1e-5)
