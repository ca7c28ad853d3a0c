"""Where a DealerOS turn's time goes: inclusive wall time per stage, Redis round trips, CPU time.

`Breakdown` wraps the turn path's stages (identity, idempotency, lock, graph nodes, checkpointer,
brain rounds, tool) with timers for as long as it is active, and counts Redis round trips (commands
and pipelines) made through redis-py's asyncio client. Build the `Agent` *inside* the block: the
graph's nodes are looked up when the graph is compiled. Timers cost a few microseconds per stage;
use it for a separate pass, not for the timed figures.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

# (label, depth, "module:Class.attr" or "module:function", alternatives separated by "|": the first that
# exists is timed, none is skipped and listed in the report); depth only indents the report.
STAGES: list[tuple[str, int, str]] = [
    ("handle_turn (total)", 0, "agent.turn:Agent.handle_turn"),
    ("resolve customer (identity index + profile reads)", 1, "agent.turn:Agent.resolve"),
    ("customer lock wait (only when the first try finds it taken)", 1, "memory.locks:CustomerLocks.acquire"),
    ("locked turn", 1, "agent.turn:Agent._locked_turn"),
    ("queue inbound event(s) + first reads (sent in one round trip)", 2, "agent.turn:_queue_inbound_events"),
    ("TurnRunner.run (graph nodes + checkpoint load/save)", 2, "agent.graph:TurnRunner.run"),
    (
        "checkpointer aget_tuple (when another process wrote last)",
        3,
        "memory.checkpoint:AsyncRedisCheckpointSaver.aget_tuple",
    ),
    ("checkpoint queued (put_on)", 3, "memory.checkpoint:AsyncRedisCheckpointSaver.put_on"),
    ("node load_context", 3, "agent.graph:load_context"),
    ("timeline window read", 4, "memory.timeline:Timeline.read"),
    ("memory recall (embed + recall-index search)", 4, "memory.vectors:CustomerMemory.recall"),
    ("node inbound_guard", 3, "agent.graph:inbound_guard"),
    ("consent reply_blocked (ledger read)", 4, "agent.consent_flow:reply_blocked"),
    ("handoff human_owns", 4, "tools.handoff:HandoffStore.human_owns"),
    ("node brain", 3, "agent.graph:brain"),
    ("LLMBrain.build_messages", 4, "agent.llm:LLMBrain.build_messages"),
    ("LLMBrain._round (model call, 2 per turn)", 4, "agent.llm:LLMBrain._round"),
    ("LLMBrain._call_tool (get_vehicle_details)", 4, "agent.llm:LLMBrain._call_tool"),
    ("node outbound_guard", 3, "agent.graph:outbound_guard"),
    ("node persist", 3, "agent.graph:persist"),
    ("Services.persist_turn (outbound event queued)", 4, "agent.turn:Services.persist_turn"),
    ("checkpoint prune (aprune_thread)", 2, "memory.checkpoint:AsyncRedisCheckpointSaver.aprune_thread"),
]


@dataclass
class StageTime:
    label: str
    depth: int
    target: str
    ms_per_turn: float
    calls_per_turn: float


@dataclass
class Report:
    turns: int
    wall_ms_per_turn: float
    cpu_ms_per_turn: float
    redis_round_trips_per_turn: float
    redis_commands: dict[str, float] = field(default_factory=dict)  # per turn, by command
    stages: list[StageTime] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # stages whose code was not found (moved or renamed)

    def lines(self) -> list[str]:
        out = [
            f"{self.turns} turns: {self.wall_ms_per_turn:.2f} ms wall, {self.cpu_ms_per_turn:.2f} ms CPU per turn; "
            f"{self.redis_round_trips_per_turn:.1f} Redis round trips per turn"
        ]
        for s in self.stages:
            out.append(f"{'  ' * s.depth}{s.ms_per_turn:7.2f} ms  {s.label}  [{s.target}, {s.calls_per_turn:g}×]")
        return out


def leaves(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stages with no sub-stage listed under them (their times don't overlap each other's)."""
    return [s for i, s in enumerate(stages) if i + 1 == len(stages) or stages[i + 1]["depth"] <= s["depth"]]


def _resolve(target: str) -> tuple[Any, str] | None:
    for alternative in target.split("|"):
        module_name, _, path = alternative.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
            *parents, attr = path.split(".")
            for p in parents:
                owner = getattr(owner, p)
            if attr in (owner.__dict__ if isinstance(owner, type) else dir(owner)):
                return owner, attr
        except (ImportError, AttributeError):
            continue
    return None


class Breakdown:
    """Context manager; `report(turns)` after the turns ran inside it."""

    def __init__(self, stages: list[tuple[str, int, str]] | None = None) -> None:
        self.stages = stages or STAGES
        self.totals: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.redis_commands: dict[str, int] = defaultdict(int)
        self._patched: list[tuple[Any, str, Any]] = []
        self._active: dict[str, int] = defaultdict(int)  # recursion guard: time the outermost call only
        self.missing: list[str] = []

    def _wrap(self, target: str, fn: Any) -> Any:
        totals, calls, active = self.totals, self.calls, self._active

        async def timed(awaitable: Any) -> Any:
            t0 = time.perf_counter()
            active[target] += 1
            try:
                return await awaitable
            finally:
                active[target] -= 1
                if not active[target]:
                    totals[target] += time.perf_counter() - t0
                    calls[target] += 1

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                return await timed(fn(*args, **kwargs))

            return wrapper

        @functools.wraps(fn)
        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):  # e.g. redis Lock.release returns a coroutine
                return timed(result)
            totals[target] += time.perf_counter() - t0
            calls[target] += 1
            return result

        return sync_wrapper

    def __enter__(self) -> Breakdown:
        import redis.asyncio.client as rc

        for _, _, target in self.stages:
            found = _resolve(target)
            if found is None:  # the code moved: report it rather than fail the benchmark
                self.missing.append(target)
                continue
            owner, attr = found
            original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
            self._patched.append((owner, attr, original))
            setattr(owner, attr, self._wrap(target, original))
        commands = self.redis_commands

        execute_command = rc.Redis.execute_command
        pipeline_execute = rc.Pipeline.execute
        immediate = rc.Pipeline.immediate_execute_command

        @functools.wraps(execute_command)
        async def counted_command(client: Any, *args: Any, **options: Any) -> Any:
            commands[str(args[0]).upper()] += 1
            return await execute_command(client, *args, **options)

        @functools.wraps(pipeline_execute)
        async def counted_pipeline(pipe: Any, *args: Any, **kwargs: Any) -> Any:
            commands["(pipeline/transaction)"] += 1
            return await pipeline_execute(pipe, *args, **kwargs)

        @functools.wraps(immediate)
        async def counted_immediate(pipe: Any, *args: Any, **options: Any) -> Any:
            commands[str(args[0]).upper()] += 1  # WATCH and the reads between WATCH and MULTI
            return await immediate(pipe, *args, **options)

        self._patched += [
            (rc.Redis, "execute_command", execute_command),
            (rc.Pipeline, "execute", pipeline_execute),
            (rc.Pipeline, "immediate_execute_command", immediate),
        ]
        rc.Redis.execute_command = counted_command  # type: ignore[method-assign,assignment]
        rc.Pipeline.execute = counted_pipeline  # type: ignore[method-assign,assignment]
        rc.Pipeline.immediate_execute_command = counted_immediate  # type: ignore[method-assign,assignment]
        self._t0 = time.perf_counter()
        self._cpu0 = time.process_time()
        return self

    def reset(self) -> None:
        """Forget what was measured so far (e.g. set-up turns run inside the block)."""
        self.totals.clear()
        self.calls.clear()
        self.redis_commands.clear()
        self._t0 = time.perf_counter()
        self._cpu0 = time.process_time()

    def __exit__(self, *exc: Any) -> None:
        self._wall = time.perf_counter() - self._t0
        self._cpu = time.process_time() - self._cpu0
        for owner, attr, original in reversed(self._patched):
            setattr(owner, attr, original)
        self._patched.clear()

    def report(self, turns: int) -> Report:
        n = max(turns, 1)
        stages = [
            StageTime(label, depth, target, self.totals[target] * 1000 / n, round(self.calls[target] / n, 2))
            for label, depth, target in self.stages
            if self.calls.get(target)
        ]
        round_trips = sum(self.redis_commands.values()) / n
        return Report(
            turns=turns,
            wall_ms_per_turn=self._wall * 1000 / n,
            cpu_ms_per_turn=self._cpu * 1000 / n,
            redis_round_trips_per_turn=round(round_trips, 1),
            redis_commands={k: round(v / n, 2) for k, v in sorted(self.redis_commands.items(), key=lambda kv: -kv[1])},
            stages=stages,
            missing=list(self.missing),
        )
