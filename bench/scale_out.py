"""Benchmark 5 — scale-out: two API processes and one worker on one Redis, a customer's texts hitting both.

The production shape: two `python -m bench.serve --no-worker` processes (like `dealeros serve
--no-worker`: they acknowledge and queue) and one worker process (a `python -m bench.serve` that gets
no traffic; its worker loop is the `SmsChannel.run_worker` loop `dealeros worker` runs), all with the
fake model at 500 ms per call, sharing one Redis and one dealer. The conversations load of benchmark 2
is split across the two API processes so that consecutive texts of a customer, the parts of a burst
and a retry of a text all go to different processes. The per-number burst lease, the work list, the
per-customer lock and the idempotency keys must still give exactly one reply per turn, in order
(audited as in benchmark 2, over all three processes' sends).

Baseline: the same load on one ordinary process (`dealeros-a`, which answers its own texts) —
benchmark 2's figures when it ran in this invocation, else measured here before the split run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench import sms_load
from bench.common import BenchResult, Stats, fmt_ratio, ratio
from bench.env import BenchRedis
from bench.fleet import fleet_for
from bench.sms_load import load, loop_note
from bench.sms_traffic import Audit, Plan

NUMBER = 5
NAME = "Scale-out: two API processes and a worker, one Redis"


@dataclass
class Sizes:
    plan: Plan = field(default_factory=Plan)


# benchmark 2's conversations plans: its one-process figures are then this benchmark's baseline
QUICK = Sizes(plan=sms_load.QUICK.conversations)
TINY = Sizes(plan=sms_load.TINY.conversations)


async def run(bench_redis: BenchRedis, sizes: Sizes | None = None, shared: dict[str, Any] | None = None) -> BenchResult:
    sizes = sizes or Sizes()
    res = BenchResult(NUMBER, NAME)
    details: dict[str, Any] = {"plan": asdict(sizes.plan), "shape": "api-a + api-b (--no-worker) + worker"}
    res.details = details
    single = (shared or {}).get("sms_single_process")
    if single is not None and single.get("plan") != asdict(sizes.plan):
        single = None
    names = {"api-a", "api-b", "worker"} | ({"dealeros-a"} if single is None else set())
    async with fleet_for(shared, bench_redis, names) as fleet:
        details["startup_s"] = fleet.startup_s()
        if single is None:
            single = await load([fleet["dealeros-a"]], sizes.plan, bench_redis, fleet.dealer)
            details["single_source"] = "measured here on one process"
        else:
            details["single_source"] = "benchmark 2, same run"
        details["single"] = single
        details["split"] = await load(
            [fleet["api-a"], fleet["api-b"]], sizes.plan, bench_redis, fleet.dealer, workers=[fleet["worker"]]
        )
    _summarize(res)
    return res


def _summarize(res: BenchResult) -> None:
    d = res.details
    split, single = d["split"], d["single"]
    result = Audit(**split["audit"])
    ok = set(split["statuses"]) == {"200"}
    res.add(
        "2 API processes + 1 worker: replies duplicate / lost / out of order",
        result.brief() + ("" if ok else f"; HTTP {split['statuses']}"),
        "0 / 0 / 0",
        "1 process: " + Audit(**single["audit"]).brief().split(" — ")[0],
        "",
        met=result.clean and ok,
    )
    res.add(
        "  customers whose texts reached both API processes",
        f"{result.customers_on_both} of {d['plan']['customers'] + d['plan']['burst_customers']}",
        "",
        "",
        "",
    )
    ack, ack1 = Stats(**split["ack"]), Stats(**single["ack"])
    res.add(
        "  SMS ack across the 2 API processes",
        ack.brief("p50", "p99"),
        "",
        "1 process " + ack1.brief("p50", "p99"),
        fmt_ratio(ratio(ack1.p99, ack.p99)) + " (p99)",
    )
    lat, lat1 = Stats(**split["audit"]["reply_latency"]), Stats(**single["audit"]["reply_latency"])
    res.add(
        "  reply sent after its turn's last text",
        lat.brief("p50", "p99"),
        "",
        "1 process " + lat1.brief("p50", "p99"),
        fmt_ratio(ratio(lat1.p99, lat.p99)) + " (p99)",
    )
    res.notes.append(loop_note("Scale-out", split["servers"]) + f"; baseline: {d['single_source']}.")
    if result.problems:
        res.notes.append("Scale-out problems: " + "; ".join(result.problems[:5]))
    errors = {k: v for k, v in split["server_errors"].items() if v}
    if errors:
        res.notes.append(f"Scale-out: the servers logged {errors}")
