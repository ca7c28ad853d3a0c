"""The server processes of benchmarks 2, 3 and 5, started once (in parallel) and shared.

* `dealeros-a`, `dealeros-b` — the product (`python -m bench.serve`) on one Redis and one dealer: SMS
  (and any non-voice channel) with a fake model at 500 ms per call and one tool call per turn; voice
  with a streaming fake of 300 ms time to first token, calling the tool (in a zero-latency round) only
  when the caller mentions a stock number;
* `api-a`, `api-b`, `worker` — benchmark 5's production shape: two API-only processes (`--no-worker`,
  like `dealeros serve --no-worker`) that acknowledge and queue texts, and one process that receives no
  traffic and answers the queued texts with its worker loop (the `SmsChannel.run_worker` loop that
  `dealeros worker` runs), same fake models;
* `echo` — the bare signed-webhook endpoint (benchmark 2's floor);
* `sync` — the product answering SMS inside the webhook (benchmark 2's naive build), on its own dealer.

`python -m bench` starts the fleet the selected benchmarks need before the first of them and stops it
at the end; a benchmark run on its own starts (and stops) just the servers it needs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from bench.env import BenchDealer, BenchRedis
from bench.procs import ServerProcess, running

SMS_LATENCY_MS = 500.0
VOICE_TTFT_MS = 300.0
PRODUCT_ARGS = ["--latency-ms", str(SMS_LATENCY_MS), "--voice-latency-ms", str(VOICE_TTFT_MS),
                "--voice-tool-latency-ms", "0", "--voice-tool-when", "stock"]  # fmt: skip


@dataclass
class Fleet:
    bench_redis: BenchRedis
    dealer: BenchDealer
    sync_dealer: BenchDealer
    servers: dict[str, ServerProcess] = field(default_factory=dict)
    _stack: contextlib.AsyncExitStack | None = None

    def __getitem__(self, name: str) -> ServerProcess:
        return self.servers[name]

    @classmethod
    async def start(cls, bench_redis: BenchRedis, names: set[str]) -> Fleet:
        fleet = cls(bench_redis, BenchDealer.create(), BenchDealer.create())
        specs: dict[str, tuple[list[str], BenchDealer]] = {
            "dealeros-a": (PRODUCT_ARGS, fleet.dealer),
            "dealeros-b": (PRODUCT_ARGS, fleet.dealer),
            "api-a": ([*PRODUCT_ARGS, "--no-worker"], fleet.dealer),
            "api-b": ([*PRODUCT_ARGS, "--no-worker"], fleet.dealer),
            "worker": (PRODUCT_ARGS, fleet.dealer),
            "echo": (["--mode", "echo"], fleet.dealer),
            "sync": (["--mode", "sync", *PRODUCT_ARGS], fleet.sync_dealer),
        }
        for name in sorted(names):
            args, dealer = specs[name]
            fleet.servers[name] = ServerProcess(name, args, dealer.dir / name, bench_redis.url, dealer.config_path)
        fleet._stack = contextlib.AsyncExitStack()
        try:
            await fleet._stack.enter_async_context(running(*fleet.servers.values()))
        except BaseException:
            await fleet.close()
            raise
        return fleet

    def startup_s(self) -> dict[str, float]:
        return {name: round(s.started_s, 1) for name, s in self.servers.items()}

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
        await self.dealer.cleanup(self.bench_redis.url)
        await self.sync_dealer.cleanup(self.bench_redis.url)


@contextlib.asynccontextmanager
async def fleet_for(shared: dict[str, Any] | None, bench_redis: BenchRedis, names: set[str]) -> AsyncIterator[Fleet]:
    """The run's shared fleet when it has these servers, else a private one for this benchmark."""
    fleet = (shared or {}).get("fleet")
    if fleet is not None and names <= set(fleet.servers):
        yield fleet
        return
    fleet = await Fleet.start(bench_redis, names)
    try:
        yield fleet
    finally:
        await fleet.close()
