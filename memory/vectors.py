"""Vector search on Chroma: embedded `PersistentClient` under the data dir, or a Chroma server.

Every collection is opened with our offline embedder (Chroma's default one downloads a model and
fails offline) in cosine space, and every Chroma call runs in a worker thread so the event loop
keeps serving turns. `CustomerMemory` is the cross-channel semantic memory of one dealer: it builds
the customer filter itself, so no argument can reach another customer's memories.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
from chromadb.config import Settings

from memory.embeddings import Embedder

log = logging.getLogger(__name__)

_NAME_OK = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{1,510}[A-Za-z0-9])$")
_SCALARS = (str, int, float, bool)


class VectorStoreError(RuntimeError):
    """The vector store could not be opened or rejected an operation."""


@dataclass
class Hit:
    """One search result; `score` is cosine similarity (1 = same meaning, higher is better)."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0


def collection_name(name: str) -> str:
    """Map any name onto Chroma's rules (3-512 chars of [A-Za-z0-9._-], alphanumeric at both ends,
    no '..'); a changed name gets a short hash so two different names never collide."""
    if _NAME_OK.match(name) and ".." not in name:
        return name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).replace("..", "_").strip("._-")[:400]
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{cleaned or 'c'}_{digest}"


def _clean_metadata(meta: dict[str, Any]) -> dict[str, Any] | None:
    """Chroma takes scalar values only and rejects an empty dict; datetimes become ISO strings."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if value is None:
            continue
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        if not isinstance(value, _SCALARS):
            raise VectorStoreError(f"metadata {key!r} must be str/int/float/bool, got {type(value).__name__}")
        out[key] = value
    return out or None


def _where(where: dict[str, Any] | None) -> dict[str, Any] | None:
    """Let callers write {"a": 1, "b": 2}; Chroma wants an explicit $and for several fields."""
    if not where or len(where) == 1 or any(k.startswith("$") for k in where):
        return where or None
    return {"$and": [{k: v} for k, v in where.items()]}


class VectorIndex:
    """One Chroma collection. Async methods; the blocking client runs in a thread."""

    def __init__(self, client: Any, name: str, embedder: Embedder) -> None:
        self.name = name
        self._client = client
        self._embedder = embedder
        self._collection: Any = None
        self._lock = threading.Lock()

    def _coll(self) -> Any:
        with self._lock:
            if self._collection is None:
                self._collection = self._client.get_or_create_collection(
                    self.name,
                    embedding_function=self._embedder,
                    configuration={"hnsw": {"space": "cosine"}},
                )
            return self._collection

    async def upsert(self, ids: list[str], texts: list[str], metadatas: list[dict]) -> None:
        if not (len(ids) == len(texts) == len(metadatas)):
            raise ValueError("ids, texts and metadatas must have the same length")
        if not ids:
            return

        def run() -> None:
            # One short text (a message just recalled against) comes from the embedder's cache.
            vectors = [self._embedder.embed_one(texts[0])] if len(texts) == 1 else self._embedder.embed(texts)
            metas = [_clean_metadata(m) for m in metadatas]
            self._coll().upsert(ids=ids, documents=texts, metadatas=metas, embeddings=vectors)  # type: ignore[arg-type]

        await asyncio.to_thread(run)

    async def query(self, text: str, k: int = 5, where: dict | None = None) -> list[Hit]:
        if k <= 0 or not text.strip():
            return []

        def run() -> list[Hit]:
            res = self._coll().query(
                query_embeddings=[self._embedder.embed_one(text)],
                n_results=k,
                where=_where(where),
                include=["documents", "metadatas", "distances"],
            )
            ids, docs = res["ids"][0], (res["documents"] or [[]])[0]
            metas, dists = (res["metadatas"] or [[]])[0], (res["distances"] or [[]])[0]
            return [
                Hit(id=i, text=d or "", metadata=dict(m or {}), score=1.0 - float(dist))
                for i, d, m, dist in zip(ids, docs, metas, dists, strict=True)
            ]

        return await asyncio.to_thread(run)

    async def get(self, ids: list[str] | None = None, where: dict | None = None, *, texts: bool = False) -> list[Hit]:
        """Exact lookup (no ranking); `score` is 0. Used for syncs and reassignments."""
        include = ["metadatas", "documents"] if texts else ["metadatas"]

        def run() -> list[Hit]:
            res = self._coll().get(ids=ids, where=_where(where), include=include)
            docs = res.get("documents") or [None] * len(res["ids"])
            metas = res.get("metadatas") or [None] * len(res["ids"])
            return [
                Hit(id=i, text=d or "", metadata=dict(m or {})) for i, d, m in zip(res["ids"], docs, metas, strict=True)
            ]

        return await asyncio.to_thread(run)

    async def update_metadata(self, ids: list[str], metadatas: list[dict]) -> None:
        """Replace metadata without re-embedding."""
        if ids:
            metas = [_clean_metadata(m) for m in metadatas]
            await asyncio.to_thread(lambda: self._coll().update(ids=ids, metadatas=metas))

    async def delete(self, ids: list[str] | None = None, where: dict | None = None) -> None:
        if ids is None and not where:
            raise ValueError("delete needs ids or a where filter (refusing to empty the collection)")
        if ids is not None and not ids:
            return
        await asyncio.to_thread(lambda: self._coll().delete(ids=ids, where=_where(where)))

    async def count(self) -> int:
        return await asyncio.to_thread(lambda: self._coll().count())


class VectorStore:
    """A Chroma client plus our embedder; hands out (cached) collections by name."""

    def __init__(self, client: Any, embedder: Embedder) -> None:
        self.client = client
        self.embedder = embedder
        self._indexes: dict[str, VectorIndex] = {}
        self._lock = threading.Lock()

    def collection(self, name: str) -> VectorIndex:
        safe = collection_name(name)
        with self._lock:
            index = self._indexes.get(safe)
            if index is None:
                index = self._indexes[safe] = VectorIndex(self.client, safe, self.embedder)
            return index

    def close(self) -> None:
        """Release the client (embedded Chroma stops and flushes when its last client closes)."""
        with self._lock:
            self._indexes.clear()
        close = getattr(self.client, "close", None)
        if close is not None:
            close()


def open_vector_store(chroma_url: str | None, data_dir: Path, embedder: Embedder) -> VectorStore:
    """The composition root's factory: a Chroma server when `chroma_url` is given (scale-out),
    otherwise embedded Chroma under `data_dir/chroma` (single process only)."""
    settings = Settings(anonymized_telemetry=False)
    try:
        if chroma_url:
            url = urlsplit(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
            ssl = url.scheme == "https"
            client = chromadb.HttpClient(
                host=url.hostname or "localhost",
                port=url.port or (443 if ssl else 8000),
                ssl=ssl,
                settings=settings,
            )
        else:
            path = Path(data_dir) / "chroma"
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=settings)
    except Exception as exc:
        raise VectorStoreError(f"could not open Chroma ({chroma_url or data_dir}): {exc}") from exc
    return VectorStore(client, embedder)


# --- cross-channel customer memory ----------------------------------------------------------


def _require_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    return value


class CustomerMemory:
    """What each customer said and was told, on any channel, searchable by meaning.

    One collection per dealer (`mem_<dealer>`). Each memory carries `customer_id` (its current owner)
    and `origin_customer` (the customer it was first remembered for, never changed). Every read and
    delete filters on `customer_id` inside this class.

    Merges and their reversal: `reassign(A, B)` moves everything A currently owns to B and leaves
    `origin_customer` alone; `unmerge(A, B)` moves back out of B exactly the memories whose origin
    is A. After chained merges (A→B, then B→C), undoing B→C is `unmerge("B", "C")` plus
    `unmerge("A", "C", to_customer="B")` for each customer still merged into B.
    """

    def __init__(self, store: VectorStore, dealer_id: str) -> None:
        self.dealer_id = _require_id(dealer_id, "dealer_id")
        self.index = store.collection(f"mem_{dealer_id}")

    @staticmethod
    def memory_id(origin_customer: str, key: str) -> str:
        return hashlib.sha256(f"{origin_customer}\x00{key}".encode()).hexdigest()[:32]

    async def remember(
        self,
        customer_id: str,
        text: str,
        *,
        channel: str,
        at: dt.datetime,
        kind: str = "message",
        event_id: str | None = None,
    ) -> None:
        """Store one memory; the same `event_id` (or the same text at the same time) is one memory."""
        item = {"customer_id": customer_id, "text": text, "channel": channel, "at": at, "kind": kind}
        await self.remember_many([{**item, "event_id": event_id}])

    async def remember_many(self, items: list[dict[str, Any]]) -> int:
        """Store several memories in one write (each item holds `remember`'s arguments). Returns how
        many were stored; the same memory twice in one batch is stored once."""
        rows: dict[str, tuple[str, dict[str, Any]]] = {}
        for item in items:
            customer_id = _require_id(item["customer_id"], "customer_id")
            text, at = item["text"], item["at"]
            if not text.strip():
                continue
            if at.tzinfo is None:
                raise ValueError("`at` must be timezone-aware")
            channel, kind, event_id = item["channel"], item.get("kind", "message"), item.get("event_id")
            key = f"e:{event_id}" if event_id else f"h:{channel}|{kind}|{at.isoformat()}|{text}"
            meta = {
                "customer_id": customer_id,
                "origin_customer": customer_id,
                "dealer_id": self.dealer_id,
                "channel": channel,
                "kind": kind,
                "at": at.isoformat(),
                "at_ts": int(at.timestamp()),
                "event_id": event_id,
            }
            rows[self.memory_id(customer_id, key)] = (text, meta)
        if rows:
            ids = list(rows)
            await self.index.upsert(ids, [rows[i][0] for i in ids], [rows[i][1] for i in ids])
        return len(rows)

    async def recall(self, customer_id: str, query: str, k: int = 4) -> list[Hit]:
        """This customer's memories closest in meaning to `query` — never anyone else's."""
        _require_id(customer_id, "customer_id")
        k = max(1, min(int(k), 50))
        hits = await self.index.query(query, k=k, where={"customer_id": customer_id})
        # Belt and braces: the filter is ours, but never hand back a foreign row.
        return [h for h in hits if h.metadata.get("customer_id") == customer_id]

    async def count(self, customer_id: str) -> int:
        _require_id(customer_id, "customer_id")
        return len(await self.index.get(where={"customer_id": customer_id}))

    async def forget_customer(self, customer_id: str) -> None:
        """Delete every memory the customer currently owns (including ones merged in)."""
        await self.index.delete(where={"customer_id": _require_id(customer_id, "customer_id")})

    async def reassign(self, from_customer: str, to_customer: str) -> int:
        """Identity merge: `to_customer` now owns everything `from_customer` owned."""
        return await self._move({"customer_id": from_customer}, to_customer)

    async def unmerge(self, origin_customer: str, merged_into: str, *, to_customer: str | None = None) -> int:
        """Undo a merge: memories first remembered for `origin_customer` and now owned by
        `merged_into` go back to `origin_customer` (or `to_customer`)."""
        where = {"customer_id": merged_into, "origin_customer": origin_customer}
        return await self._move(where, to_customer or origin_customer)

    async def _move(self, where: dict[str, str], to_customer: str) -> int:
        for field_name, value in where.items():
            _require_id(value, field_name)
        _require_id(to_customer, "to_customer")
        rows = await self.index.get(where=where)
        metas = [{**h.metadata, "customer_id": to_customer} for h in rows]
        await self.index.update_metadata([h.id for h in rows], metas)
        return len(rows)


class MemoryWriter:
    """Writes turns' memories in small batches, off the turns' path.

    A single Chroma upsert costs ~5 ms of CPU, most of it holding the GIL, whatever its size; a turn
    that wrote its own memory at once slowed itself (and the reply send right after it) down. Items
    wait `delay` seconds for company, then go in one upsert. Memories are derived data (the
    timeline is the record), so a failed write is logged and dropped. `flush()` writes what is
    queued now (shutdown, tests, evals). Why not a job queue: these writes are per-process,
    best-effort and sub-second; a durable queue would add a Redis round trip per turn to save
    nothing the timeline does not already keep.
    """

    def __init__(self, memory: CustomerMemory, *, delay: float = 0.25, max_batch: int = 64) -> None:
        self.memory = memory
        self.delay = delay
        self.max_batch = max_batch
        self._items: list[dict[str, Any]] = []
        self._timer: asyncio.Task | None = None
        self._writing: asyncio.Lock | None = None
        self.written = 0
        self.failed = 0

    def add(self, customer_id: str, text: str, *, channel: str, at: dt.datetime, kind: str = "message",
            event_id: str | None = None) -> None:  # fmt: skip
        if not text.strip():
            return
        self._items.append(
            {"customer_id": customer_id, "text": text, "channel": channel, "at": at, "kind": kind, "event_id": event_id}
        )
        if len(self._items) >= self.max_batch:
            self._start(0.0)
        elif self._timer is None or self._timer.done():
            self._start(self.delay)

    def _start(self, delay: float) -> None:
        if self._timer is not None and not self._timer.done():
            if delay > 0:
                return
            self._timer.cancel()
        self._timer = asyncio.create_task(self._later(delay))

    async def _later(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        await self.flush()

    async def flush(self) -> None:
        """Write everything queued so far."""
        if self._writing is None:
            self._writing = asyncio.Lock()
        async with self._writing:
            while self._items:
                batch, self._items = self._items[: self.max_batch], self._items[self.max_batch :]
                try:
                    self.written += await self.memory.remember_many(batch)
                except Exception:
                    self.failed += len(batch)
                    log.warning("dropped %d memories: the vector store write failed", len(batch), exc_info=True)

    @property
    def pending(self) -> int:
        return len(self._items)
