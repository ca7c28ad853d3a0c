"""Benchmark 4 — the offline brain: turn latency through the real turn path, with embeddings.

DealerOS: `Agent.handle_turn` with `OfflineBrain(use_embeddings=True)` (warmed up), cross-channel
memory (embedded Chroma + the Redis recall index) with the bundled MiniLM embedder, the demo
inventory and knowledge indexed for semantic search — the embedded default `dealeros serve` runs
with no LLM configured. Customers hold short, realistic SMS conversations (inventory questions,
follow-ups about a unit, test drives and service bookings, hours and directions, financing and
trade-in, a human handoff); every message is worded uniquely, so the embedder's query cache can't make recall free.

Baseline, same run, same turns: a trivial echo brain in the same turn path, so the ratio isolates
what the offline brain itself costs.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.breakdown import STAGES, Breakdown, leaves
from bench.common import BenchResult, Stats, fmt_ms, fmt_ratio, ratio
from bench.env import BenchRedis
from bench.inproc import Stack, new_phone, sms

NUMBER = 4
NAME = "Offline brain turn latency"
TARGET_P95_MS = 50.0

CONVERSATIONS: list[list[str]] = [
    ["hi there", "any used tacomas under 35k?", "the silver one", "how many miles on it",
     "can I test drive it thursday morning", "yes please", "my name is Dana Ruiz"],
    ["do you have any RAV4 hybrids", "do you have it in blue", "is the 2nd one still available",
     "does it have carplay", "can I come see it tomorrow at 10am"],
    ["I need an oil change next monday after 3", "the first one works", "how much is an oil change",
     "thanks!"],
    ["are you open sunday", "what time does service close", "where are you",
     "how do I get there from the airport"],
    ["what's my 2016 accord worth", "it has about 80k miles", "do you finance",
     "can I get approved with bad credit"],
    ["got any trucks", "something with 3 rows for under 40", "whats the cheapest camry", "show me hybrids instead"],
    ["my brakes are squeaking", "I'd like to book a service appointment for saturday", "9am", "when is my appointment"],
    ["is stock T26101 still available", "what's the price", "does it have leather", "talk to a person"],
]  # fmt: skip


_BRAIN = [
    ("OfflineBrain.respond", 4, "agent.offline.brain:OfflineBrain.respond"),
    ("NLU classify (rules + entities)", 5, "agent.offline.brain:classify"),
    ("policy decide (flows, tools)", 5, "agent.offline.policy:decide"),
    ("example-utterance match (embedding)", 6, "agent.offline.nlu:ExampleIndex.nearest"),
    ("inventory semantic ranking", 6, "tools.inventory.search:_semantic_scores|tools.inventory:_semantic_scores"),
    ("knowledge search", 6, "agent.offline.info_flow:search_knowledge"),
    ("Chroma vector queries (embed + search: knowledge, inventory)", 3, "memory.vectors:VectorIndex.query"),
    ("all query embeddings (MiniLM, in a worker thread)", 3, "memory.embeddings:Embedder.embed_one"),
]
_AT = next(i for i, (_, _, target) in enumerate(STAGES) if target == "agent.graph:brain") + 1
OFFLINE_STAGES = STAGES[:_AT] + _BRAIN + STAGES[_AT:]


@dataclass
class Sizes:
    customers: int = 40  # each holds one of CONVERSATIONS (they rotate)
    warmup_customers: int = 4  # their turns are not measured


QUICK = Sizes(customers=10, warmup_customers=2)
TINY = Sizes(customers=1, warmup_customers=1)


class EchoBrain:
    """Baseline: answers with the customer's own words, costs nothing."""

    name = "echo"

    async def respond(self, inp: Any) -> Any:
        from agent.types import BrainOutput, Reply

        return BrainOutput(reply=Reply(text=f"You said: {inp.text[:200]}"), dialogue=dict(inp.dialogue),
                           brain="echo", intent="echo", prompt_version="echo")  # fmt: skip


_wording = itertools.count()


async def converse(stack: Stack, agent: Any, customers: int, *, offset: int = 0) -> tuple[list[float], list[Any]]:
    """Each customer holds one conversation; returns turn times and results. Every text is worded
    uniquely across the whole run (the embedder's query cache must not serve one brain's texts to the
    other)."""
    times, results = [], []
    for c in range(customers):
        phone = new_phone()
        script = CONVERSATIONS[(c + offset) % len(CONVERSATIONS)]
        for text in script:
            n = next(_wording)
            unique = f"{text} (#{n})"
            t0 = time.perf_counter()
            result = await agent.handle_turn(sms(stack.dealer.id, phone, unique))
            times.append(time.perf_counter() - t0)
            results.append(result)
            # the turn's background memory write lands before the next turn (off the clock): each turn
            # is measured on its own; the SMS and voice benchmarks measure turns competing
            await agent.services.drain()
    return times, results


async def run(bench_redis: BenchRedis, sizes: Sizes | None = None, shared: dict[str, Any] | None = None) -> BenchResult:
    from agent.offline import OfflineBrain

    sizes = sizes or Sizes()
    res = BenchResult(NUMBER, NAME)
    details: dict[str, Any] = {"sizes": asdict(sizes), "messages": sum(len(c) for c in CONVERSATIONS)}
    res.details = details
    async with Stack.open(bench_redis, vector_memory=True, index_catalog=True) as stack:
        brain = OfflineBrain(use_embeddings=True)
        brain.warm_up()
        offline = stack.agent(brain)
        echo = stack.agent(EchoBrain())
        await converse(stack, offline, sizes.warmup_customers, offset=3)
        await converse(stack, echo, sizes.warmup_customers, offset=3)
        # interleave the two brains customer by customer, so machine noise hits both alike
        off_times: list[float] = []
        echo_times: list[float] = []
        brains: dict[str, int] = {}
        for c in range(sizes.customers):
            t, results = await converse(stack, offline, 1, offset=c)
            off_times += t
            for r in results:
                brains[r.brain] = brains.get(r.brain, 0) + 1
            t, _ = await converse(stack, echo, 1, offset=c)
            echo_times += t
        details["offline"] = asdict(Stats.of(off_times))
        details["echo"] = asdict(Stats.of(echo_times))
        details["answered_by"] = brains
        # where an offline turn's time goes (a separate pass: the timers cost a little)
        with Breakdown(OFFLINE_STAGES) as bd:
            agent = stack.agent(OfflineBrain(use_embeddings=True))
            await converse(stack, agent, 1, offset=1)
            bd.reset()
            times, _ = await converse(stack, agent, len(CONVERSATIONS), offset=0)
        details["breakdown"] = asdict(bd.report(len(times)))
    _summarize(res)
    return res


def _summarize(res: BenchResult) -> None:
    d = res.details
    off, echo = Stats(**d["offline"]), Stats(**d["echo"])
    res.add(
        "offline-brain turn (embeddings, memory, real turn path)",
        off.brief("p50", "p95"),
        f"p95 ≤ {TARGET_P95_MS:g} ms",
        "echo brain " + echo.brief("p50", "p95"),
        fmt_ratio(ratio(echo.p95, off.p95)) + " (p95)",
        met=off.p95 <= TARGET_P95_MS,
    )
    res.add(
        "  the offline brain's own cost (p50 difference)",
        fmt_ms(off.p50 - echo.p50),
        "",
        "",
        "",
    )
    bd = d["breakdown"]
    top = sorted(leaves(bd["stages"]), key=lambda s: -s["ms_per_turn"])[:5]
    res.notes.append(
        f"Offline turn breakdown: {bd['wall_ms_per_turn']:.1f} ms wall, {bd['cpu_ms_per_turn']:.1f} ms CPU per turn; "
        + "; ".join(f"{s['label']} {fmt_ms(s['ms_per_turn'])}" for s in top)
        + " (full table in the JSON)."
    )
