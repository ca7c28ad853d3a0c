"""The real turn path in this process: the stores `dealeros serve` builds, on a throwaway dealer.

`Stack.open(...)` imports the demo inventory into Redis, optionally opens Chroma (embedded, in a temp
dir) with the bundled MiniLM embedder for cross-channel memory (and, with `index_catalog`, indexes the
inventory and the knowledge documents in it, as `Runtime.bootstrap()` does), and builds
`agent.turn.Agent` with the given brain and the Redis checkpointer — the same parts
`server.Runtime.agent()` wires, minus HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent.turn import Agent, Services
from agent.types import InboundMessage
from bench.env import BenchDealer, BenchRedis
from memory.checkpoint import AsyncRedisCheckpointSaver
from memory.redis import RedisHandle
from memory.timeline import TimelineEvent
from tools.dealer import DealerConfig, load_dealer_config

if TYPE_CHECKING:
    from bench.fakes import InstantEncoder
    from memory.vectors import CustomerMemory, VectorStore

_phones = itertools.count(1)


def new_phone() -> str:
    """A unique, valid-looking US number in the 555-01xx fiction range's neighbourhood."""
    n = next(_phones)
    return f"+1813{5550000 + (n % 10000) + 10000 * ((n // 10000) % 400):07d}"


def sms(dealer_id: str, phone: str, text: str) -> InboundMessage:
    return InboundMessage(
        dealer=dealer_id, channel="sms", text=text, phone=phone, delivery_id=f"SM{secrets.token_hex(16)}"
    )


def visitor_of(phone: str) -> str:
    """The web-chat visitor id the benchmarks give the customer with this number."""
    return "v" + phone.lstrip("+")


def chat(dealer_id: str, visitor_id: str, text: str) -> InboundMessage:
    """A web-chat message as `channels.webchat` builds it for a returning visitor."""
    return InboundMessage(
        dealer=dealer_id, channel="chat", text=text, visitor_id=visitor_id,
        delivery_id=f"{visitor_id}:{secrets.token_hex(8)}",
    )  # fmt: skip


@dataclass
class Stack:
    redis_url: str
    dealer: DealerConfig
    bench_dealer: BenchDealer
    handle: RedisHandle
    redis: Any
    raw: Any  # bytes client for the checkpointer
    vectors: Any = None
    memory: Any = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, bench_redis: BenchRedis, *, vector_memory: bool = False, index_catalog: bool = False
    ) -> AsyncIterator[Stack]:
        from integrations.inventory_csv import import_inventory

        bench_dealer = BenchDealer.create()
        handle = RedisHandle(url=bench_redis.url)
        stack = cls(
            redis_url=bench_redis.url,
            dealer=load_dealer_config(bench_dealer.config_path),
            bench_dealer=bench_dealer,
            handle=handle,
            redis=handle.client(),
            raw=handle.client(decode_responses=False),
        )
        try:
            if vector_memory:
                from memory.embeddings import get_embedder
                from memory.vectors import CustomerMemory, RecallIndex, open_vector_store

                stack.vectors = open_vector_store(None, bench_dealer.data_dir("vectors"), get_embedder())
                index = RecallIndex(stack.raw, bench_dealer.keys)  # as `dealeros serve` wires it
                stack.memory = CustomerMemory(stack.vectors, stack.dealer.id, recall_index=index)
                await stack.memory.backfill_recall_index()  # a fresh collection: marks the index complete
            feed = stack.dealer.path(stack.dealer.inventory_feed)
            if feed is None:
                raise RuntimeError("the demo dealer config names no inventory feed")
            await import_inventory(
                stack.redis, bench_dealer.keys, feed, vectors=stack.vectors if index_catalog else None
            )
            if index_catalog and stack.vectors is not None:
                from tools.knowledge import index_knowledge

                await index_knowledge(stack.vectors, stack.dealer)
            yield stack
        finally:
            await handle.aclose()
            if stack.vectors is not None:
                with contextlib.suppress(Exception):
                    stack.vectors.close()
            await bench_dealer.cleanup(bench_redis.url)

    @property
    def keys(self) -> Any:
        return self.bench_dealer.keys

    def agent(self, brain: Any, *, memory: bool | CustomerMemory = True) -> Agent:
        """The turn handler as `server.Runtime.agent()` builds it, with `brain`; `memory`: True for the
        stack's vector memory, False for none, or a `CustomerMemory` of its own (`instant_memory`)."""
        if memory is True:
            memory = self.memory
        elif memory is False:
            memory = None
        services = Services(
            dealer=self.dealer,
            redis=self.redis,
            keys=self.keys,
            memory=memory,
            vectors=self.vectors,
        )
        checkpointer = AsyncRedisCheckpointSaver(self.raw, prefix=self.keys.checkpoint_prefix())
        return Agent(services, brain, checkpointer=checkpointer)

    def instant_vectors(self) -> tuple[VectorStore, InstantEncoder]:
        """The stack's Chroma client with the embedding model replaced by `bench.fakes.InstantEncoder`:
        (VectorStore, the encoder, whose `make_ready(text)` must be called before a timed recall
        embeds `text`)."""
        from bench.fakes import InstantEncoder
        from memory.embeddings import Embedder
        from memory.vectors import VectorStore

        if self.vectors is None:
            raise RuntimeError("the stack was opened without vector memory")
        encoder = InstantEncoder(self.vectors.embedder.encoder)
        return VectorStore(self.vectors.client, Embedder(encoder)), encoder

    def instant_memory(self) -> tuple[CustomerMemory, InstantEncoder]:
        """The stack's vector memory (same Chroma collection, the same `RecallIndex` object with its
        cached matrices) over `instant_vectors`: (CustomerMemory, the encoder)."""
        from memory.vectors import CustomerMemory

        if self.memory is None:
            raise RuntimeError("the stack was opened without vector memory")
        store, encoder = self.instant_vectors()
        return CustomerMemory(store, self.dealer.id, recall_index=self.memory.recall_index), encoder

    async def customer_bytes(self, customer_id: str, part: str = "*") -> int:
        """MEMORY USAGE summed over a customer's keys (`part="ckpt:*"`: its checkpoints only)."""
        pattern = f"dos:{{{self.dealer.id}:{customer_id}}}:{part}"
        total = 0
        async for key in self.redis.scan_iter(match=pattern, count=1000):
            total += int(await self.redis.memory_usage(key, samples=0) or 0)
        return total

    async def prefill_timeline(
        self, customer_id: str, turns: int, templates: list[TimelineEvent], *, end: dt.datetime
    ) -> list[TimelineEvent]:
        """`turns` earlier exchanges, written straight to the timeline (copies of real events, one a
        minute, ending before `end`); returns the inbound events written."""
        keys = self.keys
        start = end - dt.timedelta(minutes=turns + 1)
        inbound: list[TimelineEvent] = []
        async with self.redis.pipeline(transaction=False) as pipe:
            for i in range(turns):
                for j, template in enumerate(templates):
                    at = start + dt.timedelta(minutes=i, seconds=j)
                    event = template.model_copy(
                        update={"id": f"{int(at.timestamp() * 1000):013d}-{secrets.token_hex(4)}", "at": at,
                                "customer_id": customer_id}
                    )  # fmt: skip
                    pipe.hset(keys.timeline_events(customer_id), event.id, event.model_dump_json())
                    pipe.zadd(keys.timeline(customer_id), {event.id: int(at.timestamp() * 1000)})
                    if event.direction == "inbound":
                        inbound.append(event)
                if i % 200 == 199:
                    await pipe.execute()
            await pipe.execute()
        return inbound

    async def prefill_memories(self, customer_id: str, events: list[TimelineEvent]) -> None:
        """What `CustomerMemory.remember` would have stored for these events, in batches (through the
        index's Chroma collection, with each distinct text embedded once)."""
        if self.memory is None or not events:
            return
        index = self.memory.index
        unique = sorted({e.text for e in events})
        vectors = dict(zip(unique, index._embedder.embed(unique), strict=True))  # prefill texts repeat: embed once
        for i in range(0, len(events), 256):
            batch = events[i : i + 256]
            ids = [self.memory.memory_id(customer_id, f"e:{e.id}") for e in batch]
            metas = [
                {"customer_id": customer_id, "origin_customer": customer_id, "dealer_id": self.dealer.id,
                 "channel": e.channel, "kind": "customer", "at": e.at.isoformat(), "at_ts": int(e.at.timestamp()),
                 "event_id": e.id}
                for e in batch
            ]  # fmt: skip
            texts = [e.text for e in batch]
            embeddings = [vectors[t] for t in texts]
            # what VectorIndex.upsert does, minus re-embedding the same few texts hundreds of times
            await asyncio.to_thread(index._coll().upsert, ids=ids, documents=texts, metadatas=metas,
                                    embeddings=embeddings)  # fmt: skip
            if self.memory.recall_index is not None:  # ... and what it adds to the recall index
                from memory.vectors import RecallIndex

                rows = zip(ids, embeddings, texts, metas, strict=True)
                await self.memory.recall_index.add(RecallIndex.by_customer(rows))
