"""Benchmark 1 — per-turn overhead vs history length, and checkpoint bytes per customer.

DealerOS: the real turn path (`Agent.handle_turn`: identity, idempotency, per-customer lock, timeline,
the LangGraph graph, the Redis checkpointer with pruning) with `LLMBrain` over a zero-latency fake
model that makes one `get_vehicle_details` call (a cheap READ tool) per turn. Measured twice: without
cross-channel vector memory, and with it (`CustomerMemory` on embedded Chroma + the bundled MiniLM
embedder: one query embedding + an exact search over the customer's entries in the Redis recall
index per turn, a background upsert after it), the same with the embedding model replaced by a
zero-latency fake (`InstantEncoder`: MiniLM makes the text's vector before the clock starts; the
target is on this row, the runtime's own cost, as the chat model is faked for every row), and with it
as an SMS turn runs it: the text embedded
while its burst waited out the quiet window, by the process that took the webhook (the vector is read
from Redis with the customer's entries; the clock starts after it). In the same shuffled sequence, the
embedding alone (MiniLM on a worker thread, as the web-chat turn's recall runs it, on texts worded
like the turns'): what a turn that embeds its text cannot go below. Then memory recall alone for one
customer, through that index and through Chroma's customer filter, as the dealership's collection grows.

Baseline: the straightforward LangGraph build of the same agent — `langgraph.prebuilt.
create_react_agent` with the same model, the same tools (ALL_TOOLS) and LangGraph's SQLite
checkpointer (`AsyncSqliteSaver`) keeping the full message list in the state.

History: DealerOS customers get their earlier exchanges written straight onto the timeline (copies of
the events a real turn produced), then run real turns so checkpoints exist; baseline threads get the
same number of earlier exchanges (human, tool call, tool result, answer) seeded into their state with
one `aupdate_state`. Baseline storage is the bytes of a thread that ran every turn for real, up to
`storage_turns`, extrapolated to 500 turns with a quadratic fit when it ran fewer (every step
re-stores the whole list, so it grows with the square of the turn count).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
import sqlite3
import time
import uuid
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from bench.breakdown import Breakdown, leaves
from bench.common import BenchResult, Stats, fmt_bytes, fmt_ms, fmt_ratio, ratio
from bench.env import BenchRedis
from bench.fakes import DEFAULT_ANSWER, InstantEncoder, vehicle_lookup_model
from bench.inproc import Stack, chat, new_phone, sms, visitor_of

NUMBER = 1
NAME = "Per-turn overhead vs history length"
STOCK = "T26101"  # a 2026 Highlander in the demo feed
TEXTS = [
    f"Is stock {STOCK} still available?",
    f"what's the price on {STOCK}",
    f"does {STOCK} have leather seats?",
    f"is the highlander {STOCK} AWD",
    f"can you tell me the miles on {STOCK}",
]
TARGET_P50_MS = 5.0
# The vector-memory configurations, each timed on the same customers: a web-chat turn (the text embedded
# in the turn by the bundled MiniLM), an SMS turn (embedded beforehand, while its burst waited) and a
# web-chat turn whose embedding model answers at once (`InstantEncoder`: the runtime's own cost).
MEMORY_CONFIGS = ("dealeros_with_memory", "dealeros_with_memory_sms", "dealeros_with_memory_instant")
TARGET_SPEEDUP = 5.0
TARGET_BYTES = 2 * 1024 * 1024


@dataclass
class Sizes:
    lengths: tuple[int, ...] = (10, 100, 500)
    customers: int = 8  # DealerOS customers per history length (measured turns rotate over them)
    turns: int = 200  # measured DealerOS turns per history length, without vector memory
    memory_customers: int = 4
    memory_turns: int = 100  # ... with vector memory
    warmup: int = 2  # real turns per customer before measuring (checkpoints exist, summary folded)
    baseline_threads: int = 4
    baseline_turns: int = 40  # measured baseline turns per history length
    storage_turns: int = 60  # baseline turns run for real for its storage curve
    storage_target_turns: int = 500
    breakdown_turns: int = 60
    # memory recall for one customer vs how many memories the whole dealership holds
    dealer_memories: tuple[int, ...] = (1_000, 10_000, 40_000)
    recall_queries: int = 60
    profile: bool = False  # also write a pyinstrument profile of DealerOS turns


QUICK = Sizes(lengths=(10, 50), customers=3, turns=40, memory_customers=2, memory_turns=20, baseline_threads=2,
              baseline_turns=10, storage_turns=20, storage_target_turns=50, breakdown_turns=20,
              dealer_memories=(1_000, 10_000), recall_queries=20)  # fmt: skip
TINY = Sizes(lengths=(3, 6), customers=1, turns=3, memory_customers=1, memory_turns=2, warmup=1, baseline_threads=1,
             baseline_turns=2, storage_turns=4, storage_target_turns=6, breakdown_turns=2,
             dealer_memories=(300,), recall_queries=3)  # fmt: skip


# --- DealerOS ---------------------------------------------------------------------------------------
def llm_brain() -> Any:
    from agent.llm import LLMBrain
    from agent.offline import OfflineBrain
    from tools import ALL_TOOLS

    return LLMBrain(model=vehicle_lookup_model(STOCK), tools=ALL_TOOLS, fallback=OfflineBrain(use_embeddings=False))


async def template_events(stack: Stack) -> list[Any]:
    """The inbound and outbound events one real turn writes (what prefilled history is copied from)."""
    agent = stack.agent(llm_brain(), memory=False)
    phone = new_phone()
    result = await agent.handle_turn(sms(stack.dealer.id, phone, TEXTS[0]))
    events = await agent.services.timeline.read([result.customer_id])
    inbound = next(e for e in events if e.direction == "inbound" and e.kind == "message")
    outbound = next(e for e in events if e.direction == "outbound" and e.kind == "message")
    if result.brain != "llm" or outbound.text != DEFAULT_ANSWER:
        raise RuntimeError(f"the fake model's turn did not go through the LLM brain: {result.brain} {outbound.text!r}")
    return [inbound, outbound]


async def dealeros_customers(
    stack: Stack, agent: Any, templates: list[Any], history: int, n: int, warmup: int, *, visitor: bool = False
):
    """`n` customers with `history` earlier exchanges each; returns [(phone, customer id)]. `visitor`:
    each also has a web-chat visitor id (`visitor_of(phone)`), as a texting customer who later
    chats on the website after giving their number."""
    out = []
    end = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    for _ in range(n):
        phone = new_phone()
        visitor_id = visitor_of(phone) if visitor else None
        resolved = await agent.services.customers.resolve(phone=phone, visitor_id=visitor_id)
        cid = resolved.customer.id
        texts = itertools.cycle(TEXTS)
        inbound = await stack.prefill_timeline(cid, history, templates, end=end)
        for event in inbound:
            event.text = next(texts)
        await stack.prefill_memories(cid, inbound)
        for _ in range(warmup):
            await agent.handle_turn(sms(stack.dealer.id, phone, TEXTS[0]))
        out.append((phone, cid))
    return out


_refs = itertools.count()


async def dealeros_turn(
    stack: Stack,
    agent: Any,
    phone: str,
    *,
    prepared: bool = False,
    instant: InstantEncoder | None = None,
    channel: str = "sms",
) -> float:
    """One timed turn. Background memory writes are awaited after the clock stops, so they never
    overlap (and slow down) the next measured turn of another configuration. `prepared`: the text
    was embedded while its SMS burst waited, by another process (the API process that took the
    webhook, in the production shape), before the clock starts — as `SmsChannel` does it: the
    vector is in Redis, not in this process's embedder cache. `instant`: the agent's memory runs this
    zero-latency fake embedding model; the real model makes the text's vector before the clock starts.
    `channel="chat"`: a web-chat message from the customer's visitor id instead of a text."""
    k = next(_refs)
    # unique wording: the embedder's query cache must not make memory recall free
    text = f"{TEXTS[k % len(TEXTS)]} (ref {k})"
    msg = chat(stack.dealer.id, visitor_of(phone), text) if channel == "chat" else sms(stack.dealer.id, phone, text)
    if prepared:
        await prepare_elsewhere(stack, msg)
    if instant is not None:
        await asyncio.to_thread(instant.make_ready, msg.text)
    t0 = time.perf_counter()
    result = await agent.handle_turn(msg)
    elapsed = time.perf_counter() - t0
    if not result.replies:
        raise RuntimeError(f"DealerOS turn produced no reply (suppressed={result.suppressed})")
    await agent.services.drain()
    return elapsed


async def embedding_alone(stack: Stack) -> float:
    """One text embedded the way the web-chat turn's recall embeds it (a worker thread, the shared
    embedder), worded like the turns' texts and never seen before: the floor of what that turn adds."""
    k = next(_refs)
    text = f"{TEXTS[k % len(TEXTS)]} (ref {k})"
    t0 = time.perf_counter()
    await asyncio.to_thread(stack.memory.index.embedder.embed_one, text)
    return time.perf_counter() - t0


async def prepare_elsewhere(stack: Stack, msg: Any) -> None:
    """What `CustomerMemory.prepare` does in the process that took the webhook: embed the text, keep
    the vector in Redis; here without touching this process's embedder cache (`embed` only reads it)."""
    from agent.types import RECALL_PREPARED

    vector = (await asyncio.to_thread(stack.memory.index.embedder.embed, [msg.text]))[0]
    await stack.memory.recall_index.put_query(msg.text, vector)
    msg.meta[RECALL_PREPARED] = True


def _recall_counts() -> Counter[str]:
    """This process's memory-recall counters (`/metrics`): outcome per channel and where the query
    vector came from."""
    from metrics import RECALL, RECALL_QUERY_VECTORS

    out: Counter[str] = Counter()
    for counter, name in ((RECALL, "outcome"), (RECALL_QUERY_VECTORS, "vector")):
        for metric in counter.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    key = f"{name}:" + ":".join(sample.labels.values())
                    out[key] = int(sample.value)
    return out


async def time_dealeros(stack: Stack, agent: Any, customers: list[tuple[str, str]], turns: int) -> list[float]:
    return [await dealeros_turn(stack, agent, customers[k % len(customers)][0]) for k in range(turns)]


# --- baseline ----------------------------------------------------------------------------------------
class Baseline:
    """create_react_agent + AsyncSqliteSaver, the full message list in the state."""

    def __init__(self, stack: Stack, db_path: Path) -> None:
        self.stack = stack
        self.db_path = db_path
        self._cm: Any = None

    async def __aenter__(self) -> Baseline:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
        from langgraph.prebuilt import create_react_agent

        from prompts import load
        from tools import ALL_TOOLS
        from tools.context import ToolDeps

        self._cm = AsyncSqliteSaver.from_conn_string(str(self.db_path))
        self.saver = await self._cm.__aenter__()
        with warnings.catch_warnings():  # "moved to langchain.agents": still LangGraph's prebuilt ReAct agent
            warnings.simplefilter("ignore")
            self.graph = create_react_agent(
                vehicle_lookup_model(STOCK), ALL_TOOLS, prompt=load("system.md").text, checkpointer=self.saver
            )
        self.deps = ToolDeps(dealer=self.stack.dealer, redis=self.stack.redis, keys=self.stack.keys, channel="sms")
        lookup = next(t for t in ALL_TOOLS if t.name == "get_vehicle_details")
        details = await lookup.ainvoke({"vin_or_stock": STOCK}, config={"configurable": {"deps": self.deps}})
        self.tool_text = str(details)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._cm.__aexit__(*exc)

    def config(self, thread: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread, "deps": self.deps}}

    def history(self, turns: int) -> list[Any]:
        from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

        texts = itertools.cycle(TEXTS)
        messages: list[Any] = []
        for _ in range(turns):
            call_id = f"call_{uuid.uuid4().hex[:12]}"
            call = {"name": "get_vehicle_details", "args": {"vin_or_stock": STOCK}, "id": call_id, "type": "tool_call"}
            messages += [
                HumanMessage(next(texts)),
                AIMessage("", tool_calls=[call]),
                ToolMessage(self.tool_text, tool_call_id=call_id, name="get_vehicle_details"),
                AIMessage(DEFAULT_ANSWER),
            ]
        return messages

    async def seed(self, thread: str, turns: int) -> None:
        await self.graph.aupdate_state(self.config(thread), {"messages": self.history(turns)}, as_node="agent")

    async def turn(self, thread: str, text: str) -> dict[str, Any]:
        from langchain_core.messages import HumanMessage

        state: dict[str, Any] = await self.graph.ainvoke({"messages": [HumanMessage(text)]}, self.config(thread))
        return state

    def thread_bytes(self, thread: str) -> int:
        con = sqlite3.connect(self.db_path)
        try:
            cp = con.execute(
                "SELECT COALESCE(SUM(LENGTH(checkpoint) + LENGTH(metadata)), 0) FROM checkpoints WHERE thread_id = ?",
                (thread,),
            ).fetchone()[0]
            wr = con.execute(
                "SELECT COALESCE(SUM(LENGTH(value)), 0) FROM writes WHERE thread_id = ?", (thread,)
            ).fetchone()[0]
        finally:
            con.close()
        return int(cp + wr)


async def baseline_threads(base: Baseline, history: int, threads: int) -> list[str]:
    names = [f"h{history}-t{i}-{uuid.uuid4().hex[:6]}" for i in range(threads)]
    for name in names:
        await base.seed(name, history)
        await base.turn(name, TEXTS[0])  # warm-up, like DealerOS's
    return names


async def baseline_turn(base: Baseline, thread: str) -> float:
    k = next(_refs)
    t0 = time.perf_counter()
    state = await base.turn(thread, f"{TEXTS[k % len(TEXTS)]} (ref {k})")
    elapsed = time.perf_counter() - t0
    if state["messages"][-1].content != DEFAULT_ANSWER:
        raise RuntimeError("baseline turn did not end with the model's answer")
    return elapsed


async def baseline_storage(base: Baseline, turns: int, target: int) -> dict[str, Any]:
    """Run one thread for real; bytes after each of a few turn counts; extrapolate to `target`."""
    thread = f"storage-{uuid.uuid4().hex[:6]}"
    points: list[tuple[int, int]] = []
    marks = sorted({max(1, turns * k // 10) for k in range(1, 11)})
    started = time.perf_counter()
    for t in range(1, turns + 1):
        await base.turn(thread, TEXTS[t % len(TEXTS)])
        if t in marks:
            points.append((t, base.thread_bytes(thread)))
    out: dict[str, Any] = {"turns_run": turns, "points": points, "seconds": time.perf_counter() - started}
    if turns >= target:
        out["bytes_at_target"] = next(b for t, b in points if t == turns)
        out["extrapolated"] = False
    else:
        import numpy as np

        xs = np.array([t for t, _ in points], dtype=float)
        ys = np.array([b for _, b in points], dtype=float)
        coeffs = np.polyfit(xs, ys, 2)
        out["fit"] = [float(c) for c in coeffs]
        out["bytes_at_target"] = float(np.polyval(coeffs, target))
        out["extrapolated"] = True
    return out


# --- the benchmark ---------------------------------------------------------------------------------
async def run(
    bench_redis: BenchRedis,
    sizes: Sizes | None = None,
    shared: dict[str, Any] | None = None,
    *,
    results_dir: Path | None = None,
) -> BenchResult:
    sizes = sizes or Sizes()
    res = BenchResult(NUMBER, NAME)
    details: dict[str, Any] = {"sizes": asdict(sizes), "redis": bench_redis.description, "lengths": {}}
    res.details = details
    async with Stack.open(bench_redis, vector_memory=True) as stack:
        templates = await template_events(stack)
        plain = stack.agent(llm_brain(), memory=False)
        with_memory = stack.agent(llm_brain(), memory=True)
        instant_memory, instant = stack.instant_memory()
        with_instant_model = stack.agent(llm_brain(), memory=instant_memory)
        async with Baseline(stack, stack.bench_dealer.dir / "baseline.sqlite") as base:
            # set everything up first ...
            plan: list[tuple[str, int, Any]] = []  # (configuration, history, phone or thread), one per timed turn
            plain_customers: dict[int, list[tuple[str, str]]] = {}
            for history in sizes.lengths:
                row: dict[str, Any] = {}
                customers = await dealeros_customers(stack, plain, templates, history, sizes.customers, sizes.warmup)
                plain_customers[history] = customers
                _, cid = customers[0]  # bytes of a customer with `history` + warm-up exchanges
                row["dealeros_checkpoint_bytes"] = await stack.customer_bytes(cid, "ckpt:*")
                row["dealeros_customer_bytes"] = await stack.customer_bytes(cid)
                mem_customers = await dealeros_customers(
                    stack, with_memory, templates, history, sizes.memory_customers, sizes.warmup, visitor=True
                )
                await with_memory.services.drain()  # the memories of the warm-up turns are written
                row["dealeros_memory_customer_bytes"] = await stack.customer_bytes(mem_customers[0][1])
                threads = await baseline_threads(base, history, sizes.baseline_threads)
                plan += [("dealeros", history, customers[k % len(customers)][0]) for k in range(sizes.turns)]
                plan += [(config, history, mem_customers[k % len(mem_customers)][0])
                         for config in MEMORY_CONFIGS
                         for k in range(sizes.memory_turns)]  # fmt: skip
                plan += [("baseline", history, threads[k % len(threads)]) for k in range(sizes.baseline_turns)]
                details["lengths"][history] = row
            plan += [("embedding", 0, "") for _ in range(sizes.memory_turns)]
            # ... then time every configuration in one shuffled sequence: machine noise hits all alike
            random.Random(1).shuffle(plan)
            times: dict[tuple[str, int], list[float]] = {}
            recalls: dict[str, Counter[str]] = {config: Counter() for config in MEMORY_CONFIGS}
            for config, history, who in plan:
                if config == "baseline":
                    elapsed = await baseline_turn(base, who)
                elif config == "embedding":
                    elapsed = await embedding_alone(stack)
                elif config == "dealeros":
                    elapsed = await dealeros_turn(stack, plain, who)
                else:  # how each memory turn's recall went, read outside the clock
                    before = _recall_counts()
                    if config == "dealeros_with_memory_instant":
                        elapsed = await dealeros_turn(stack, with_instant_model, who, instant=instant, channel="chat")
                    elif config == "dealeros_with_memory_sms":
                        elapsed = await dealeros_turn(stack, with_memory, who, prepared=True)
                    else:
                        elapsed = await dealeros_turn(stack, with_memory, who, channel="chat")
                    recalls[config].update(_recall_counts() - before)
                times.setdefault((config, history), []).append(elapsed)
            details["recalls"] = {config: dict(counts) for config, counts in recalls.items()}
            details["instant_model"] = {"served_ready": instant.served_ready, "sent_to_model": instant.sent_to_model}
            for (config, history), samples in times.items():
                if config == "embedding":
                    details["embedding_alone"] = asdict(Stats.of(samples))
                else:
                    details["lengths"][history][config] = asdict(Stats.of(samples))
            details["baseline_storage"] = await baseline_storage(base, sizes.storage_turns, sizes.storage_target_turns)
        # The shuffle above puts other work (the baseline's turns, MiniLM) between DealerOS turns, as a
        # busy server would. For comparison, the same turns back to back, nothing else in between
        # (after a few untimed ones): how much of the figure the neighbouring work costs.
        longest = sizes.lengths[-1]
        await time_dealeros(stack, plain, plain_customers[longest], sizes.warmup * len(plain_customers[longest]))
        details["back_to_back"] = {
            "history": longest,
            "stats": asdict(Stats.of(await time_dealeros(stack, plain, plain_customers[longest], sizes.turns))),
        }
        # where a turn's time goes (a separate pass: the timers cost a little)
        details["breakdown"] = {}
        for label, memory in (("without vector memory", False), ("with vector memory", True)):
            with Breakdown() as bd:
                agent = stack.agent(llm_brain(), memory=memory)
                customers = await dealeros_customers(stack, agent, templates, longest, 2, sizes.warmup)
                bd.reset()
                await time_dealeros(stack, agent, customers, sizes.breakdown_turns)
            details["breakdown"][label] = asdict(bd.report(sizes.breakdown_turns))
        details["recall_vs_dealer_size"] = await recall_vs_dealer_size(stack, sizes)
        if sizes.profile:
            details["profile_file"] = str(await _pyinstrument(stack, templates, longest, results_dir))
    _summarize(res, sizes)
    return res


PROBE_SAYS = [
    "I want a blue RAV4 hybrid under 35k", "My trade is a 2015 Camry with 90k miles",
    "Can I come in Saturday morning for a test drive?", "What's my payoff if I refinance?",
    "The check engine light came on again after the last service", "Do you price match CarMax?",
    "My wife needs a third row, maybe a Highlander", "I only want to be texted after 5pm",
    "Is the Tacoma TRD Pro still on the lot?", "How much for new tires on a 2019 Corolla?",
]  # fmt: skip


async def recall_vs_dealer_size(stack: Stack, sizes: Sizes) -> dict[str, Any]:
    """One customer with 20 memories in a dealership of its own (a fresh collection and recall
    index); the collection grows (other customers, 20 memories each) to each of
    `sizes.dealer_memories`. At each size, recall for that customer is
    timed through the Redis recall index (what turns use) and through Chroma's customer filter
    (what they used before), interleaved. The other customers' vectors are real MiniLM vectors of
    varied customer texts with noise added (embedding tens of thousands of texts would take minutes);
    the probe customer's memories are embedded for real; each query, worded uniquely, is embedded by
    MiniLM before the clock starts and handed over by the zero-latency fake model (`InstantEncoder`),
    so what is timed is the search, not the model."""
    from memory.keys import Keys

    keys = Keys(f"{stack.dealer.id}-scale")
    try:
        return await _recall_vs_dealer_size(stack, sizes, keys)
    finally:  # this dealership's keys are not under the bench dealer's own pattern
        async for key in stack.raw.scan_iter(match=keys.scan_pattern(), count=1000):
            await stack.raw.unlink(key)


async def _recall_vs_dealer_size(stack: Stack, sizes: Sizes, keys: Any) -> dict[str, Any]:
    import numpy as np

    from memory.vectors import CustomerMemory, RecallIndex

    vectors, encoder = stack.instant_vectors()
    indexed = CustomerMemory(vectors, keys.dealer, recall_index=RecallIndex(stack.raw, keys))
    await indexed.backfill_recall_index()  # a fresh collection: the index is complete
    plain = CustomerMemory(vectors, keys.dealer)  # same collection, no index
    probe = f"probe{uuid.uuid4().hex[:8]}"
    at = dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)
    await indexed.remember_many(
        [{"customer_id": probe, "text": f"{text} (visit {i // len(PROBE_SAYS) + 1})", "channel": "sms",
          "at": at + dt.timedelta(minutes=i), "event_id": f"p{i}"} for i, text in enumerate(PROBE_SAYS * 2)]
    )  # fmt: skip
    seeds = np.asarray(indexed.index.embedder.embed([f"{t} — {c}" for t in PROBE_SAYS for c in TEXTS]), np.float32)
    rng = np.random.default_rng(7)
    collection = indexed.index._coll()
    out: dict[str, Any] = {"probe_memories": len(PROBE_SAYS) * 2, "sizes": {}}
    made = 0
    queries = itertools.count()
    for target in sizes.dealer_memories:
        total = await indexed.index.count()
        while total < target:  # other customers, 20 memories each, in batches Chroma accepts
            n = min(2_000, target - total)
            vectors = seeds[rng.integers(len(seeds), size=n)] + 0.25 * rng.standard_normal((n, 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            ids = [f"filler{made + i}" for i in range(n)]
            metas = [{"customer_id": f"other{(made + i) // 20}", "at_ts": made + i} for i in range(n)]
            collection.add(ids=ids, embeddings=vectors, documents=["(other customer)"] * n, metadatas=metas)
            made += n
            total += n
        samples: dict[str, list[float]] = {"index": [], "chroma_filter": []}
        empty = {"index": 0, "chroma_filter": 0}
        for k in range(sizes.recall_queries):
            text = f"{PROBE_SAYS[k % len(PROBE_SAYS)]} — what did they say about that? #{next(queries)}"
            for way, memory in (("index", indexed), ("chroma_filter", plain))[:: 1 if k % 2 else -1]:
                encoder.make_ready(f"{way} {text}")
                started = time.perf_counter()
                hits = await memory.recall(probe, f"{way} {text}", k=4)
                samples[way].append(time.perf_counter() - started)
                if any(h.metadata["customer_id"] != probe for h in hits):
                    raise RuntimeError(f"recall through {way} returned another customer's memory")
                if not hits:  # seen once from Chroma's filter at 40k memories: counted, not fatal
                    empty[way] += 1
        out["sizes"][str(total)] = {way: asdict(Stats.of(xs)) for way, xs in samples.items()}
        out["sizes"][str(total)]["empty_recalls"] = dict(empty)
    out["instant_model"] = {"served_ready": encoder.served_ready, "sent_to_model": encoder.sent_to_model}
    return out


async def _pyinstrument(stack: Stack, templates: list[Any], history: int, results_dir: Path | None) -> Path:
    from pyinstrument import Profiler

    from bench.common import RESULTS_DIR

    agent = stack.agent(llm_brain(), memory=False)
    customers = await dealeros_customers(stack, agent, templates, history, 2, 2)
    profiler = Profiler(async_mode="enabled", interval=0.0005)
    profiler.start()
    await time_dealeros(stack, agent, customers, 100)
    profiler.stop()
    out_dir = results_dir or RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"turn-profile-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.txt"
    path.write_text(profiler.output_text(unicode=False, color=False))
    return path


def _summarize(res: BenchResult, sizes: Sizes) -> None:
    rows = res.details["lengths"]
    for history, row in rows.items():
        d, b = (Stats(**row[k]) for k in ("dealeros", "baseline"))
        r = ratio(b.p50, d.p50)
        res.add(
            f"turn at {history} prior turns",
            d.brief(),
            f"p50 ≤ {TARGET_P50_MS:g} ms" + (f"; ≥ {TARGET_SPEEDUP:g}× baseline" if history == max(rows) else ""),
            b.brief(),
            fmt_ratio(r),
            met=d.p50 <= TARGET_P50_MS and (history != max(rows) or r >= TARGET_SPEEDUP),
        )
        # (JSON key, label, has the target): the target is on the runtime, so a row whose turn runs the
        # embedding model's inference is a comparison, as a turn with the LLM's latency would be
        variants = [
            ("dealeros_with_memory_instant",
             "  same, web chat, with vector memory (recall index): message embedded in the turn by a "
             "zero-latency fake embedding model", True),
            ("dealeros_with_memory",
             "  same, web chat, with vector memory: message embedded in the turn by the bundled MiniLM",
             "dealeros_with_memory_instant" not in row),  # JSON of runs before the fake embedding model
            ("dealeros_with_memory_sms",
             "  same, SMS, with vector memory: text embedded while its burst waited", True),
        ]  # fmt: skip
        for key, label, targeted in variants:
            if key not in row:
                continue
            m = Stats(**row[key])
            rm = ratio(b.p50, m.p50)
            res.add(
                label,
                m.brief(),
                f"p50 ≤ {TARGET_P50_MS:g} ms"
                if targeted
                else "for comparison (includes MiniLM's inference, timed alone below; the target is on the row above)",
                b.brief(),
                fmt_ratio(rm),
                met=m.p50 <= TARGET_P50_MS and (history != max(rows) or rm >= TARGET_SPEEDUP) if targeted else None,
            )
        warm = res.details.get("back_to_back") or {}
        if warm and int(warm["history"]) == int(history):
            w = Stats(**warm["stats"])
            res.add(
                "  same as the first row, turns back to back (nothing else run between them)",
                w.brief(),
                "for comparison (the target is on the first row)",
                "",
                "",  # the baseline above ran shuffled: no like-for-like ratio
                met=None,
            )
    if "embedding_alone" in res.details:
        e = Stats(**res.details["embedding_alone"])
        res.add(
            "  MiniLM alone: a turn's text embedded (in the same shuffle), which the MiniLM web-chat row includes",
            e.brief(),
            "for comparison (no target: the embedding model's own cost)",
            "",
            "",
            met=None,
        )
    longest = max(rows)
    row = rows[longest]
    storage = res.details["baseline_storage"]
    base_bytes = storage["bytes_at_target"]
    ckpt = row["dealeros_checkpoint_bytes"]
    # the customer of the vector-memory turns: its recall index holds its packed matrix too (kept for
    # an hour after a recall), so it stores the most
    total = max(row["dealeros_customer_bytes"], row.get("dealeros_memory_customer_bytes", 0))
    how = (
        f"extrapolated from {storage['turns_run']} real turns"
        if storage["extrapolated"]
        else f"{storage['turns_run']} real turns"
    )
    res.add(
        f"checkpoint bytes, {longest}-turn customer",
        fmt_bytes(ckpt),
        "",
        f"{fmt_bytes(base_bytes)} at {sizes.storage_target_turns} turns ({how})",
        fmt_ratio(ratio(base_bytes, ckpt), kind="smaller"),
        met=None,
    )
    res.add(
        f"all stored bytes, {longest}-turn customer",
        f"{fmt_bytes(total)} (timeline, profile, consent, checkpoints, recall index and its packed matrix)",
        f"≤ {fmt_bytes(TARGET_BYTES)}",
        fmt_bytes(base_bytes),
        fmt_ratio(ratio(base_bytes, total), kind="smaller"),
        met=total <= TARGET_BYTES,
    )
    scaling = res.details.get("recall_vs_dealer_size", {}).get("sizes", {})
    if scaling:
        smallest = scaling[min(scaling, key=int)]
        for total, figures in sorted(scaling.items(), key=lambda kv: int(kv[0])):
            ix, cf = Stats(**figures["index"]), Stats(**figures["chroma_filter"])
            empty = figures.get("empty_recalls", {})
            if any(empty.values()):
                res.notes.append(f"Memory recall at {int(total):,} memories returned nothing (of {ix.n}): {empty}.")
            grew = ratio(ix.p50, smallest["index"]["p50"])
            res.add(
                f"memory recall, 20-memory customer, {int(total):,} memories at the dealer (query vector "
                "from the zero-latency fake model)",
                f"{ix.brief()}; {grew:.1f}× the smallest",
                "flat as the dealership grows",
                f"Chroma filter {cf.brief()}; {ratio(cf.p50, smallest['chroma_filter']['p50']):.1f}× the smallest",
                fmt_ratio(ratio(cf.p50, ix.p50)),
                met=None,
            )
    bd = res.details["breakdown"]["without vector memory"]
    top = sorted(leaves(bd["stages"]), key=lambda s: -s["ms_per_turn"])[:5]
    res.notes.append(
        f"Per-turn breakdown at {longest} prior turns (no vector memory): {bd['wall_ms_per_turn']:.1f} ms wall, "
        f"{bd['cpu_ms_per_turn']:.1f} ms CPU, {bd['redis_round_trips_per_turn']:g} Redis round trips; "
        "largest leaf stages: "
        + "; ".join(f"{s['label']} {fmt_ms(s['ms_per_turn'])}" for s in top)
        + " (full table in the JSON)."
    )
