"""The eval environment: one Redis and one vector store per eval process, a fresh namespace per run.

Isolation: every scenario run gets its own dealer namespace (`Keys("ev<random>")`) in one Redis —
embedded by default, or a server URL passed in — so runs can go in parallel and never see each
other's customers, appointments, consent or checkpoints. The run's keys are deleted afterwards.

Speed: embedding the demo inventory takes ~10 s and the documents ~4 s, so that work is done once
per dealership fixture in a *template*: the vector collections `inv_<template>` and
`kb_<template>` (kept in a cache directory between processes when one is given, keyed by a hash of
the config, feed and documents). A run imports the feed into its own namespace without vectors
(~50 ms) and reads the template's collections through `AliasedVectors`. Customer memories of all
runs share one per-process collection; each memory is filtered by its (random) customer id, as in
production, and every run forgets its customers when it ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from integrations.inventory_csv import import_inventory, parse_inventory_csv
from memory.keys import Keys
from memory.redis import RedisHandle, open_redis
from memory.vectors import VectorStore, collection_name
from tools.dealer import DealerConfig, load_dealer_config
from tools.inventory import Vehicle, inventory_collection_name

log = logging.getLogger(__name__)

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "demo" / "dealer.yaml"
DEFAULT_LOCAL_NOW = dt.datetime(2026, 11, 17, 18, 30)  # a Tuesday evening: sales open, service closed
_MONEY = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{2}))?")


def cents_in(text: str) -> set[int]:
    """Every `$` amount written in `text`, in cents."""
    return {int(m.group(1).replace(",", "")) * 100 + int(m.group(2) or 0) for m in _MONEY.finditer(text)}


class ScenarioClock:
    """The run's clock: fixed by the scenario, moved forward by the runner between turns, and
    ticking a few milliseconds per read so events keep their order on the timeline."""

    def __init__(self, start: dt.datetime, tick: dt.timedelta = dt.timedelta(milliseconds=5)) -> None:
        if start.tzinfo is None:
            raise ValueError("the scenario clock needs an aware start time")
        self.now = start.astimezone(dt.UTC)
        self.tick = tick

    def __call__(self) -> dt.datetime:
        self.now += self.tick
        return self.now

    def advance_to(self, at: dt.datetime) -> None:
        self.now = max(self.now, at.astimezone(dt.UTC))


class AliasedVectors:
    """A VectorStore view that serves some collection names from other collections."""

    def __init__(self, store: VectorStore, aliases: dict[str, str]) -> None:
        self.store = store
        self.aliases = aliases

    def collection(self, name: str) -> Any:
        return self.store.collection(self.aliases.get(name, name))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@dataclass
class DealerTemplate:
    """One dealership fixture, prepared once per process."""

    id: str
    config: DealerConfig
    feed: Path
    vehicle_count: int
    vehicles: dict[str, Vehicle]  # VIN -> unit, as the feed describes it
    prices: set[int]  # cents: every price and MSRP in the feed
    knowledge_cents: set[int]  # cents: every $ amount in the dealer's documents
    knowledge_text: str

    def vin_of(self, ref: str) -> str | None:
        """A VIN from a VIN or a stock number."""
        ref = ref.strip().lstrip("#").upper()
        if ref in self.vehicles:
            return ref
        return next((v.vin for v in self.vehicles.values() if (v.stock_number or "").upper() == ref), None)


@dataclass
class RunStores:
    """One run's namespace and everything bound to it."""

    id: str
    keys: Keys
    dealer: DealerConfig
    template: DealerTemplate
    clock: ScenarioClock
    vectors: AliasedVectors
    customers: set[str] = field(default_factory=set)  # ids to forget in vector memory afterwards


def _fixture_hash(config_path: Path, feed: Path, knowledge: Path | None) -> str:
    h = hashlib.sha256()
    for p in (config_path, feed):
        h.update(p.read_bytes())
    if knowledge is not None and knowledge.is_dir():
        for doc in sorted(knowledge.rglob("*.md")):
            h.update(doc.relative_to(knowledge).as_posix().encode())
            h.update(doc.read_bytes())
    return h.hexdigest()[:10]


class EvalEnvironment:
    """Stores shared by every run of one eval process. Use `await EvalEnvironment.open(...)`."""

    def __init__(self, redis_handle: RedisHandle, vectors: VectorStore, workdir: Path, owned: Path | None) -> None:
        self.redis_handle = redis_handle
        self.redis = redis_handle.client()
        self.raw = redis_handle.client(decode_responses=False)
        self.vectors = vectors
        self.workdir = workdir
        self._owned = owned
        self._templates: dict[tuple[str, str], DealerTemplate] = {}
        self._lock = asyncio.Lock()
        self.memory_collection = f"evmem{secrets.token_hex(4)}"

    @classmethod
    async def open(
        cls, *, redis_url: str | None = None, cache_dir: Path | None = None, embedder: Any = None
    ) -> EvalEnvironment:
        """`redis_url`: a server to use (a unique namespace per run); default an embedded one in a
        temporary directory. `cache_dir`: keep the template vector collections between processes."""
        from memory.vectors import open_vector_store

        owned = Path(tempfile.mkdtemp(prefix="dealeros-eval-"))
        handle = await asyncio.to_thread(open_redis, redis_url, owned / "redis")
        if embedder is None:
            from memory.embeddings import get_embedder

            models = Path(cache_dir).parent / "models" if cache_dir else None  # beside the eval cache
            embedder = await asyncio.to_thread(get_embedder, models)
        vector_dir = Path(cache_dir) if cache_dir else owned / "vectors"
        vector_dir.mkdir(parents=True, exist_ok=True)
        store = open_vector_store(None, vector_dir, embedder)
        return cls(handle, store, owned, owned)

    async def close(self) -> None:
        try:
            self.vectors.client.delete_collection(collection_name(self.memory_collection))
        except Exception:  # never created, or the client is gone
            log.debug("memory collection cleanup", exc_info=True)
        self.vectors.close()
        await self.redis_handle.aclose()
        self.redis_handle.shutdown()
        if self._owned is not None:
            shutil.rmtree(self._owned, ignore_errors=True)

    # --- dealership fixtures -----------------------------------------------------------------
    async def template(self, config_path: Path | None = None, inventory: Path | None = None) -> DealerTemplate:
        """The prepared fixture for a dealer config (default: the demo dealership) and feed."""
        config_path = (config_path or DEMO_CONFIG).resolve()
        key = (str(config_path), str(inventory or ""))
        async with self._lock:
            if key not in self._templates:
                self._templates[key] = await self._prepare(config_path, inventory)
            return self._templates[key]

    async def _prepare(self, config_path: Path, inventory: Path | None) -> DealerTemplate:
        from tools.knowledge import index_knowledge

        config = load_dealer_config(config_path)
        feed = inventory or config.path(config.inventory_feed)
        if feed is None or not feed.exists():
            raise FileNotFoundError(f"{config_path}: no inventory feed ({feed})")
        knowledge = config.path(config.knowledge_dir)
        tid = f"evt{_fixture_hash(config_path, feed, knowledge)}"
        parsed = parse_inventory_csv(feed)
        prices: set[int] = set()
        for v in parsed.vehicles:
            for value in (v.price, v.msrp):
                if value is not None:
                    prices.add(int((Decimal(value) * 100).to_integral_value()))
        docs = ""
        if knowledge is not None and knowledge.is_dir():
            docs = "\n".join(p.read_text(encoding="utf-8") for p in sorted(knowledge.rglob("*.md")))
        tpl_config = config.model_copy(update={"id": tid})
        index = self.vectors.collection(inventory_collection_name(tid))
        if await index.count() != len(parsed.vehicles):
            keys = Keys(tid)
            await import_inventory(self.redis, keys, feed, vectors=self.vectors)
            await self._drop_keys(keys)
        await index_knowledge(self.vectors, tpl_config)
        return DealerTemplate(
            id=tid,
            config=config,
            feed=feed,
            vehicle_count=len(parsed.vehicles),
            vehicles={v.vin: v for v in parsed.vehicles},
            prices=prices,
            knowledge_cents=cents_in(docs),
            knowledge_text=docs,
        )

    # --- runs --------------------------------------------------------------------------------
    async def new_run(self, template: DealerTemplate, now: dt.datetime) -> RunStores:
        rid = f"ev{secrets.token_hex(6)}"
        keys = Keys(rid)
        dealer = template.config.model_copy(update={"id": rid})
        await import_inventory(self.redis, keys, template.feed, now=now.astimezone(dt.UTC))
        vectors = AliasedVectors(
            self.vectors,
            {
                inventory_collection_name(rid): inventory_collection_name(template.id),
                f"kb_{rid}": f"kb_{template.id}",
                f"mem_{rid}": self.memory_collection,
            },
        )
        return RunStores(id=rid, keys=keys, dealer=dealer, template=template, clock=ScenarioClock(now), vectors=vectors)

    async def end_run(self, run: RunStores) -> None:
        from memory.vectors import CustomerMemory

        memory = CustomerMemory(run.vectors, run.id)  # type: ignore[arg-type]
        for cid in run.customers:
            try:
                await memory.forget_customer(cid)
            except Exception:
                log.debug("forget %s", cid, exc_info=True)
        await self._drop_keys(run.keys)
        _forget_inventory_snapshot(self.redis, run.keys)

    async def _drop_keys(self, keys: Keys) -> None:
        batch: list[str] = []
        async for key in self.redis.scan_iter(match=keys.scan_pattern(), count=1000):
            batch.append(key)
            if len(batch) >= 500:
                await self.redis.delete(*batch)
                batch.clear()
        if batch:
            await self.redis.delete(*batch)


def _snapshot_cache() -> dict[Any, Any] | None:
    """The inventory's per-namespace snapshot cache, wherever the inventory package keeps it."""
    import importlib

    for name in ("tools.inventory.store", "tools.inventory"):
        try:
            cache = getattr(importlib.import_module(name), "_SNAPSHOTS", None)
        except ImportError:
            continue
        if isinstance(cache, dict):
            return cache
    return None


def cached_inventory_namespaces() -> set[str] | None:
    """Dealer namespaces with a cached inventory snapshot (None when the cache can't be seen)."""
    cache = _snapshot_cache()
    return None if cache is None else {key[1] for key in cache if isinstance(key, tuple) and len(key) > 1}


def _forget_inventory_snapshot(redis: Any, keys: Keys) -> None:
    """The inventory caches one snapshot (~1 MB) per dealer namespace for the process's life; a long
    eval makes hundreds of namespaces, so drop the run's own when it ends."""
    from tools.inventory import InventoryStore, clear_inventory_cache

    cache = _snapshot_cache()
    key = getattr(InventoryStore(redis, keys), "_cache_key", None)
    if cache is not None and key is not None:
        cache.pop(key, None)
    else:  # the cache changed shape: dropping all of it is always safe (it only costs a reload)
        clear_inventory_cache()
