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
import json
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
import numpy as np
from chromadb.config import Settings

import metrics
from memory.embeddings import DIMENSIONS, MODEL_NAME, Embedder
from memory.keys import Keys

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

    def _embed_now(self, texts: list[str]) -> list[list[float]]:
        # One short text (a message just recalled against) comes from the embedder's cache.
        return [self._embedder.embed_one(texts[0])] if len(texts) == 1 else self._embedder.embed(texts)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """The vectors `upsert` would store for these texts."""
        return await asyncio.to_thread(self._embed_now, texts) if texts else []

    async def upsert(
        self, ids: list[str], texts: list[str], metadatas: list[dict], *, vectors: list[list[float]] | None = None
    ) -> list[list[float]]:
        """Store (or replace) documents, embedding them unless `vectors` are given; returns the vectors."""
        if not (len(ids) == len(texts) == len(metadatas)) or (vectors is not None and len(vectors) != len(ids)):
            raise ValueError("ids, texts, metadatas (and vectors) must have the same length")
        if not ids:
            return []

        def run() -> list[list[float]]:
            embedded = self._embed_now(texts) if vectors is None else vectors
            metas = [_clean_metadata(m) for m in metadatas]
            self._coll().upsert(ids=ids, documents=texts, metadatas=metas, embeddings=embedded)  # type: ignore[arg-type]
            return embedded

        return await asyncio.to_thread(run)

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

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    async def get(self, ids: list[str] | None = None, where: dict | None = None, *, texts: bool = False) -> list[Hit]:
        """Exact lookup (no ranking); `score` is 0. Used for syncs and reassignments."""
        include = ["metadatas", "documents"] if texts else ["metadatas"]

        def run() -> list[Hit]:
            res = self._coll().get(ids=ids, where=_where(where), include=include)
            docs = res.get("documents") or [None] * len(res["ids"])
            metas = res.get("metadatas") or [None] * len(res["ids"])
            rows = zip(res["ids"], docs, metas, strict=True)
            return [Hit(id=i, text=d or "", metadata=dict(m or {})) for i, d, m in rows]

        return await asyncio.to_thread(run)

    async def all_ids(self) -> list[str]:
        return await asyncio.to_thread(lambda: list(self._coll().get(include=[])["ids"]))

    async def fetch(self, ids: list[str]) -> dict[str, Any]:
        """These documents with vectors and metadata (for copying them elsewhere)."""
        return await asyncio.to_thread(
            lambda: self._coll().get(ids=ids, include=["embeddings", "metadatas", "documents"])
        )

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


# The packed matrix is a list: its build's stamp (the server's time, 16 digits), then blocks of records
# (the build's, then one per add). A list, not one string APPENDed to: an appended string keeps up to
# twice its size allocated, and rewriting it whole costs ~3 ms of Redis time per add at 1,000 entries.
#
# KEYS: hash, matrix  ARGV: ttl s. The matrix, built from the hash when it is missing; false when an
# entry cannot be packed (an id of another length, a damaged value).
_READ_MATRIX = """
local m = redis.call('LRANGE', KEYS[2], 0, -1)
if #m > 0 then return m end
local all = redis.call('HGETALL', KEYS[1])
local parts = {}
for i = 1, #all, 2 do
  if #all[i] ~= IDB or #all[i + 1] < HEAD then return false end
  parts[#parts + 1] = all[i] .. string.sub(all[i + 1], 1, HEAD)
end
local t = redis.call('TIME')
m = {string.format('%010d%06d', tonumber(t[1]), tonumber(t[2])), table.concat(parts)}
redis.call('RPUSH', KEYS[2], m[1], m[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return m
"""
# KEYS: matrix  ARGV: stamp, blocks read. {1, the blocks added since} while the matrix is the build with
# that stamp; {0, the whole matrix (empty when there is none)} otherwise.
_MATRIX_TAIL = """
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then
  return {1, redis.call('LRANGE', KEYS[1], ARGV[2], -1)}
end
return {0, redis.call('LRANGE', KEYS[1], 0, -1)}
"""
# KEYS: hash, matrix  ARGV: id, value, id, value... Returns the hash's size. New entries go on the end
# of the matrix (when there is one) as one block; a replaced or unpackable one drops it (rebuilt when
# read).
_ADD = """
local packed = redis.call('EXISTS', KEYS[2]) == 1
local added = {}
for i = 1, #ARGV, 2 do
  local new = redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  if packed then
    if new == 1 and #ARGV[i] == IDB and #ARGV[i + 1] >= HEAD then
      added[#added + 1] = ARGV[i] .. string.sub(ARGV[i + 1], 1, HEAD)
    else
      redis.call('DEL', KEYS[2])
      packed = false
    end
  end
end
if packed and #added > 0 then
  redis.call('RPUSH', KEYS[2], table.concat(added))
end
return redis.call('HLEN', KEYS[1])
"""


class _Packed:
    """One customer's packed matrix as this process last read it: its build's stamp, how many of its
    list items were read, and the ids and vectors (float32, ready to multiply) with room to grow."""

    __slots__ = ("ids", "length", "n", "stamp", "vectors")

    def __init__(self, stamp: bytes, records: np.ndarray, items: int) -> None:
        self.stamp = stamp
        self.length = items
        self.n = 0
        self.ids = np.empty(0, dtype=records.dtype["id"])
        self.vectors = np.empty((0, DIMENSIONS), dtype=np.float32)
        self.extend(records)

    def extend(self, records: np.ndarray) -> None:
        n = self.n + len(records)
        if n > len(self.ids):
            room = max(16, n + n // 4)
            self.ids = np.resize(self.ids, room)
            vectors = np.empty((room, DIMENSIONS), dtype=np.float32)
            vectors[: self.n] = self.vectors[: self.n]
            self.vectors = vectors
        self.ids[self.n : n] = records["id"]
        self.vectors[self.n : n] = records["v"]
        self.n = n

    @property
    def nbytes(self) -> int:
        return self.vectors.nbytes + self.ids.nbytes


class RecallIndex:
    """Each customer's memory vectors in Redis, under the customer's hash tag, for exact recall.

    Why not Chroma's filtered query: its cost grows with the whole dealer collection, not with the
    customer — one recall for a customer with 20 memories took ~5 ms with 8,000 memories in the
    collection and ~25 ms with 40,000 (bench/, benchmark 1), and every text-channel turn waits
    for one. A customer has at most a few thousand memories, so an exact search over theirs alone
    (one HGETALL, one matrix product, no Chroma call) costs the same whatever the dealership's size.
    Chroma stays the store of record (search across customers, merges); this index holds, per
    memory id, its time, its vector as float16 (768 bytes; scores equal to float32's to ~1e-3) and
    its text and fixed metadata (the owner is the key's customer, so merges only move entries); at
    most `cap` per customer (the oldest go first; older context lives in the rolling summary).

    `ready()` says whether the dealer's index is complete: it is after `backfill()` has copied any
    memories written before the index existed. Until then recall uses Chroma's filter.

    Recall does not read the hash whole. Why: for a 500-memory customer, HGETALL and ranking its
    thousand strings took ~2.5 ms here, most of a turn's budget. The ids and vectors are also packed
    in a list (`memory_matrix`: a build stamp, then blocks of fixed-size records), and each process keeps
    the matrices it read, as float32, for the customers it served lately (`cache_bytes`). A recall
    asks Redis only for the blocks added since (one short script reply while the build stamp still
    matches), ranks with one matrix-vector product and reads the texts of the best few from the
    hash; ~0.7 ms in all. The packed list is derived: built by a script from the hash when
    missing, extended when memories are added, deleted (so rebuilt, with a new stamp) when one is
    replaced, moved or removed, and it expires an hour after it was built, so idle customers keep
    no second copy of their vectors. Entries it cannot hold (ids of another form, damaged values)
    make recall rank the hash's values instead.
    """

    def __init__(
        self, redis: Any, keys: Keys, *, cap: int = 1000, slack: int = 64, cache_bytes: int = 32 << 20
    ) -> None:
        self.redis = redis  # a client returning bytes
        self.keys = keys
        self.cap = cap
        self.slack = slack
        self._ready = False
        sizes = {"HEAD": str(self.HEAD), "IDB": str(self.ID_BYTES)}
        self._read_matrix, self._add = (
            re.sub("HEAD|IDB", lambda m: sizes[m.group(0)], lua) for lua in (_READ_MATRIX, _ADD)
        )
        # customer id -> their packed matrix as last read here, vectors as float32 (least recent first)
        self._packed: OrderedDict[str, _Packed] = OrderedDict()
        self.cache_bytes = cache_bytes

    def _keys(self, cid: str) -> list[str]:
        return [self.keys.memory_vectors(cid), self.keys.memory_matrix(cid)]

    HEAD = 4 + 2 * DIMENSIONS  # time (u32) + float16 vector; then the text and metadata as JSON
    ID_BYTES = 32  # memory ids are 32 hex characters (CustomerMemory.memory_id)
    STAMP = 16  # the packed matrix starts with its build's stamp
    # One record of the packed matrix: the id, then the hash value's head.
    RECORD = np.dtype([("id", f"S{ID_BYTES}"), ("t", "<u4"), ("v", "<f2", (DIMENSIONS,))])
    MATRIX_TTL_S = 3600

    @classmethod
    def pack(cls, at_ts: int, vector: Any, text: str = "", metadata: dict[str, Any] | None = None) -> bytes:
        fixed = {k: v for k, v in (metadata or {}).items() if k != "customer_id" and v is not None}
        payload = json.dumps({"t": text, "m": fixed}, ensure_ascii=False, separators=(",", ":")).encode()
        return int(max(0, at_ts)).to_bytes(4, "little") + np.asarray(vector, dtype=np.float16).tobytes() + payload

    @classmethod
    def by_customer(cls, rows: Any) -> dict[str, dict[str, bytes]]:
        """Packed entries grouped by owner, from (memory id, vector, text, metadata) rows; rows
        without an owner are left out."""
        out: dict[str, dict[str, bytes]] = {}
        for mid, vector, text, meta in rows:
            cid = (meta or {}).get("customer_id")
            if cid:
                out.setdefault(cid, {})[mid] = cls.pack(int(meta.get("at_ts") or 0), vector, text or "", dict(meta))
        return out

    @classmethod
    def vectors(cls, values: list[bytes]) -> np.ndarray:
        """The vectors of packed values as float32 rows; a damaged value gives a zero row."""
        blank = bytes(cls.HEAD)
        parts = [memoryview(v if len(v) >= cls.HEAD else blank)[4 : cls.HEAD] for v in values]
        return np.frombuffer(b"".join(parts), dtype=np.float16).reshape(len(values), DIMENSIONS).astype(np.float32)

    @staticmethod
    def times(values: list[bytes]) -> np.ndarray:
        return np.array([int.from_bytes(v[:4], "little") if len(v) >= 4 else 0 for v in values], dtype=np.int64)

    @classmethod
    def payload(cls, value: bytes) -> tuple[str, dict[str, Any]] | None:
        """(text, fixed metadata) of a packed value; None when it carries no text or is damaged."""
        try:
            data = json.loads(value[cls.HEAD :])
            text, meta = str(data["t"]), dict(data["m"])
        except (ValueError, KeyError, TypeError):
            return None
        return (text, meta) if text.strip() else None

    # --- query vectors prepared ahead of a turn -------------------------------------------------
    QUERY_TTL_S = 120  # an SMS burst is answered seconds after its texts arrive; customer text, kept briefly

    def _query_key(self, text: str) -> str:
        return self.keys.recall_query(hashlib.sha256(f"{MODEL_NAME}\x00{text}".encode()).hexdigest()[:32])

    async def put_query(self, text: str, vector: Any) -> None:
        await self.redis.set(self._query_key(text), np.asarray(vector, dtype=np.float32).tobytes(), ex=self.QUERY_TTL_S)

    def get_query_on(self, pipe: Any, text: str) -> None:
        pipe.get(self._query_key(text))

    @staticmethod
    def query_vector(raw: bytes | None) -> np.ndarray | None:
        """A prepared query vector as read back; None when absent or not one of ours."""
        if raw is None or len(raw) != 4 * DIMENSIONS:
            return None
        vector = np.frombuffer(raw, dtype=np.float32)
        norm = float(np.linalg.norm(vector))  # NaN when any component is NaN or infinite
        return vector if abs(norm - 1.0) < 1e-3 else None  # our vectors are unit length

    async def ready(self) -> bool:
        if not self._ready:
            self._ready = bool(await self.redis.exists(self.keys.memory_index_ready()))
        return self._ready

    async def mark_ready(self) -> None:
        await self.redis.set(self.keys.memory_index_ready(), b"1")
        self._ready = True

    async def add(self, rows: dict[str, dict[str, bytes]]) -> None:
        """rows: customer id -> {memory id: packed value}. Trims customers grown past cap + slack."""
        pipe = self.redis.pipeline(transaction=False)
        order = list(rows)
        for cid in order:
            pipe.eval(self._add, 2, *self._keys(cid), *(x for item in rows[cid].items() for x in item))
        results = await pipe.execute()
        for cid, size in zip(order, results, strict=True):
            if size > self.cap + self.slack:
                await self._trim(cid)

    async def _trim(self, cid: str) -> None:
        key = self.keys.memory_vectors(cid)
        entries = await self.redis.hgetall(key)
        ids = list(entries)
        times = self.times([entries[i] for i in ids])
        oldest = [ids[i] for i in np.argsort(times, kind="stable")[: max(0, len(ids) - self.cap)]]
        if oldest:
            await self.remove(cid, oldest)

    async def load(self, cid: str) -> dict[bytes, bytes]:
        return await self.redis.hgetall(self.keys.memory_vectors(cid))

    def read_matrix_on(self, pipe: Any, cid: str) -> tuple[_Packed | None, int]:
        """Queue the read of the customer's packed ids and vectors: only the blocks added since this
        process last read them, while that build stands. Pass the reply and what this returns to
        `packed`."""
        known = self._packed.get(cid)
        if known is None:
            pipe.lrange(self.keys.memory_matrix(cid), 0, -1)
            return None, 0
        pipe.eval(_MATRIX_TAIL, 1, self.keys.memory_matrix(cid), known.stamp, known.length)
        return known, known.length

    async def packed(self, cid: str, reply: Any, read: tuple[_Packed | None, int]) -> _Packed | None:
        """The customer's entries after `read_matrix_on`'s reply; None when the index cannot pack
        them (recall then ranks the hash's values)."""
        known, length = read
        if known is not None:
            same_build, reply = int(reply[0]), reply[1]
            if same_build:
                fresh = reply[max(0, known.length - length) :]  # a concurrent read may have taken some
                known.extend(self._records(b"".join(fresh)))
                known.length += len(fresh)
                if self._packed.get(cid) is known:  # (it may have been evicted or replaced meanwhile)
                    self._packed.move_to_end(cid)
                return known
        items = reply or await self.build_matrix(cid)
        self._packed.pop(cid, None)
        blob = b"".join(items[1:]) if items else b""
        if not items or len(items[0]) != self.STAMP or len(blob) % self.RECORD.itemsize:
            return None
        entry = self._packed[cid] = _Packed(items[0], self._records(blob), len(items))
        total = sum(e.nbytes for e in self._packed.values())
        while total > self.cache_bytes and len(self._packed) > 1:  # least recently read first
            total -= self._packed.popitem(last=False)[1].nbytes
        return entry

    async def build_matrix(self, cid: str) -> list[bytes] | None:
        """Pack the customer's ids and vectors (or read them, if another process just did)."""
        return await self.redis.eval(self._read_matrix, 2, *self._keys(cid), self.MATRIX_TTL_S)

    @classmethod
    def _records(cls, raw: bytes) -> np.ndarray:
        return np.frombuffer(raw[: len(raw) - len(raw) % cls.RECORD.itemsize], dtype=cls.RECORD)

    async def payloads(self, cid: str, ids: list[bytes]) -> list[bytes | None]:
        return await self.redis.hmget(self.keys.memory_vectors(cid), ids) if ids else []

    async def move(self, ids: list[str] | None, from_cid: str, to_cid: str) -> None:
        """Move some (`ids`) or all (None) of one customer's entries to another customer."""
        if from_cid == to_cid:
            return  # nothing to move (and copying then deleting would lose them)
        src, dst = self.keys.memory_vectors(from_cid), self.keys.memory_vectors(to_cid)
        if ids is None:
            entries = await self.redis.hgetall(src)
        else:
            values = await self.redis.hmget(src, ids) if ids else []
            entries = {i: v for i, v in zip(ids, values, strict=True) if v is not None}
        if entries:
            pipe = self.redis.pipeline(transaction=True)  # copy first: a crash between leaves a duplicate, not a loss
            pipe.hset(dst, mapping=entries)
            pipe.delete(self.keys.memory_matrix(to_cid))
            await pipe.execute()
            await self.remove(from_cid, list(entries))  # only what was copied: an entry added meanwhile stays

    async def remove(self, cid: str, ids: list[Any]) -> None:
        if ids:
            pipe = self.redis.pipeline(transaction=True)
            pipe.hdel(self.keys.memory_vectors(cid), *ids)
            pipe.delete(self.keys.memory_matrix(cid))
            await pipe.execute()

    async def drop(self, cid: str) -> None:
        await self.redis.delete(*self._keys(cid))


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

    def __init__(self, store: VectorStore, dealer_id: str, *, recall_index: RecallIndex | None = None) -> None:
        self.dealer_id = _require_id(dealer_id, "dealer_id")
        self.index = store.collection(f"mem_{dealer_id}")
        self.recall_index = recall_index

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
            texts = [rows[i][0] for i in ids]
            vectors = await self.index.embed(texts)
            if self.recall_index is not None:  # first: a memory Chroma lacks does less harm than the reverse
                entries = ((mid, vector, *rows[mid]) for mid, vector in zip(ids, vectors, strict=True))
                await self.recall_index.add(RecallIndex.by_customer(entries))
            await self.index.upsert(ids, texts, [rows[i][1] for i in ids], vectors=vectors)
        return len(rows)

    async def warm_query(self, query: str) -> bool:
        """Embed a text a turn of this process is about to recall against, into the embedder's cache
        only (no Redis write: the turn runs here), so its recall finds the vector made. False, at
        once, for a text the cache does not keep (a long one): its recall embeds it."""
        if not query.strip() or not self.index.embedder.caches(query):
            return False
        await asyncio.to_thread(self.index.embedder.embed_one, query)
        return True

    async def prepare(self, query: str) -> bool:
        """Embed a text that a turn will soon recall against, ahead of that turn: an SMS burst waits
        out its quiet window anyway, and embedding is most of what recall costs. The vector is kept in
        this process's embedder cache and, for a turn that runs in another process, in Redis for two
        minutes (keyed by a digest of the text). Returns whether a vector was prepared."""
        if self.recall_index is None or not query.strip():
            return False
        vector = await asyncio.to_thread(self.index.embedder.embed_one, query)
        await self.recall_index.put_query(query, vector)
        return True

    async def recall(self, customer_id: str, query: str, k: int = 4, *, prepared: bool = False) -> list[Hit]:
        """This customer's memories closest in meaning to `query` — never anyone else's. `prepared`:
        the query's vector was probably made ahead by `prepare` (it is looked for in Redis alongside
        the customer's entries; when it is not there, the query is embedded now)."""
        _require_id(customer_id, "customer_id")
        k = max(1, min(int(k), 50))
        if self.recall_index is not None and await self.recall_index.ready():
            hits = await self._recall_indexed(customer_id, query, k, prepared)
        else:
            hits = await self.index.query(query, k=k, where={"customer_id": customer_id})
        # Belt and braces: the filter is ours, but never hand back a foreign row.
        return [h for h in hits if h.metadata.get("customer_id") == customer_id]

    async def _recall_indexed(self, customer_id: str, query: str, k: int, prepared: bool = False) -> list[Hit]:
        """Exact search over this customer's entries in the recall index (Chroma is not called)."""
        index = self.recall_index
        assert index is not None
        if not query.strip():
            return []
        embedder = self.index.embedder
        cached = embedder.cached(query)
        embedding: asyncio.Future | None = None
        if cached is None and not prepared:  # the model runs in a worker thread while Redis answers
            embedding = asyncio.ensure_future(asyncio.to_thread(embedder.embed_one, query))
        pipe = index.redis.pipeline(transaction=False)
        read = index.read_matrix_on(pipe, customer_id)
        if cached is None and prepared:  # made ahead, probably: read with the entries
            index.get_query_on(pipe, query)
        try:
            replies = await pipe.execute()
        finally:
            if embedding is not None:
                cached = await embedding
        if cached is not None:
            query_vector, source = np.asarray(cached, dtype=np.float32), "cache" if embedding is None else "embedded"
        else:
            query_vector, source = RecallIndex.query_vector(replies[1]), "prepared"
            if query_vector is None:  # not prepared after all (or expired): embed it now
                query_vector = np.asarray(await asyncio.to_thread(embedder.embed_one, query), dtype=np.float32)
                source = "embedded"
            else:  # this turn's memory write will store the same text: no second embedding
                embedder.keep(query, query_vector)
        metrics.RECALL_QUERY_VECTORS.labels(source).inc()
        packed = await index.packed(customer_id, replies[0], read)
        if packed is None:  # entries the packed matrix cannot hold: rank the hash's values
            return await self._rank_entries(customer_id, await index.load(customer_id), query_vector, k)
        if not packed.n:
            return []
        # At most ~1,000 entries, float32 in this process already: one matrix-vector product, ~20 us.
        scores = packed.vectors[: packed.n] @ query_vector
        order = np.argsort(-scores, kind="stable")
        hits: list[Hit] = []
        for start in range(0, len(order), 2 * k):  # texts for the best few (more if some are gone or damaged)
            chunk = order[start : start + 2 * k]
            ids = [packed.ids[i] for i in chunk]
            for i, mid, value in zip(chunk, ids, await index.payloads(customer_id, ids), strict=True):
                stored = RecallIndex.payload(value) if value is not None else None
                if stored is None:
                    continue  # removed since the matrix was read, or damaged: skipped, never a crash
                hits.append(self._hit(customer_id, mid, stored, float(scores[i])))
                if len(hits) == k:
                    return hits
        return hits

    @staticmethod
    def _hit(customer_id: str, mid: Any, stored: tuple[str, dict[str, Any]], score: float) -> Hit:
        text, meta = stored
        return Hit(id=mid.decode(errors="replace") if isinstance(mid, bytes) else mid, text=text,
                   metadata={**meta, "customer_id": customer_id}, score=score)  # fmt: skip

    async def _rank_entries(self, customer_id: str, entries: dict[Any, bytes], query_vector: np.ndarray, k: int
                            ) -> list[Hit]:  # fmt: skip
        """Rank the hash's values themselves (what the packed matrix cannot hold)."""
        if not entries:
            return []

        def rank() -> list[Hit]:
            ids, values = list(entries), list(entries.values())
            scores = RecallIndex.vectors(values) @ query_vector
            hits: list[Hit] = []
            for i in np.argsort(-scores, kind="stable"):
                stored = RecallIndex.payload(values[i])
                if stored is None:
                    continue  # a damaged entry: skipped, never a crash
                hits.append(self._hit(customer_id, ids[i], stored, float(scores[i])))
                if len(hits) == k:
                    break
            return hits

        return await asyncio.to_thread(rank)

    async def backfill_recall_index(self, page_size: int = 1000) -> int:
        """Copy memories stored before the recall index existed into it, then mark it complete
        (recall switches to it). Idempotent; returns how many memories it copied.

        Works through the ids that exist when it starts, a batch at a time; after writing a batch
        it reads those rows' owners again and undoes what a concurrent forget or merge changed
        meanwhile (their own index updates may have run before this batch was written)."""
        if self.recall_index is None or await self.recall_index.ready():
            return 0
        ids = await self.index.all_ids()
        copied = 0
        for start in range(0, len(ids), page_size):
            res = await self.index.fetch(ids[start : start + page_size])
            embeddings = res["embeddings"] if res.get("embeddings") is not None else []
            rows = zip(res["ids"], embeddings, res["documents"] or [], res["metadatas"] or [], strict=True)
            by_customer = RecallIndex.by_customer(rows)
            if not by_customer:
                continue
            await self.recall_index.add(by_customer)
            written = {mid: cid for cid, entries in by_customer.items() for mid in entries}
            now = {h.id: h.metadata.get("customer_id") for h in await self.index.get(list(written))}
            for mid, cid in written.items():
                owner = now.get(mid)
                if owner == cid:
                    copied += 1
                elif owner:  # merged while this batch was in flight
                    await self.recall_index.move([mid], cid, owner)
                else:  # forgotten while this batch was in flight
                    await self.recall_index.remove(cid, [mid])
        await self.recall_index.mark_ready()
        return copied

    async def count(self, customer_id: str) -> int:
        _require_id(customer_id, "customer_id")
        return len(await self.index.get(where={"customer_id": customer_id}))

    async def forget_customer(self, customer_id: str) -> None:
        """Delete every memory the customer currently owns (including ones merged in)."""
        _require_id(customer_id, "customer_id")
        if self.recall_index is not None:  # first: a failure leaves the memories unrecallable, not the reverse
            await self.recall_index.drop(customer_id)
        await self.index.delete(where={"customer_id": customer_id})

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
        if self.recall_index is not None:
            everything = set(where) == {"customer_id"}  # a merge moves all the customer's entries
            moved = None if everything else [h.id for h in rows]
            await self.recall_index.move(moved, where["customer_id"], to_customer)
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
