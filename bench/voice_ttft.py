"""Benchmark 3 — voice: from a ConversationRelay `prompt` to the first `text` token, minus the model's TTFT.

A real server process (`python -m bench.serve`, see `bench.fleet`: the product app) gives voice calls
a streaming fake model whose answer starts exactly 300 ms after it is called and then streams word by
word with no gap (so the sentence-level stream guard forwards the first sentence as soon as the
model has produced it); a prompt that mentions a stock number first makes one tool call, in a tool
round of zero latency.
Calls are real websockets (`/twilio/relay`, handshake signed over the public `wss://` URL like Twilio
signs it): `setup`, then prompts one after the other, each waited out to its `last` token — with 1, 4
and 10 calls in progress at once (each level its own row: the runtime's share of a turn is CPU, and
calls share one process and one embedder). Callers behave like callers: the calls that have a line
start at random moments within the first second (later ones when a line frees), and a caller's next
utterance comes a random 0.1-0.9 s after the previous reply ended (seeded, so every run draws the
same times). One more row is the worst case
kept on purpose: 10 calls started in the same millisecond with a fixed 0.1 s pause, so their
prompts stay in lockstep and every prompt arrives together with nine others (a burst the event loop
works through one turn at a time).

Overhead = (first non-empty `text` token received − `prompt` sent) − 300 ms: everything the runtime does
before the model's first token reaches the caller (identity, idempotency, lock, timeline, context
and memory recall, the graph, the guards, the websocket). Voice waits for its memory recall only a
few milliseconds past the rest of the context (`Services.recall_budget`), and not at all while
fewer than 1 in 4 of the channel's recent recalls were back in time (`Services.recall_odds`); the
notes count how many
prompts got their own recall ("fresh"), the caller's previous one, or none (from the server's
`/metrics`). Baseline, same run: the fake model's own
time to first token measured directly (`astream`), as many at once as the largest level.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.common import BenchResult, Stats, fmt_ms, fmt_ratio, ratio
from bench.env import BenchRedis
from bench.fakes import FixedLatencyChatModel
from bench.fleet import VOICE_TTFT_MS, fleet_for
from bench.inproc import new_phone
from bench.procs import AUTH_TOKEN, PUBLIC_URL

NUMBER = 3
NAME = "Voice first token"
TTFT_MS = VOICE_TTFT_MS
TARGET_P95_OVERHEAD_MS = 30.0
DEALER_NUMBER = "+18135550142"
DIRECT = [
    "Hi, are you open today?",
    "What's your address?",
    "Do you have any trucks on the lot?",
    "How late is service open on Saturday?",
    "Can I bring my own financing?",
]
WITH_TOOL = ["Is stock T26101 still available?", "What's the price on stock T26101?"]


@dataclass
class Sizes:
    levels: tuple[int, ...] = (1, 4, 10)  # calls in progress at once
    calls: int = 6  # calls per level (at least the level)
    prompts: int = 10  # per call, alternating direct / with a tool call
    pause_s: tuple[float, float] = (0.1, 0.9)  # the caller's next prompt this long after a reply ended
    start_spread_s: float = 1.0  # the first `concurrent` calls start at random moments within this
    lockstep: tuple[int, ...] = (10,)  # ... and these many calls started together, pause fixed at the minimum
    concurrent: int = 1  # used by `calls()`: set per level


QUICK = Sizes(levels=(1, 4), calls=4, prompts=6, lockstep=(4,))
TINY = Sizes(levels=(1,), calls=1, prompts=2, pause_s=(0.05, 0.1), start_spread_s=0.1, lockstep=(1,))


async def call(base_url: str, prompts: list[str], pauses: list[float], start_s: float = 0.0) -> list[dict[str, Any]]:
    """One phone call over ConversationRelay; per prompt: first-token and last-token times."""
    from twilio.request_validator import RequestValidator
    from websockets.asyncio.client import connect

    from channels.twilio_common import RELAY_PATH, websocket_url

    public = websocket_url(PUBLIC_URL, RELAY_PATH)
    headers = {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(public, {})}
    url = base_url.replace("http://", "ws://") + RELAY_PATH
    call_sid = "CA" + secrets.token_hex(16)
    phone = new_phone()
    out = []
    await asyncio.sleep(start_s)
    async with connect(url, additional_headers=headers, open_timeout=30) as ws:
        await ws.send(json.dumps({
            "type": "setup", "sessionId": "VX" + secrets.token_hex(16), "accountSid": "AC" + "0" * 32,
            "callSid": call_sid, "from": phone, "to": DEALER_NUMBER, "direction": "inbound",
            "customParameters": {"caller": phone, "call_sid": call_sid},
        }))  # fmt: skip
        for text, pause_s in zip(prompts, pauses, strict=True):
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "prompt", "voicePrompt": text, "lang": "en-US", "last": True}))
            first = None
            tokens = []
            async with asyncio.timeout(30):
                while True:
                    msg = json.loads(await ws.recv())
                    if msg.get("type") == "text":
                        if msg.get("token") and first is None:
                            first = time.perf_counter() - t0
                        tokens.append(msg.get("token", ""))
                        if msg.get("last"):
                            break
                    elif msg.get("type") == "end":
                        break
            out.append({"kind": "tool" if "stock" in text else "direct", "first_s": first,
                        "last_s": time.perf_counter() - t0, "text": "".join(tokens)})  # fmt: skip
            await asyncio.sleep(pause_s)
    return out


async def calls(base_url: str, sizes: Sizes, *, lockstep: bool = False, seed: int = 0) -> list[dict[str, Any]]:
    """`sizes.calls` calls, `sizes.concurrent` in progress at once. Callers' start times and pauses
    are drawn from `seed`; `lockstep`: all start at once and pause the minimum, every time."""
    gate = asyncio.Semaphore(sizes.concurrent)
    rng = random.Random(seed)
    low, high = sizes.pause_s
    plans = [
        (0.0 if lockstep or i >= sizes.concurrent else rng.uniform(0, sizes.start_spread_s),
         [low if lockstep else rng.uniform(low, high) for _ in range(sizes.prompts)])
        for i in range(sizes.calls)
    ]  # fmt: skip

    async def one(i: int) -> list[dict[str, Any]]:
        # unique wording per prompt: the embedder's query cache must not make recall free
        prompts = [(DIRECT[(i + k) % len(DIRECT)] if k % 2 == 0 else WITH_TOOL[(i + k) % len(WITH_TOOL)])
                   + f" This is caller {i} again, question {k}." for k in range(sizes.prompts)]  # fmt: skip
        start_s, pauses = plans[i]
        async with gate:  # a call waiting for a free line starts when one ends
            return await call(base_url, prompts, pauses, start_s)

    results = await asyncio.gather(*(one(i) for i in range(sizes.calls)))
    return [r for rs in results for r in rs]


async def voice_recalls(base_url: str) -> dict[str, int]:
    """The server's voice memory-recall outcomes so far (its `/metrics`): fresh (this prompt's own
    recall made the budget), previous (the caller's last recall was used), none."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    out: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "dealeros_memory_recall_total" and sample.labels.get("channel") == "voice":
                out[sample.labels["outcome"]] = int(sample.value)
    return out


async def model_ttft(samples: int, concurrent: int) -> list[float]:
    """The fake model's own time to first chunk, called directly (`astream`), `concurrent` at a time."""
    from langchain_core.messages import HumanMessage

    model = FixedLatencyChatModel(latency_s=TTFT_MS / 1000)
    out: list[float] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            t0 = time.perf_counter()
            async for _chunk in model.astream([HumanMessage("Hi, are you open today?")]):
                out.append(time.perf_counter() - t0)
                break
            await asyncio.sleep(0.05)

    per = max(1, samples // concurrent)
    await asyncio.gather(*(worker(per) for _ in range(concurrent)))
    return out


async def run(bench_redis: BenchRedis, sizes: Sizes | None = None, shared: dict[str, Any] | None = None) -> BenchResult:
    sizes = sizes or Sizes()
    res = BenchResult(NUMBER, NAME)
    details: dict[str, Any] = {"sizes": asdict(sizes), "ttft_ms": TTFT_MS, "levels": {}}
    res.details = details
    async with fleet_for(shared, bench_redis, {"dealeros-a"}) as fleet:
        server = fleet["dealeros-a"]
        details["startup_s"] = fleet.startup_s()
        warm_up = Sizes(calls=1, prompts=2, pause_s=(0.05, 0.05), start_spread_s=0)
        await calls(server.base_url, warm_up)
        runs = [("levels", level, False) for level in sizes.levels]
        runs += [("lockstep", level, True) for level in sizes.lockstep]
        for group, level, lockstep in runs:
            level_sizes = Sizes(calls=max(sizes.calls, level), concurrent=level, prompts=sizes.prompts,
                                pause_s=sizes.pause_s, start_spread_s=sizes.start_spread_s)  # fmt: skip
            details.setdefault(group, {})[level] = await _level(server, level_sizes, lockstep=lockstep, seed=level)
    baseline = await model_ttft(100 if max(sizes.levels) > 1 else 4, max(sizes.levels))
    details["baseline_model_ttft"] = asdict(Stats.of(baseline))
    _summarize(res)
    return res


async def _level(server: Any, sizes: Sizes, *, lockstep: bool, seed: int) -> dict[str, Any]:
    await server.monitor_since_last()
    recalls_before = await voice_recalls(server.base_url)
    samples = await calls(server.base_url, sizes, lockstep=lockstep, seed=seed)
    row: dict[str, Any] = {"server": await server.monitor_since_last()}
    after = await voice_recalls(server.base_url)
    row["recall"] = {k: after.get(k, 0) - recalls_before.get(k, 0) for k in after}
    row["no_token"] = sum(1 for s in samples if s["first_s"] is None)
    row["example_reply"] = next((s["text"] for s in samples if s["text"]), "")
    for kind in ("direct", "tool"):
        firsts = [s["first_s"] for s in samples if s["kind"] == kind and s["first_s"] is not None]
        row[kind] = {
            "first_token": asdict(Stats.of(firsts)),
            "overhead": asdict(Stats.of([f - TTFT_MS / 1000 for f in firsts])),
            "last_token": asdict(Stats.of([s["last_s"] for s in samples if s["kind"] == kind])),
        }
    return row


def _summarize(res: BenchResult) -> None:
    d = res.details
    base = Stats(**d["baseline_model_ttft"])
    base_text = f"model TTFT {base.brief('p50', 'p95')}, i.e. {fmt_ms(base.p95 - TTFT_MS)} over 300 ms at p95"
    target = f"p95 ≤ {TARGET_P95_OVERHEAD_MS:g} ms"

    def add(figure: str, row: dict[str, Any], kind: str, target: str, met: bool | None) -> None:
        over, first = Stats(**row[kind]["overhead"]), Stats(**row[kind]["first_token"])
        res.add(figure, over.brief("p50", "p95"), target, base_text,
                fmt_ratio(ratio(base.p95, first.p95)) + " (first token p95)",
                met=None if met is None else met and over.p95 <= TARGET_P95_OVERHEAD_MS)  # fmt: skip

    def calls_text(level: Any) -> str:
        return f"{level} call{'s' if int(level) != 1 else ''}"

    for level, row in d["levels"].items():
        answered = not row["no_token"]
        add(f"voice prompt → first token, overhead over 300 ms TTFT, {calls_text(level)} at once"
            " (prompts without a tool round)", row, "direct", target, answered)  # fmt: skip
        add("  same, prompts answered after one tool round (a second model call)", row, "tool", target, answered)
    for level, row in d.get("lockstep", {}).items():
        add(f"  worst case: {calls_text(level)} in lockstep, every prompt arriving together with "
            f"{int(level) - 1} others", row, "direct", "stress figure (no target)", None)  # fmt: skip
    notes = []
    runs = [(f"{level} at once", row) for level, row in d["levels"].items()]
    runs += [(f"{level} in lockstep", row) for level, row in d.get("lockstep", {}).items()]
    for label, row in runs:
        tool = Stats(**row["tool"]["overhead"])
        lag = (row.get("server") or {}).get("loop_lag_ms") or {}
        recall = row.get("recall") or {}
        recall_text = ", ".join(f"{recall.get(k, 0)} {k}" for k in ("fresh", "previous", "none"))
        notes.append(
            f"{label}: after one tool call {tool.brief('p50', 'p95')}; server loop late "
            f"{fmt_ms(lag.get('p99', float('nan')))} p99; {row['no_token']} prompts without a token; "
            f"memory recall {recall_text}"
        )
    res.notes.append("Voice: " + " | ".join(notes))
