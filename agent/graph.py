"""The conversation graph: one thread per customer of one dealer, across every channel.

    load_context -> inbound_guard -> brain -> outbound_guard -> persist
                         \\______________________________________/
                           (consent keyword, human owns it, empty input)

The brains run their own tool loop (the LLM brain's is bounded; the offline policy calls domain
functions directly), which keeps fallback simple: when the LLM fails mid-turn, the offline brain
answers the same input.

`build_graph` declares the graph (LangGraph `StateGraph`, checkpointed per customer); `TurnRunner`
executes a turn through the same nodes and writes the same checkpoints (see its docstring for why a
turn does not go through Pregel).
"""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Literal

from langgraph.channels import LastValue
from langgraph.checkpoint.base import copy_checkpoint, create_checkpoint, empty_checkpoint
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

import metrics
from agent import consent_flow
from agent.guards import StreamGuard, inbound_check
from agent.state import WINDOW_TURNS, AgentState, TurnContext, fold_summary, role_of
from agent.types import BrainInput, BrainOutput, HandoffRequest, Reply
from memory.timeline import epoch_ms

log = logging.getLogger(__name__)


def _turn(e: Any) -> dict[str, str]:
    # On a call the customer hears only what was spoken before they interrupted.
    text = e.meta.get("spoken", e.text) if e.meta.get("interrupted") else e.text
    return {"role": role_of(e.actor, e.direction), "text": text, "channel": e.channel}


def _conversational(e: Any) -> bool:
    return e.kind == "message" and e.direction in ("inbound", "outbound") and bool(e.text)


async def load_context(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    # The window comes from the timeline (the source of truth): it includes what staff said during
    # a handoff and messages sent by jobs, not only this graph's own turns.
    recent = ctx.prefetched.get("window")
    if recent is None:
        recent = await ctx.services.timeline.read(ctx.sources, limit=WINDOW_TURNS * 2, newest=True)
    ctx.notes["recent_events"] = recent
    ctx.notes["recent_complete"] = len(recent) < WINDOW_TURNS * 2  # the whole journey so far
    current = set(ctx.notes.get("inbound_event_ids", []))
    turns = [e for e in recent if _conversational(e) and e.id not in current][-WINDOW_TURNS:]
    ctx.history = [_turn(e) for e in turns]
    ctx.notes["window_events"] = turns
    svc = ctx.services
    task = ctx.notes.pop("recall_task", None)
    if task is None and svc.memory is not None:  # a caller that did not start recall early
        task = svc.start_recall(ctx.customer.id, ctx.message)
    ctx.memories, ctx.notes["recall"] = await svc.recall_within(task, ctx.customer.id, ctx.message.channel)
    if task is not None:
        metrics.RECALL.labels(ctx.message.channel, ctx.notes["recall"]).inc()
    return {"text": ctx.message.text}


async def inbound_guard(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    verdict = inbound_check(ctx.message.text, ctx.message.channel)
    ctx.notes["inbound_flags"] = list(verdict.flags)
    if verdict.consent is not None:
        # Recorded in the ledger before anything else happens in this turn.
        handled, reply = await consent_flow.apply(ctx, verdict.consent)
        rest = consent_flow.rest_of_message(verdict.text, verdict.consent.matched)
        if handled and reply and rest and ctx.message.channel not in consent_flow.GATED:
            # Typed into chat with another question: confirm, then answer the rest (on SMS/voice the
            # one confirmation is all that may be sent).
            ctx.notes["consent_prefix"] = reply
            ctx.notes["route"] = "brain"
            return {"text": rest}
        if handled:
            ctx.notes["route"] = "reply"
            ctx.output = BrainOutput(reply=Reply(text=reply), intent=f"consent_{verdict.consent.kind}", brain="guard")
            if not reply:
                ctx.notes["suppressed"] = "opted_out"
            return {"text": verdict.text}
    owner = await ctx.services.handoffs.human_owns(ctx.sources, active=ctx.prefetched.get("handoffs"))
    if owner is not None:
        ctx.notes["route"] = "silent"
        ctx.notes["suppressed"] = f"human_owns:{owner.assignee}"
        return {"text": verdict.text}
    blocked = await consent_flow.reply_blocked(ctx)
    if blocked:
        ctx.notes["route"] = "silent"
        ctx.notes["suppressed"] = blocked
        return {"text": verdict.text}
    if verdict.reply is not None:  # empty input and the like: answered without the brain
        ctx.notes["route"] = "reply"
        ctx.output = BrainOutput(reply=Reply(text=verdict.reply), intent="invalid_input", brain="guard")
        return {"text": verdict.text}
    ctx.notes["route"] = "brain"
    return {"text": verdict.text}


def after_inbound(state: AgentState, runtime: Runtime[TurnContext]) -> Literal["brain", "persist"]:
    return "brain" if runtime.context.notes.get("route") == "brain" else "persist"


async def brain(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    stream = None
    if ctx.emit is not None:
        stream = StreamGuard(
            ctx.emit,
            guard=ctx.services.outbound_guard,
            facts=ctx.deps.facts,
            channel=ctx.message.channel,
            customer_contacts=_contacts(ctx),
            dealer=ctx.deps.dealer,
        )
    inp = BrainInput(
        text=state.get("text", ctx.message.text),
        channel=ctx.message.channel,
        customer=ctx.customer,
        deps=ctx.deps,
        history=ctx.history,
        summary=state.get("summary", ""),
        memories=ctx.memories,
        dialogue=dict(state.get("dialogue", {})),
        meta=ctx.message.meta,
        emit=stream.emit if stream else None,
    )
    prefix = ctx.notes.get("consent_prefix")
    if prefix and stream is not None:
        await stream.emit(prefix + "\n")
    try:
        out = await ctx.brain.respond(inp)
    except Exception:
        log.exception("brain %s failed", getattr(ctx.brain, "name", "?"))
        out = BrainOutput(
            reply=Reply(text=ctx.services.safe_reply(ctx)),
            dialogue=inp.dialogue,
            handoff=HandoffRequest(
                reason="cannot_help", priority="normal", summary=f"Assistant error on: {inp.text[:200]}"
            ),
            intent="error",
            brain="error",
        )
    if prefix:
        out.reply.text = f"{prefix}\n{out.reply.text}".strip()
    if stream is not None:
        await stream.flush()
        ctx.notes["streamed"] = stream.emitted_text
    ctx.output = out
    return {"dialogue": out.dialogue}


async def outbound_guard(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    out = ctx.output
    if out is None or not out.reply.text:
        return {}
    result = ctx.services.outbound_guard.check(
        out.reply.text,
        facts=ctx.deps.facts,
        channel=ctx.message.channel,
        customer_contacts=_contacts(ctx),
        dealer=ctx.deps.dealer,
    )
    if result.violations:
        ctx.notes["guard_violations"] = result.violations
        log.warning("outbound guard: %s", result.violations)
    out.reply.text = result.text
    return {}


async def persist(state: AgentState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
    ctx = runtime.context
    await ctx.services.persist_turn(ctx)
    update: dict[str, Any] = {"turns": state.get("turns", 0) + 1, "text": ""}
    ctx.notes["turns"] = update["turns"]
    # The next turn's window: this window plus this turn's inbound (and reply). What falls out of it
    # joins the summary now, so no exchange is ever in neither.
    turns = ctx.notes.get("window_events", [])
    added = 1 + (1 if ctx.notes.get("outbound_event_id") else 0)
    first_kept = len(turns) + added - WINDOW_TURNS
    window_start = epoch_ms(turns[first_kept].at) if 0 < first_kept < len(turns) else None
    done = state.get("summarized_until", 0)
    if window_start and window_start > done:
        # Turns that slid out of the window since the last fold join the rolling summary.
        recent = ctx.notes.get("recent_events")
        if recent is not None and (ctx.notes.get("recent_complete") or epoch_ms(recent[0].at) <= done):
            # The window read already reached back past the last fold: no second read needed.
            dropped = [e for e in recent if done < epoch_ms(e.at) < window_start][-40:]
        else:
            after = dt.datetime.fromtimestamp(done / 1000, dt.UTC) if done else None
            before = dt.datetime.fromtimestamp(window_start / 1000, dt.UTC)
            dropped = await ctx.services.timeline.read(ctx.sources, after=after, before=before, limit=40, newest=True)
        update["summary"] = fold_summary(state.get("summary", ""), [_turn(e) for e in dropped if _conversational(e)])
        update["summarized_until"] = window_start - 1
    return update


def _contacts(ctx: TurnContext) -> set[str]:
    return {*ctx.customer.phones, *ctx.customer.emails}


def build_graph(checkpointer: Any = None):
    g = StateGraph(AgentState, context_schema=TurnContext)
    g.add_node("load_context", load_context)
    g.add_node("inbound_guard", inbound_guard)
    g.add_node("brain", brain)
    g.add_node("outbound_guard", outbound_guard)
    g.add_node("persist", persist)
    g.add_edge(START, "load_context")
    g.add_edge("load_context", "inbound_guard")
    g.add_conditional_edges("inbound_guard", after_inbound, ["brain", "persist"])
    g.add_edge("brain", "outbound_guard")
    g.add_edge("outbound_guard", "persist")
    g.add_edge("persist", END)
    return g.compile(checkpointer=checkpointer)


class TurnRunner:
    """Executes one turn through the compiled graph's nodes and checkpoints the resulting state.

    Why not `graph.ainvoke`: a turn is a straight line with one branch, and Pregel's general
    machinery — planning each step's tasks, versioning channels, applying writes, and propagating its
    run config and callbacks into every nested LangChain call — cost more than all of the turn's own
    work (about 5 ms of an 18 ms turn on a two-core machine; bench/README.md). The runner follows the
    graph's own edges and branch functions, calls its node functions with a LangGraph `Runtime`, and
    writes a standard checkpoint through the same checkpointer, so `graph.aget_state` reads it and a
    thread can be driven by either (tests/agent/test_turn.py). It accepts only graphs it runs exactly
    as Pregel would: one path (plain edges, one branch per node at most), async nodes, no reducers,
    interrupts, retries or caches; anything else is refused when the runner is built.
    """

    def __init__(
        self, graph: Any, checkpointer: Any = None, *, remember_threads: int = 4096, queue_checkpoints: bool = False
    ) -> None:
        """`queue_checkpoints`: put checkpoints on the turn's write pipeline (`TurnContext.writes`,
        a client of the checkpointer's Redis; the checkpointer must have `put_on`)."""
        spec = graph.builder
        self.checkpointer = checkpointer
        self.queue_checkpoints = queue_checkpoints
        self.remember_threads = remember_threads
        self._recent: OrderedDict[str, tuple[dict[str, Any], int]] = OrderedDict()  # thread -> (checkpoint, step)
        self._keys = frozenset(spec.schemas[spec.state_schema])
        self._nodes: dict[str, Callable[..., Awaitable[dict[str, Any] | None]]] = {}
        for name, node in spec.nodes.items():
            fn = getattr(node.runnable, "afunc", None)
            if (
                getattr(node.runnable, "func", None) is not None  # a sync node (Pregel runs it in a thread)
                or not inspect.iscoroutinefunction(fn)
                or node.retry_policy
                or node.cache_policy
                or node.defer
            ):
                raise RuntimeError(
                    f"TurnRunner cannot run node {name!r} as Pregel would (sync, retried, cached or deferred)"
                )
            self._nodes[name] = fn
        self._next: dict[str, str] = {}
        for a, b in spec.edges:
            if a in self._next:
                raise RuntimeError(f"TurnRunner runs one path; {a!r} fans out to {self._next[a]!r} and {b!r}")
            self._next[a] = b
        self._branch: dict[str, tuple[Callable[..., str], dict[Hashable, str]]] = {}
        for name, branches in spec.branches.items():
            (only,) = branches.values() if len(branches) == 1 and name not in self._next else (None,)
            if only is None or only.ends is None or only.path.func is None:
                raise RuntimeError(
                    f"TurnRunner needs node {name!r} to have one branch with declared ends, no plain edge"
                )
            self._branch[name] = (only.path.func, only.ends)
        if spec.waiting_edges or graph.interrupt_before_nodes or graph.interrupt_after_nodes or START not in self._next:
            raise RuntimeError("TurnRunner runs one path from START without joins or interrupts")
        reducers = [k for k in self._keys if not isinstance(graph.channels.get(k), LastValue)]
        if reducers:
            raise RuntimeError(f"TurnRunner overwrites state keys; these have reducers: {sorted(reducers)}")

    async def run(self, ctx: TurnContext, thread_id: str) -> dict[str, Any]:
        """Run the turn for `ctx` on `thread_id`; returns the new state. Nothing is checkpointed
        when a node raises (the turn is retried from the last saved state)."""
        saver = self.checkpointer
        config: dict[str, Any] = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        saved = await self._latest(thread_id, config, ctx.prefetched) if saver is not None else None
        base = empty_checkpoint() if saved is None else copy.deepcopy(saved[0])
        step = saved[1] + 1 if saved is not None else 0
        state: dict[str, Any] = {**base["channel_values"], "text": ctx.message.text}
        changed = {"text"}
        runtime = Runtime(context=ctx)
        node = self._next[START]
        while node != END:
            update = await self._nodes[node](state, runtime)
            if update:  # every state key is a LastValue channel: an update overwrites
                state.update(update)
                changed.update(update)
            if node in self._branch:
                route, ends = self._branch[node]
                node = ends[route(state, runtime)]
            else:
                node = self._next[node]
        if saver is None:
            return state
        versions = base["channel_versions"]
        new_versions = {k: saver.get_next_version(versions.get(k), None) for k in sorted(changed)}
        base["channel_values"] = {k: v for k, v in state.items() if k in self._keys}
        base["channel_versions"] = {**versions, **new_versions}
        checkpoint = create_checkpoint(base, None, step)
        checkpoint["updated_channels"] = sorted(changed)
        conf = dict(config["configurable"])
        if saved is not None:
            conf["checkpoint_id"] = saved[0]["id"]  # the parent
        metadata = {"source": "loop", "step": step, "parents": {}}
        if ctx.writes is not None and self.queue_checkpoints:
            saver.put_on(ctx.writes, {"configurable": conf}, checkpoint, metadata, new_versions)
        else:
            await saver.aput({"configurable": conf}, checkpoint, metadata, new_versions)
        self._remember(thread_id, checkpoint, step)
        return state

    async def _latest(
        self, thread_id: str, config: dict[str, Any], prefetched: dict[str, Any]
    ) -> tuple[dict[str, Any], int] | None:
        """The thread's newest checkpoint and its step. The one this process wrote last is kept in
        memory; when the store says it is still the newest (one round trip, so a turn handled by
        another process meanwhile is never missed) it is used instead of loading and decoding it
        again (two more round trips). Pending writes are not kept: this runner never makes any."""
        saver = self.checkpointer
        latest_id = getattr(saver, "alatest_id", None)
        found = None
        if latest_id is not None:
            cid = prefetched["checkpoint_id"] if "checkpoint_id" in prefetched else await latest_id(thread_id)
            if cid is None:
                return None
            kept = self._recent.get(thread_id)
            if kept is not None and kept[0]["id"] == cid:
                self._recent.move_to_end(thread_id)
                return kept
            found = await saver.aget_tuple({"configurable": {**config["configurable"], "checkpoint_id": cid}})
        if found is None:  # another checkpointer, or pruned/deleted between the two reads: the newest
            found = await saver.aget_tuple(config)
        return (copy_checkpoint(found.checkpoint), found.metadata.get("step", -1)) if found else None

    def _remember(self, thread_id: str, checkpoint: dict[str, Any], step: int) -> None:
        self._recent[thread_id] = (checkpoint, step)
        self._recent.move_to_end(thread_id)
        while len(self._recent) > self.remember_threads:
            self._recent.popitem(last=False)
