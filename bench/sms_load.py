"""Benchmark 2 — SMS under load: acknowledgement latency, and no duplicate, lost or reordered replies.

A real server process (`python -m bench.serve`: the product app, the fake model at 500 ms per call, one
tool call per turn, so ~1 s of model time per turn) gets signed Twilio webhooks from `customers`
numbers at once, bursts from single numbers and Twilio-style retries (see `bench.sms_traffic`). The
replies go out through the dry-run sender; the audit reads them back from the timelines, the sender's
MessageSid index and its log.

Baselines, same run, same traffic:
* **echo** — a bare FastAPI endpoint that checks the Twilio signature with the same code and answers
  `<Response/>`: the floor for a signed webhook on this machine. The ratio is DealerOS's cost over it
  (Redis burst bookkeeping, a processor task per number, and 200 turns running in the same process).
* **sync** — the product's runtime answering inside the webhook (the reply in the TwiML), the naive
  build: its acknowledgement waits for the model. Informational.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.common import BenchResult, Stats, fmt_ratio, ratio
from bench.env import BenchDealer, BenchRedis
from bench.procs import ServerProcess, running
from bench.sms_traffic import Audit, Plan, audit, deliver, make_traffic, wait_for_replies

NUMBER = 2
NAME = "SMS under load"
TARGET_ACK_P99_MS = 100.0


@dataclass
class Sizes:
    plan: Plan = field(default_factory=Plan)
    latency_ms: float = 500.0
    sync_baseline: bool = True


QUICK = Sizes(plan=Plan(customers=50, texts=2, burst_customers=5))
TINY = Sizes(plan=Plan(customers=3, texts=2, spacing_s=2.0, burst_customers=1, burst_texts=2, retry_every=3),
             sync_baseline=False)  # fmt: skip


async def load(servers: list[ServerProcess], plan: Plan, bench_redis: BenchRedis, dealer: BenchDealer):
    """Deliver the plan's traffic to `servers`, wait for the replies, audit. Returns (delivery, audit)."""
    from redis.asyncio import Redis

    traffic = make_traffic(plan, len(servers))
    delivery = await deliver(traffic, [s.base_url for s in servers])
    redis = Redis.from_url(bench_redis.url, decode_responses=True)
    try:
        waited = await wait_for_replies(redis, dealer.keys, traffic, plan.reply_timeout_s)
        result = await audit(redis, dealer.keys, traffic, [s.log_text() for s in servers])
    finally:
        await redis.aclose()
    return delivery, result, waited


def server_args(sizes: Sizes) -> list[str]:
    return ["--latency-ms", str(sizes.latency_ms)]


async def run(bench_redis: BenchRedis, sizes: Sizes | None = None, shared: dict[str, Any] | None = None) -> BenchResult:
    sizes = sizes or Sizes()
    res = BenchResult(NUMBER, NAME)
    dealer, sync_dealer = BenchDealer.create(), BenchDealer.create()
    product = ServerProcess("dealeros", server_args(sizes), dealer.dir / "dealeros", bench_redis.url, dealer.config_path)
    echo = ServerProcess("echo", ["--mode", "echo"], dealer.dir / "echo", bench_redis.url, dealer.config_path)
    servers = [product, echo]
    sync = None
    if sizes.sync_baseline:
        sync = ServerProcess("sync", ["--mode", "sync", *server_args(sizes)], sync_dealer.dir / "sync",
                             bench_redis.url, sync_dealer.config_path)  # fmt: skip
        servers.append(sync)
    details: dict[str, Any] = {"plan": asdict(sizes.plan), "model_latency_ms": sizes.latency_ms}
    res.details = details
    try:
        async with running(*servers):
            details["startup_s"] = {s.name: round(s.started_s, 1) for s in servers}
            echo_traffic = make_traffic(sizes.plan, 1)
            echo_delivery = await deliver(echo_traffic, [echo.base_url])
            delivery, result, waited = await load([product], sizes.plan, bench_redis, dealer)
            if sync is not None:
                sync_delivery = await deliver(make_traffic(sizes.plan, 1), [sync.base_url], timeout_s=120)
                details["sync"] = _delivery(sync_delivery)
            details["echo"] = _delivery(echo_delivery)
            details["dealeros"] = _delivery(delivery)
            details["audit"] = asdict(result)
            details["waited_for_replies_s"] = round(waited, 1)
    finally:
        await dealer.cleanup(bench_redis.url)
        await sync_dealer.cleanup(bench_redis.url)
    if shared is not None:
        shared["sms_single_process"] = {"plan": asdict(sizes.plan), "ack": details["dealeros"]["ack"],
                                        "reply_latency": details["audit"]["reply_latency"]}  # fmt: skip
    _summarize(res, sizes, result)
    return res


def _delivery(d: Any) -> dict[str, Any]:
    return {
        "ack": asdict(Stats.of(d.acks)),
        "statuses": {str(k): v for k, v in d.statuses.items()},
        "errors": d.errors[:10],
        "seconds": d.seconds,
    }


def _summarize(res: BenchResult, sizes: Sizes, result: Audit) -> None:
    d = res.details
    ack, echo = Stats(**d["dealeros"]["ack"]), Stats(**d["echo"]["ack"])
    all_ok = set(d["dealeros"]["statuses"]) == {"200"}
    plan = sizes.plan
    res.add(
        f"SMS webhook ack ({plan.customers} customers at once, bursts, retries)",
        ack.brief("p50", "p99") + ("" if all_ok else f" statuses {d['dealeros']['statuses']}"),
        f"p99 ≤ {TARGET_ACK_P99_MS:g} ms",
        "echo webhook " + echo.brief("p50", "p99"),
        fmt_ratio(ratio(echo.p99, ack.p99)) + " (p99)",
        met=all_ok and ack.p99 <= TARGET_ACK_P99_MS,
    )
    if "sync" in d:
        sync = Stats(**d["sync"]["ack"])
        res.add(
            "  vs answering inside the webhook (naive build)",
            ack.brief("p50", "p99"),
            "",
            "sync webhook " + sync.brief("p50", "p99"),
            fmt_ratio(ratio(sync.p99, ack.p99)) + " (p99)",
        )
    res.add(
        "replies: duplicate / lost / out of order",
        result.brief(),
        "0 / 0 / 0",
        "",
        "",
        met=result.clean,
    )
    lat = Stats(**result.reply_latency)
    res.add(
        "reply sent after the last text of its turn",
        lat.brief("p50", "p99"),
        "",
        f"1.5 s burst window + 2 × {sizes.latency_ms:g} ms model",
        "",
    )
    res.notes.append(
        f"SMS: {result.bursts_as_one_turn}/{result.bursts} bursts answered as one turn; "
        f"{result.inbound_reordered} customers' texts stored in another order than sent (client-side timing, "
        "not the runtime). Baseline 'echo' = a bare FastAPI endpoint with the same Twilio signature check; "
        "'sync' = the product's runtime answering inside the webhook."
    )
    for name in ("echo", "sync"):
        if name in d and set(d[name]["statuses"]) != {"200"}:
            res.notes.append(f"SMS baseline {name!r} answered {d[name]['statuses']} (expected all 200)")
    if result.problems:
        res.notes.append("SMS problems: " + "; ".join(result.problems[:5]))


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(run(BenchRedis.open(None)))
