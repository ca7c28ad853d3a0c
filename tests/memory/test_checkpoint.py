"""The Redis checkpointer: LangGraph's conformance suite, resume across restarts, key layout, pruning."""

from __future__ import annotations

import operator
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import pytest
import redis.asyncio as aioredis
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from redis.crc import key_slot

from memory.checkpoint import AsyncRedisCheckpointSaver, make_checkpointer, prune_thread
from memory.keys import Keys
from memory.redis import RedisHandle


@pytest.fixture
async def saver(redis_handle: RedisHandle, keys: Keys, redis: Any) -> AsyncIterator[AsyncRedisCheckpointSaver]:
    # depends on `redis` so this dealer's keys are deleted after the test
    s = make_checkpointer(redis_handle.url, keys.checkpoint_prefix())
    yield s
    await s.aclose()


async def _all_keys(saver: AsyncRedisCheckpointSaver, keys: Keys) -> list[str]:
    return sorted([k.decode() async for k in saver.client.scan_iter(match=keys.scan_pattern(), count=1000)])


# --- conformance -------------------------------------------------------------------------------


async def test_conformance_suite(redis_handle: RedisHandle, keys: Keys, redis: Any) -> None:
    @checkpointer_test(name="AsyncRedisCheckpointSaver")
    async def factory() -> AsyncIterator[AsyncRedisCheckpointSaver]:
        s = make_checkpointer(redis_handle.url, keys.checkpoint_prefix())
        yield s
        await s.aclose()

    report = await validate(factory)
    failures = {name: r.failures for name, r in report.results.items() if r.failures}
    assert report.passed_all_base(), failures
    assert report.results["prune"].passed is True, failures


# --- a real graph ---------------------------------------------------------------------------


class Chat(TypedDict):
    said: Annotated[list[str], operator.add]
    turns: int


def _reply(state: Chat) -> dict[str, Any]:
    return {"said": [f"reply to {state['said'][-1]}"], "turns": state.get("turns", 0) + 1}


def _chat_graph(checkpointer: Any) -> Any:
    g = StateGraph(Chat).add_node("reply", _reply).add_edge(START, "reply").add_edge("reply", END)
    return g.compile(checkpointer=checkpointer)


async def test_graph_resumes_across_turns_and_restart(redis_handle: RedisHandle, keys: Keys, redis: Any) -> None:
    cfg = {"configurable": {"thread_id": "cust-1"}}
    first = make_checkpointer(redis_handle.url, keys.checkpoint_prefix())
    graph = _chat_graph(first)
    await graph.ainvoke({"said": ["hi"]}, cfg)
    out = await graph.ainvoke({"said": ["any trucks?"]}, cfg)
    assert out["turns"] == 2
    assert out["said"] == ["hi", "reply to hi", "any trucks?", "reply to any trucks?"]
    await first.aclose()

    # a new process: fresh client, fresh saver, same Redis
    second = make_checkpointer(redis_handle.url, keys.checkpoint_prefix())
    graph = _chat_graph(second)
    assert (await graph.aget_state(cfg)).values["turns"] == 2
    out = await graph.ainvoke({"said": ["thanks"]}, cfg)
    assert out["turns"] == 3
    assert out["said"][-2:] == ["thanks", "reply to thanks"]
    # another thread is independent
    other = await graph.ainvoke({"said": ["hello"]}, {"configurable": {"thread_id": "cust-2"}})
    assert other["turns"] == 1
    await second.aclose()


async def test_keys_live_under_the_dealer_and_one_slot_per_thread(saver: AsyncRedisCheckpointSaver, keys: Keys) -> None:
    graph = _chat_graph(saver)
    for thread in ("cust-a", "cust-b"):
        await graph.ainvoke({"said": ["hi"]}, {"configurable": {"thread_id": thread}})
    all_keys = await _all_keys(saver, keys)
    assert saver.registry_key in all_keys
    for thread in ("cust-a", "cust-b"):
        own = [k for k in all_keys if k.startswith(saver.thread_base(thread))]
        assert len(own) >= 4
        assert len({key_slot(k.encode()) for k in own}) == 1
    # thread id = customer id puts the thread on the customer's slot (lock, profile, timeline)
    assert key_slot(saver.thread_base("cust-a").encode()) == key_slot(keys.lock("cust-a").encode())
    assert key_slot(saver.thread_base("cust-a").encode()) != key_slot(saver.thread_base("cust-b").encode())
    # odd thread ids cannot break out of the hash tag
    assert saver.thread_base("x}y{z:%") == f"dos:{{{keys.dealer}:x%7Dy%7Bz:%25}}:ckpt"


async def test_forks_from_one_checkpoint_keep_their_own_values(saver: AsyncRedisCheckpointSaver) -> None:
    """Regression for langgraph-checkpoint-plainredis 0.1.0, where fork 2 overwrote fork 1."""
    graph = _chat_graph(saver)
    cfg = {"configurable": {"thread_id": "forky"}}
    await graph.ainvoke({"said": ["a"]}, cfg)
    base = (await graph.aget_state(cfg)).config
    fork1 = await graph.aupdate_state(base, {"said": ["FORK1"]})
    await graph.aupdate_state(base, {"said": ["FORK2"]})
    assert (await graph.aget_state(fork1)).values["said"][-1] == "FORK1"


async def test_pending_writes_come_back_in_writes_sort_key_order(saver: AsyncRedisCheckpointSaver) -> None:
    cfg = {"configurable": {"thread_id": "w", "checkpoint_ns": ""}}
    cp = {"v": 1, "id": "1f0-a", "ts": "2026-01-01T00:00:00+00:00", "channel_values": {}}
    stored = await saver.aput(cfg, {**cp, "channel_versions": {}, "versions_seen": {}}, {}, {})  # type: ignore[typeddict-item]
    await saver.aput_writes(stored, [("x", 1), ("y", 2)], "task-z", task_path="~b")
    await saver.aput_writes(stored, [("x", 3)], "task-a", task_path="~c")
    await saver.aput_writes(stored, [("x", 4)], "task-m", task_path="~a")
    tup = await saver.aget_tuple(stored)
    assert tup is not None and tup.pending_writes is not None
    assert [(t, c, v) for t, c, v in tup.pending_writes] == [
        ("task-m", "x", 4),
        ("task-z", "x", 1),
        ("task-z", "y", 2),
        ("task-a", "x", 3),
    ]


async def test_async_only_and_binary_client(redis_handle: RedisHandle, keys: Keys) -> None:
    decoded = aioredis.Redis.from_url(redis_handle.url, decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses"):
        AsyncRedisCheckpointSaver(decoded, keys.checkpoint_prefix())
    await decoded.aclose()
    s = make_checkpointer(redis_handle.url, keys.checkpoint_prefix())
    with pytest.raises(NotImplementedError, match="async"):
        s.get_tuple({"configurable": {"thread_id": "t"}})
    await s.aclose()


# --- pruning ---------------------------------------------------------------------------------


async def test_prune_bounds_a_long_thread(saver: AsyncRedisCheckpointSaver, keys: Keys) -> None:
    graph = _chat_graph(saver)
    cfg = {"configurable": {"thread_id": "long"}}
    for i in range(3):
        await graph.ainvoke({"said": [f"m{i}"]}, cfg)
    assert len([t async for t in saver.alist(cfg)]) > 2
    removed = await prune_thread(saver, "long", keep=2)
    assert removed > 0
    assert len([t async for t in saver.alist(cfg)]) == 2
    state = (await graph.aget_state(cfg)).values
    assert state["turns"] == 3 and len(state["said"]) == 6

    sizes = []
    for i in range(3, 12):
        await graph.ainvoke({"said": [f"m{i}"]}, cfg)
        await prune_thread(saver, "long", keep=2)
        blob_fields = await saver.client.hlen(saver._keys("long", "").blob)
        sizes.append((len(await _all_keys(saver, keys)), blob_fields))
    assert len(set(sizes[2:])) == 1, sizes  # flat: no growth with turns
    final = (await graph.aget_state(cfg)).values
    assert final["turns"] == 12 and final["said"][-1] == "reply to m11"


def _append_all(state: list, writes: list[list]) -> list:
    return [*state, *(x for w in writes for x in w)]


class DeltaChat(TypedDict):
    log: Annotated[list, DeltaChannel(_append_all, snapshot_frequency=4)]


def _delta_graph(checkpointer: Any) -> Any:
    def reply(state: DeltaChat) -> dict[str, Any]:
        return {"log": [f"r{len(state['log'])}"]}

    g = StateGraph(DeltaChat).add_node("reply", reply).add_edge(START, "reply").add_edge("reply", END)
    return g.compile(checkpointer=checkpointer)


async def test_prune_keeps_what_a_delta_channel_needs(saver: AsyncRedisCheckpointSaver) -> None:
    """DeltaChannel stores deltas between snapshots; pruning must keep the chain back to one."""
    ours, reference = _delta_graph(saver), _delta_graph(InMemorySaver())
    cfg = {"configurable": {"thread_id": "delta"}}
    for i in range(7):
        for g in (ours, reference):
            await g.ainvoke({"log": [f"u{i}"]}, cfg)
        await prune_thread(saver, "delta", keep=1)
        assert (await ours.aget_state(cfg)).values == (await reference.aget_state(cfg)).values
    assert len((await ours.aget_state(cfg)).values["log"]) == 14


async def test_prune_drops_finished_subgraph_runs(saver: AsyncRedisCheckpointSaver) -> None:
    class Inner(TypedDict):
        said: Annotated[list[str], operator.add]

    sub = StateGraph(Inner).add_node("inner", lambda s: {"said": ["inner"]}).add_edge(START, "inner").compile()
    g = (
        StateGraph(Chat)
        .add_node("reply", _reply)
        .add_node("sub", sub)
        .add_edge(START, "reply")
        .add_edge("reply", "sub")
        .add_edge("sub", END)
        .compile(checkpointer=saver)
    )
    cfg = {"configurable": {"thread_id": "subs"}}
    for i in range(4):
        await g.ainvoke({"said": [f"m{i}"]}, cfg)
    namespaces = await saver.client.smembers(saver._keys("subs", "").namespaces)
    assert len(namespaces) == 5  # root + one per subgraph run
    before = (await g.aget_state(cfg)).values
    await prune_thread(saver, "subs", keep=2)
    # the root plus the subgraph run inside the kept window; older runs are gone
    kept = await saver.client.smembers(saver._keys("subs", "").namespaces)
    assert b"" in kept and len(kept) == 2
    assert (await g.aget_state(cfg)).values == before
    out = await g.ainvoke({"said": ["again"]}, cfg)
    assert out["turns"] == 5
    await prune_thread(saver, "subs", keep=2)
    assert len(await saver.client.smembers(saver._keys("subs", "").namespaces)) == 2


async def test_delete_thread_removes_every_key(saver: AsyncRedisCheckpointSaver, keys: Keys) -> None:
    graph = _chat_graph(saver)
    await graph.ainvoke({"said": ["hi"]}, {"configurable": {"thread_id": "gone"}})
    await graph.ainvoke({"said": ["hi"]}, {"configurable": {"thread_id": "stays"}})
    await saver.adelete_thread("gone")
    left = await _all_keys(saver, keys)
    assert not [k for k in left if k.startswith(saver.thread_base("gone"))]
    assert [k for k in left if k.startswith(saver.thread_base("stays"))]
    listed = {t.config["configurable"]["thread_id"] async for t in saver.alist(None)}
    assert listed == {"stays"}
