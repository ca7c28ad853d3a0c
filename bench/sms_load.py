"""Benchmark 2 — SMS under load: acknowledgement latency, and no duplicate, lost or reordered replies.

A real server process (`python -m bench.serve`, see `bench.fleet`: the product app, the fake model at
500 ms per call, one tool call per turn, so ~1 s of model time per turn) gets signed Twilio webhooks,
in two phases:

* **conversations** — 200 customers in conversation at once, each texting twice 8 s apart, starting at
  random moments over 8 s (≈ 25 webhooks/s with ~200 turns in flight), plus bursts from single numbers
  and Twilio-style retries (see `bench.sms_traffic`);
* **herd** — 200 customers' texts (and the bursts and retries) all within the same instant.

Replies go out through the dry-run sender; the audit reads them back from the timelines, the sender's
MessageSid index and its log. The server reports its event-loop lag and GC pauses per phase.

Baselines, same run, same traffic:
* **echo** — a bare FastAPI endpoint that checks the Twilio signature with the same code and answers
  `<Response/>`: the floor for a signed webhook on this machine. The ratio is DealerOS's cost over it
  (Redis burst bookkeeping, a processor task per number, and the turns running in the same process).
* **sync** — the product's runtime answering inside the webhook (the reply in the TwiML), the naive
  build: its acknowledgement waits for the model. Informational (conversations phase only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.common import BenchResult, Stats, fmt_ms, fmt_ratio, ratio
from bench.env import BenchDealer, BenchRedis
from bench.fleet import SMS_LATENCY_MS, fleet_for
from bench.procs import ServerProcess
from bench.sms_traffic import Audit, Plan, acks_by_second, audit, deliver, make_traffic, wait_for_replies

NUMBER = 2
NAME = "SMS under load"
TARGET_ACK_P99_MS = 100.0


def herd(customers: int = 200, bursts: int = 20) -> Plan:
    return Plan(customers=customers, texts=1, start_spread_s=0.0, burst_customers=bursts)


@dataclass
class Sizes:
    conversations: Plan = field(default_factory=Plan)
    herd: Plan | None = field(default_factory=herd)
    sync_baseline: bool = True


QUICK = Sizes(conversations=Plan(customers=50, texts=2, spacing_s=4.0, start_spread_s=4.0, burst_customers=5),
              herd=herd(50, 5))  # fmt: skip
TINY = Sizes(conversations=Plan(customers=3, texts=2, spacing_s=2.0, start_spread_s=0.5, burst_customers=1,
                                burst_texts=2, retry_every=3),
             herd=None, sync_baseline=False)  # fmt: skip


async def load(
    servers: list[ServerProcess],
    plan: Plan,
    bench_redis: BenchRedis,
    dealer: BenchDealer,
    workers: list[ServerProcess] | None = None,
) -> dict:
    """Deliver the plan's traffic to `servers`, wait for the replies, audit; with each server's event-loop
    summary for the phase. `workers` get no traffic; their logs (sends) and loops are part of the audit."""
    from redis.asyncio import Redis

    targets = servers
    servers = [*servers, *(workers or [])]
    for s in servers:
        await s.monitor_since_last()  # start the phase's window
    offsets = {s.name: s.log_size() for s in servers}
    traffic = make_traffic(plan, len(targets))
    delivery = await deliver(traffic, [s.base_url for s in targets])
    redis = Redis.from_url(bench_redis.url, decode_responses=True)
    try:
        waited = await wait_for_replies(redis, dealer.keys, traffic, plan.reply_timeout_s)
        result = await audit(redis, dealer.keys, traffic, [s.log_text() for s in servers])
    finally:
        await redis.aclose()
    return {
        "plan": asdict(plan),
        **delivery_details(delivery),
        "audit": asdict(result),
        "waited_for_replies_s": round(waited, 1),
        "servers": {s.name: await s.monitor_since_last() for s in servers},
        "server_errors": {s.name: s.errors_since(offsets[s.name]) for s in servers},
    }


def delivery_details(d: Any) -> dict[str, Any]:
    return {
        "ack": asdict(Stats.of(d.acks)),
        "ack_by_second": acks_by_second(d),
        "statuses": {str(k): v for k, v in d.statuses.items()},
        "errors": d.errors[:10],
        "seconds": round(d.seconds, 1),
    }


def servers_needed(sizes: Sizes) -> set[str]:
    return {"dealeros-a", "echo"} | ({"sync"} if sizes.sync_baseline else set())


async def run(bench_redis: BenchRedis, sizes: Sizes | None = None, shared: dict[str, Any] | None = None) -> BenchResult:
    sizes = sizes or Sizes()
    res = BenchResult(NUMBER, NAME)
    details: dict[str, Any] = {"model_latency_ms": SMS_LATENCY_MS, "phases": {}}
    res.details = details
    async with fleet_for(shared, bench_redis, servers_needed(sizes)) as fleet:
        product, echo = fleet["dealeros-a"], fleet["echo"]
        sync = fleet["sync"] if sizes.sync_baseline else None
        details["startup_s"] = fleet.startup_s()
        phases = [("conversations", sizes.conversations)] + ([("herd", sizes.herd)] if sizes.herd else [])
        for name, plan in phases:
            phase: dict[str, Any] = {"echo": delivery_details(await deliver(make_traffic(plan, 1), [echo.base_url]))}
            phase["dealeros"] = await load([product], plan, bench_redis, fleet.dealer)
            if sync is not None and name == "conversations":
                phase["sync"] = delivery_details(await deliver(make_traffic(plan, 1), [sync.base_url], timeout_s=120))
            details["phases"][name] = phase
    if shared is not None:
        shared["sms_single_process"] = details["phases"]["conversations"]["dealeros"]
    _summarize(res, sizes)
    return res


def ack_row(res: BenchResult, label: str, phase: dict[str, Any]) -> None:
    d = phase["dealeros"]
    ack, echo = Stats(**d["ack"]), Stats(**phase["echo"]["ack"])
    ok = set(d["statuses"]) == {"200"}
    res.add(
        label,
        ack.brief("p50", "p99") + ("" if ok else f"; HTTP {d['statuses']}"),
        f"p99 ≤ {TARGET_ACK_P99_MS:g} ms",
        "echo " + echo.brief("p50", "p99"),
        fmt_ratio(ratio(echo.p99, ack.p99)) + " (p99)",
        met=ok and ack.p99 <= TARGET_ACK_P99_MS,
    )


def audit_row(res: BenchResult, label: str, result: Audit) -> None:
    res.add(label, result.brief(), "0 / 0 / 0", "", "", met=result.clean)


def loop_note(name: str, servers: dict[str, Any]) -> str:
    parts = []
    for server, mon in servers.items():
        if mon:
            lag, gc = mon["loop_lag_ms"], mon["gc"]
            parts.append(
                f"{server}: event loop late by {fmt_ms(lag['p50'])} p50 / {fmt_ms(lag['p99'])} p99 / "
                f"{fmt_ms(lag['max'])} max ({lag['over_50ms']} stalls > 50 ms), GC {gc['collections']}× "
                f"max {fmt_ms(gc['max_ms'])}"
            )
    return f"{name}: " + "; ".join(parts)


def _summarize(res: BenchResult, sizes: Sizes) -> None:
    phases = res.details["phases"]
    conv = phases["conversations"]
    plan = sizes.conversations
    rate = (plan.customers * plan.texts + plan.burst_customers * plan.burst_texts) / max(
        plan.start_spread_s + (plan.texts - 1) * plan.spacing_s, 1
    )
    ack_row(res, f"SMS ack, {plan.customers} conversations (~{rate:.0f} texts/s)", conv)
    if "sync" in conv:
        ack, sync = Stats(**conv["dealeros"]["ack"]), Stats(**conv["sync"]["ack"])
        res.add(
            "  vs answering inside the webhook",
            ack.brief("p50", "p99"),
            "",
            "sync " + sync.brief("p50", "p99"),
            fmt_ratio(ratio(sync.p99, ack.p99)) + " (p99)",
        )
    audit_row(res, "  replies: duplicate / lost / out of order", Audit(**conv["dealeros"]["audit"]))
    lat = Stats(**conv["dealeros"]["audit"]["reply_latency"])
    res.add(
        "  reply sent after its turn's last text",
        lat.brief("p50", "p99"),
        "",
        f"1.5 s burst window + 2 × {SMS_LATENCY_MS:g} ms model",
        "",
    )
    if "herd" in phases:
        h = phases["herd"]
        customers = h["dealeros"]["plan"]["customers"]
        ack_row(res, f"SMS ack, herd: {customers} customers' texts at once", h)
        audit_row(res, "  replies: duplicate / lost / out of order", Audit(**h["dealeros"]["audit"]))
    for name, phase in phases.items():
        a = Audit(**phase["dealeros"]["audit"])
        res.notes.append(
            loop_note(f"SMS {name}", phase["dealeros"]["servers"])
            + f"; {a.bursts_as_one_turn}/{a.bursts} bursts answered as one turn"
        )
        if a.problems:
            res.notes.append(f"SMS {name} problems: " + "; ".join(a.problems[:5]))
        errors = {k: v for k, v in phase["dealeros"]["server_errors"].items() if v}
        if errors:
            res.notes.append(f"SMS {name}: the server logged {errors}")
        for base in ("echo", "sync"):
            if base in phase and set(phase[base]["statuses"]) != {"200"}:
                res.notes.append(f"SMS {name}: baseline {base!r} answered {phase[base]['statuses']} (expected 200)")
        if phase["dealeros"]["errors"]:
            res.notes.append(f"SMS {name} client errors: {phase['dealeros']['errors'][:3]}")
    res.notes.append(
        "SMS baselines: 'echo' = a bare FastAPI endpoint with the same Twilio signature check (the floor for a "
        "signed webhook here); 'sync' = the product's runtime answering inside the webhook."
    )
