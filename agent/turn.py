"""One entry point for a turn, whatever the channel: `Agent.handle_turn(InboundMessage) -> TurnResult`.

Identity resolution -> idempotency -> per-customer lock -> inbound stored -> graph -> persisted.
The inbound message is on the timeline before the brain runs, so a crash mid-turn loses nothing
the customer said.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import metrics
from agent.consent_flow import GATED
from agent.graph import TurnRunner, build_graph
from agent.guards import OutboundGuard, redact_sensitive
from agent.state import WINDOW_TURNS, TurnContext
from agent.types import RECALL_PREPARED, Brain, Emit, InboundMessage, Reply, TurnResult
from memory.consent import ConsentLedger
from memory.customers import Customer, CustomerStore
from memory.locks import CustomerLocks, Idempotency
from memory.timeline import Timeline, TimelineEvent
from memory.vectors import MemoryWriter
from tools.context import ToolDeps, utcnow
from tools.dealer import DealerConfig
from tools.handoff import HandoffStore, open_handoff

log = logging.getLogger(__name__)


class RecallOdds:
    """How often a channel's recent memory recalls were back within the turn's budget (a moving
    average of yes/no), so a turn does not wait for a recall that will very likely miss it.

    The case: a lone caller on this kind of machine. MiniLM's pass after the process sat idle
    between their utterances takes ~6-9 ms (bench/README.md), so their prompts waited voice's 4 ms
    and then used the memories of the previous utterance anyway (2-4 of 60 got their own, before
    turns started embedding their text as they begin; about half do since, so turns wait). Every
    recall is scored when it ends, whether the turn waited for it or not: would it have been back by
    the time the turn's wait ran out? So a recall the turn does not wait for still tells whether
    waiting would have paid off, and turns wait again once recalls are back in time (several calls
    at once keep the model warm; from none in time, two in a row are enough). Per channel, because a
    channel's recalls differ (an SMS text is embedded before its turn, a web-chat text in it). A
    failed recall scores no; a cancelled one is not scored."""

    WEIGHT = 0.2  # of the newest recall in the average: a few recalls move it
    FUTILE = 0.25  # don't wait while fewer than this share of recent recalls were back in time

    def __init__(self) -> None:
        self._odds: dict[str, float] = {}

    def add(self, channel: str, in_time: bool) -> None:
        odds = self._odds.get(channel)
        self._odds[channel] = float(in_time) if odds is None else odds + self.WEIGHT * (in_time - odds)

    def odds(self, channel: str) -> float | None:
        """The share of the channel's recent recalls back within budget; None before the first."""
        return self._odds.get(channel)

    def futile(self, channel: str) -> bool:
        odds = self._odds.get(channel)
        return odds is not None and odds < self.FUTILE


@dataclass
class Services:
    """Long-lived stores and helpers a turn uses. Built once by the composition root."""

    dealer: DealerConfig
    redis: Any
    keys: Any
    clock: Callable[[], dt.datetime] = utcnow
    memory: Any = None  # memory.vectors.CustomerMemory
    vectors: Any = None  # memory.vectors.VectorStore
    extra: dict[str, Any] = field(default_factory=dict)  # tool services (e.g. vectors for knowledge)
    # How long a turn waits for memory recall once its context is otherwise loaded, by channel ("*" =
    # any other). A caller on the phone hears silence while we wait, so voice gets a tight budget and
    # falls back to the memories recalled for the customer's previous utterance.
    recall_budget: dict[str, float] = field(default_factory=lambda: {"voice": 0.004, "*": 1.0})
    recall_odds: RecallOdds = field(default_factory=RecallOdds)

    def __post_init__(self) -> None:
        self.customers = CustomerStore(self.redis, self.keys, self.clock)
        self.timeline = Timeline(self.redis, self.keys)
        self.locks = CustomerLocks(self.redis, self.keys)
        self.idempotency = Idempotency(self.redis, self.keys)
        self.handoffs = HandoffStore(self.redis, self.keys)
        self.consent = ConsentLedger(self.redis, self.keys)
        self.outbound_guard = OutboundGuard()
        self._background: set[asyncio.Task] = set()
        self._last_recall: OrderedDict[str, list[str]] = OrderedDict()  # customer id -> memory lines
        self._preparing: dict[str, asyncio.Future[bool]] = {}  # texts `prepare_recall` is embedding now
        self._recall_due: weakref.WeakKeyDictionary[asyncio.Task, tuple[str, float]] = weakref.WeakKeyDictionary()
        self._writer: MemoryWriter | None = None

    # --- memory recall, started as early as the turn knows who is talking ----------------------
    async def prepare_recall(self, text: str) -> bool:
        """A channel that knows a turn's text well before the turn runs (an SMS burst waiting out its
        quiet window) has its embedding made now; the turn's message then says so with
        `meta[RECALL_PREPARED]`. Never raises: preparing is an optimisation."""
        if self.memory is None or not text.strip():
            return False
        if text in self._preparing:
            return await asyncio.shield(self._preparing[text])
        return await self._embedding(text, self._register(text), self.memory.prepare)

    def embed_ahead(self, msg: InboundMessage) -> None:
        """Start embedding a message's text for its memory recall as the turn begins, before identity,
        the delivery claim and the lock (the recall itself needs the customer; its embedding does
        not): the recall, started a few round trips later, waits for this one instead of embedding.
        Not for a text prepared elsewhere (`meta[RECALL_PREPARED]`) or already being embedded."""
        warm = getattr(self.memory, "warm_query", None)
        text = msg.text
        if warm is None or msg.meta.get(RECALL_PREPARED) or not text.strip() or text in self._preparing:
            return
        done = self._register(text)  # now, not when the task first runs: a turn of the same text may follow
        task = self.in_background(self._embedding(text, done, warm))

        task.add_done_callback(lambda _: self._release(text, done, False))  # cancelled before it ever ran

    def _register(self, text: str) -> asyncio.Future[bool]:
        """Mark `text` as being embedded by this process: a recall that needs it meanwhile waits for
        the returned future instead of embedding it again."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._preparing[text] = done
        return done

    async def _embedding(self, text: str, done: asyncio.Future[bool], embed: Callable[[str], Awaitable[Any]]) -> bool:
        """Run `embed(text)` and resolve `done` (registered for `text`) with whether it made a vector.
        Never raises."""
        made = False
        try:
            made = (await embed(text)) is not False
        except Exception as exc:
            log.warning("embedding ahead of memory recall failed: %r", exc)
        finally:  # cancelled too: whoever waits is let go
            self._release(text, done, made)
        return made

    def _release(self, text: str, done: asyncio.Future[bool], made: bool) -> None:
        """The embedding registered as `done` has ended: unregister it (only its own entry) and let
        whoever waits for it go. Once only: later calls do nothing."""
        if self._preparing.get(text) is done:
            del self._preparing[text]
        if not done.done():
            done.set_result(made)

    def start_recall(self, customer_id: str, msg: InboundMessage) -> asyncio.Task | None:
        """Recall for the message's text runs concurrently with the lock, timeline and checkpoint
        reads; `recall_within` collects it. None when there is no vector memory or nothing to search
        for. A message whose channel prepared its text (`meta[RECALL_PREPARED]`) looks for that
        vector first."""
        if self.memory is None or not msg.text.strip():
            return None
        task = asyncio.create_task(self._recall(customer_id, msg.text, bool(msg.meta.get(RECALL_PREPARED))))

        def report(t: asyncio.Task) -> None:  # a recall nobody waits for any more still gets its error logged
            if not t.cancelled() and t.exception() is not None:
                log.warning("memory recall failed: %r", t.exception())

        task.add_done_callback(report)
        return task

    async def _recall(self, customer_id: str, text: str, prepared: bool) -> list[str]:
        """The customer's memories for `text`, as context lines; kept as their latest recall. Scored
        in `recall_odds` as it ends (here, not in a done-callback that runs later) when a turn is
        already waiting for it or chose not to."""
        try:
            preparing = self._preparing.get(text)
            if preparing is not None:  # this process is embedding the text already: wait, don't embed twice
                await asyncio.shield(preparing)
            lines = _memory_lines(await self.memory.recall(customer_id, text, k=4, prepared=prepared))
        except asyncio.CancelledError:
            raise  # not scored
        except BaseException:
            self._score_recall(in_time=False)
            raise
        self._score_recall(in_time=True)
        self._last_recall[customer_id] = lines
        self._last_recall.move_to_end(customer_id)
        while len(self._last_recall) > 4096:
            self._last_recall.popitem(last=False)
        return lines

    def _score_recall(self, *, in_time: bool) -> None:
        """Score the current recall task for the turn that registered a deadline for it (if any)."""
        task = asyncio.current_task()
        due = self._recall_due.pop(task, None) if task is not None else None  # (channel, when the wait ends)
        if due is not None:
            self.recall_odds.add(due[0], in_time and time.perf_counter() <= due[1])

    async def recall_within(self, task: asyncio.Task | None, customer_id: str, channel: str) -> tuple[list[str], str]:
        """This turn's memories within the channel's budget: (lines, "fresh" | "previous" | "none").
        While the channel's recent recalls mostly came back too late (`recall_odds`), a customer who
        has a previous recall gets it at once instead of waiting the budget out."""
        if task is None:
            return [], "none"

        def previous() -> tuple[list[str], str]:
            lines = self._last_recall.get(customer_id)
            return (list(lines), "previous") if lines is not None else ([], "none")

        budget = self.recall_budget.get(channel, self.recall_budget.get("*", 1.0))
        if not task.done():
            self._recall_due[task] = (channel, time.perf_counter() + budget)  # scored when it ends
            if customer_id in self._last_recall and self.recall_odds.futile(channel):
                return previous()  # waiting would very likely end the same way, later
        elif task.cancelled():
            return previous()
        else:
            self.recall_odds.add(channel, task.exception() is None)
        try:
            lines = await asyncio.wait_for(asyncio.shield(task), timeout=budget)
        except TimeoutError:  # the task goes on; its result serves this customer's next turn
            return previous()
        except asyncio.CancelledError:
            this_turn = asyncio.current_task()
            if task.cancelled() and this_turn is not None and not this_turn.cancelling():
                return previous()  # the recall was cancelled, not this turn: a turn never fails for recall
            raise
        except Exception:  # recollection is a nicety; a turn never fails for it (logged by `report`)
            return [], "none"
        return list(lines), "fresh"

    def deps_for(self, customer_id: str | None, channel: str) -> ToolDeps:
        services = {"vectors": self.vectors, **self.extra}
        return ToolDeps(
            dealer=self.dealer,
            redis=self.redis,
            keys=self.keys,
            customer_id=customer_id,
            channel=channel,
            clock=self.clock,
            services=services,
        )

    def safe_reply(self, ctx: TurnContext) -> str:
        return (
            f"Sorry, I hit a snag on my end. I've asked a member of the {self.dealer.name} team to follow up, "
            f"or you can call us at {self.dealer.phone}."
        )

    def in_background(self, coro: Any) -> asyncio.Task:
        """Work off the turn's critical path (derived data, embeddings ahead); `drain` waits for it."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def memory_writer(self) -> MemoryWriter:
        if self._writer is None or self._writer.memory is not self.memory:
            self._writer = MemoryWriter(self.memory)
        return self._writer

    async def flush_memories(self) -> None:
        """Write the memories queued so far."""
        if self._writer is not None:
            await self._writer.flush()

    async def drain(self) -> None:
        """Finish derived writes now (shutdown, evals, tests)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.flush_memories()

    def _append(self, ctx: TurnContext, customer_id: str, event: TimelineEvent) -> TimelineEvent:
        """Queue a turn's own event on its write pipeline (one round trip at the end of the turn)."""
        if ctx.writes is None:
            raise RuntimeError("persist_turn needs the turn's write pipeline (TurnContext.writes)")
        return self.timeline.append_on(ctx.writes, customer_id, event)

    async def persist_turn(self, ctx: TurnContext) -> None:
        """Outbound events, learned profile facts, handoff, memories."""
        out = ctx.output
        cid = ctx.customer.id
        now = self.clock()
        if out is not None:
            if out.profile_updates:
                from tools.crm import update_profile

                try:
                    await update_profile(ctx.deps, **out.profile_updates)
                except Exception as exc:  # a bad email from the customer must not fail the turn
                    log.info("profile update skipped: %s", exc)
                cid = ctx.deps.customer_id or cid
            for interest in out.interests:
                from tools.crm import add_interest

                await add_interest(
                    ctx.deps,
                    interest.get("description", ""),
                    vin=interest.get("vin"),
                    stock_number=interest.get("stock_number"),
                )
            if out.handoff is not None:
                h = await open_handoff(
                    ctx.deps, reason=out.handoff.reason, priority=out.handoff.priority, summary=out.handoff.summary
                )
                metrics.HANDOFFS.labels(h.reason).inc()
                ctx.notes["handoff_id"] = h.id
                self._append(
                    ctx,
                    cid,
                    TimelineEvent(
                        at=now,
                        channel=ctx.message.channel,
                        direction="internal",
                        kind="handoff",
                        text=f"Handoff to {h.team}: {h.reason}",
                        actor="ai",
                        meta={"handoff_id": h.id, "priority": h.priority, "summary": h.summary},
                    ),
                )
            if out.reply.text and not ctx.notes.get("suppressed"):
                meta = {
                    "brain": out.brain,
                    "intent": out.intent,
                    "prompt_version": out.prompt_version,
                    "turn_id": ctx.notes.get("turn_id"),
                    "quick_replies": out.reply.quick_replies,
                    "cards": [asdict(c) for c in out.reply.cards],
                }
                if ctx.notes.get("guard_violations"):
                    meta["guard_violations"] = ctx.notes["guard_violations"]
                event = self._append(
                    ctx,
                    cid,
                    TimelineEvent(
                        at=max(now, ctx.message.at or now) + dt.timedelta(milliseconds=1),
                        channel=ctx.message.channel,
                        direction="outbound",
                        kind="message",
                        text=out.reply.text,
                        actor="ai",
                        meta=meta,
                    ),
                )
                ctx.notes["outbound_event_id"] = event.id
        if self.memory is not None and ctx.message.text.strip():
            text, channel, at = ctx.message.text, ctx.message.channel, ctx.message.at or now
            self.memory_writer().add(cid, text, channel=channel, at=at, kind="customer")


class Agent:
    """The turn handler channels call."""

    def __init__(
        self,
        services: Services,
        brain: Brain,
        checkpointer: Any = None,
        *,
        keep_checkpoints: int = 2,
        prune_every: int = 8,
    ) -> None:
        self.services = services
        self.brain = brain
        self.checkpointer = checkpointer
        self.keep_checkpoints = keep_checkpoints
        # Pruning costs ~8 Redis round trips; doing it every few turns keeps a thread at no more than
        # keep + prune_every checkpoints (a few KB each) while taking it off most turns' path.
        self.prune_every = max(1, prune_every)
        self.graph = build_graph(checkpointer)  # the declaration; `aget_state` reads a thread through it
        # A checkpointer on the services' Redis joins the turn's pipelines (its first read, its write).
        self._shared_redis = hasattr(checkpointer, "put_on") and _same_server(checkpointer.client, services.redis)
        self.runner = TurnRunner(self.graph, checkpointer, queue_checkpoints=self._shared_redis)

    def thread_id(self, customer_id: str) -> str:
        """The customer id: the checkpointer's keys then share the customer's hash slot (the dealer
        is already in the checkpoint prefix)."""
        return customer_id

    async def resolve(self, msg: InboundMessage) -> Customer:
        result = await self.services.customers.resolve(
            phone=msg.phone,
            email=msg.email,
            visitor_id=msg.visitor_id,
            name=msg.name,
            source=msg.meta.get("source") if isinstance(msg.meta.get("source"), dict) else None,
        )
        assert result is not None
        for merge in result.merges:
            await self.services.timeline.append(
                result.customer.id,
                TimelineEvent(
                    at=merge.at,
                    channel="system",
                    direction="internal",
                    kind="merge",
                    text=f"Records merged: {merge.reason}",
                    actor="system",
                    meta=merge.model_dump(mode="json"),
                ),
            )
            if self.services.memory is not None:
                await self.services.flush_memories()  # memories still queued move with the merge
                await self.services.memory.reassign(merge.secondary, merge.primary)
        return result.customer

    def _queue_reads(
        self, pipe: Any, channel: str, customer_id: str, sources: list[str]
    ) -> Callable[[list[Any]], dict[str, Any]]:
        """Queue the graph's first reads on `pipe`; returns what turns their replies into
        `TurnContext.prefetched`."""
        svc = self.services
        parts: list[tuple[str, int, Callable[[list[Any]], Any]]] = []  # (key, replies, parse)
        saver = self.checkpointer
        if self._shared_redis:
            saver.latest_id_on(pipe, self.thread_id(customer_id))
            parts.append(("checkpoint_id", 1, lambda r: saver.parse_latest_id(r[0])))
        if len(sources) == 1:  # a merged journey's window is merged from several records by `read`
            svc.timeline.window_on(pipe, customer_id, WINDOW_TURNS * 2)
            parts.append(("window", 1, lambda r: svc.timeline.parse_window(r[0])))
        svc.handoffs.active_on(pipe, sources)
        parts.append(("handoffs", len(sources), list))
        if channel in GATED:
            ids = svc.consent.entries_on(pipe, sources)
            parts.append(("consent", len(ids), lambda r: svc.consent.parse_entries(ids, r)))

        def collect(replies: list[Any]) -> dict[str, Any]:
            out, at = {}, 0
            for key, n, parse in parts:
                out[key] = parse(replies[at : at + n])
                at += n
            return out

        return collect

    async def handle_turn(self, msg: InboundMessage, *, emit: Emit | None = None) -> TurnResult:
        started = time.perf_counter()
        try:
            result = await self._handle_turn(msg, emit)
        except BaseException:
            metrics.TURNS.labels(msg.channel, getattr(self.brain, "name", "?"), "error").inc()
            raise
        if result.duplicate:
            outcome = "duplicate"
        else:
            outcome = "replied" if result.replies else "suppressed" if result.suppressed else "silent"
            metrics.TURN_SECONDS.labels(msg.channel).observe(time.perf_counter() - started)
        metrics.TURNS.labels(msg.channel, result.brain or getattr(self.brain, "name", "?"), outcome).inc()
        return result

    async def _handle_turn(self, msg: InboundMessage, emit: Emit | None) -> TurnResult:
        svc = self.services
        msg.at = msg.at or svc.clock()
        _redact(msg)
        svc.embed_ahead(msg)
        customer = await self.resolve(msg)
        scope, delivery = msg.channel, msg.delivery_id
        token: str | None = None
        if delivery:  # the delivery claim and a first try at the customer's lock: one round trip
            pipe = svc.redis.pipeline(transaction=False)
            svc.idempotency.claim_on(pipe, scope, delivery)
            attempt = svc.locks.try_on(pipe, customer.id)
            taken, locked = await pipe.execute()
            token = attempt if locked else None
            claim = await svc.idempotency.claimed(scope, delivery, taken)
            if not claim.first:
                if token is not None:
                    await svc.locks.release(customer.id, token)
                return _replay(customer.id, claim.result)
        recall = svc.start_recall(customer.id, msg)
        writes = svc.redis.pipeline(transaction=False)  # the turn's last writes, sent with the unlock
        try:
            if token is None:  # another turn of this customer's is running: wait for it
                token = await svc.locks.acquire(customer.id)
            result = await self._locked_turn(msg, customer, emit, recall, writes)
        except BaseException:  # nothing queued on `writes` is sent: a retry runs the turn afresh
            pipe = svc.redis.pipeline(transaction=False)
            if delivery:
                svc.idempotency.release_on(pipe, scope, delivery)
            if token is not None:
                svc.locks.release_on(pipe, customer.id, token)
            await asyncio.shield(pipe.execute())  # a cancelled turn still frees the customer
            raise
        # The reply and checkpoint, the delivery's completion and the unlock: one round trip, in order.
        if delivery:
            svc.idempotency.complete_on(writes, scope, delivery, _result_record(result))
        svc.locks.release_on(writes, customer.id, token)
        await writes.execute()
        return result

    async def _locked_turn(
        self, msg: InboundMessage, customer: Customer, emit: Emit | None, recall: asyncio.Task | None, writes: Any
    ) -> TurnResult:
        svc = self.services
        turn_id = f"t{secrets.token_hex(6)}"
        sources = await svc.customers.sources(customer.id, loaded=customer)
        # One round trip for the inbound events and everything the graph reads before its brain runs,
        # with the customer's record read again now that we hold the lock (a merge may have happened).
        pipe = svc.redis.pipeline(transaction=False)
        pipe.get(svc.keys.profile(customer.id))
        inbound = _queue_inbound_events(svc.timeline, pipe, msg, customer.id, turn_id)
        collect = self._queue_reads(pipe, msg.channel, customer.id, sources)
        replies = await pipe.execute()
        fresh = Customer.model_validate_json(replies[0]) if replies[0] else None
        prefetched: dict[str, Any] = {}
        if fresh is not None and not fresh.merged_into and fresh.merged_from == customer.merged_from:
            customer, prefetched = fresh, collect(replies[1 + len(inbound) :])
        else:  # merged meanwhile (rare): follow it; the nodes read for themselves (the inbound events
            # stay on the record they were written to, which is part of the merged journey)
            first_id = customer.id
            customer = await svc.customers.primary_of(customer.id)
            sources = await svc.customers.sources(customer.id, loaded=customer)
            if customer.id != first_id and recall is not None:
                recall.cancel()
                recall = svc.start_recall(customer.id, msg)
        inbound_ids = [e.id for e in inbound]
        ctx = TurnContext(
            message=msg,
            customer=customer,
            sources=sources,
            deps=svc.deps_for(customer.id, msg.channel),
            brain=self.brain,
            services=svc,
            emit=emit,
            notes={"turn_id": turn_id, "inbound_event_ids": inbound_ids, "recall_task": recall},
            prefetched=prefetched,
            writes=writes,
        )
        await self.runner.run(ctx, self.thread_id(customer.id))
        prune = getattr(self.checkpointer, "aprune_thread", None)
        turns = ctx.notes.get("turns")
        due = turns is None or turns % self.prune_every == 0
        if prune is not None and due:  # a customer's thread lives for years: keep only the latest checkpoints
            await prune(self.thread_id(customer.id), keep=self.keep_checkpoints)
        out = ctx.output
        replies = [out.reply] if out is not None and out.reply.text and not ctx.notes.get("suppressed") else []
        return TurnResult(
            customer_id=ctx.deps.customer_id or customer.id,
            replies=replies,
            suppressed=ctx.notes.get("suppressed"),
            handoff_id=ctx.notes.get("handoff_id"),
            end_call=bool(out and out.handoff and msg.channel == "voice" and out.handoff.reason == "customer_request"),
            brain=out.brain if out else "",
            prompt_version=out.prompt_version if out else "",
            turn_id=turn_id,
            outbound_event_id=ctx.notes.get("outbound_event_id"),
        )


def _queue_inbound_events(
    timeline: Timeline, pipe: Any, msg: InboundMessage, customer_id: str, turn_id: str
) -> list[TimelineEvent]:
    """One timeline event per text the customer sent, queued on `pipe`: a burst of texts answered
    in one turn arrives with its parts in `meta["parts"]` (delivery id, text, time, media each)."""
    base = {k: v for k, v in msg.meta.items() if k != "parts"}
    parts = msg.meta.get("parts") or [{"delivery_id": msg.delivery_id, "text": msg.text, "at": None}]
    events: list[TimelineEvent] = []
    previous: dt.datetime | None = None
    for part in parts:
        at = dt.datetime.fromisoformat(part["at"]) if part.get("at") else msg.at
        if previous is not None and at <= previous:  # texts of one burst keep the order they were sent in
            at = previous + dt.timedelta(milliseconds=1)
        previous = at
        meta = {**base, "delivery_id": part.get("delivery_id"), "turn_id": turn_id}
        if part.get("media"):
            meta["media"] = part["media"]
        event = TimelineEvent(
            at=at,
            channel=msg.channel,
            direction="inbound",
            kind="message",
            text=part.get("text", ""),
            actor="customer",
            meta=meta,
        )
        events.append(timeline.append_on(pipe, customer_id, event))
    return events


def _same_server(a: Any, b: Any) -> bool:
    """Two clients of one Redis (they may differ in decoding), so one pipeline can serve both."""

    def where(client: Any) -> tuple[Any, ...]:
        kw = client.connection_pool.connection_kwargs
        return kw.get("host"), kw.get("port"), kw.get("path"), kw.get("db", 0)

    return where(a) == where(b)


def _redact(msg: InboundMessage) -> None:
    """SSNs and card numbers never reach the timeline, the memory or a brain (what was removed is
    noted in the message's metadata, so the reply can tell the customer)."""
    msg.text, found = redact_sensitive(msg.text)
    kinds = {*found, *(msg.meta.get("redacted") or [])}  # a channel may have redacted already
    for part in msg.meta.get("parts") or []:
        part["text"], found = redact_sensitive(part.get("text", ""))
        kinds.update(found)
    if kinds:
        msg.meta["redacted"] = sorted(kinds)


def _memory_lines(hits: list[Any]) -> list[str]:
    return [f"[{h.metadata.get('channel', '?')} {h.metadata.get('at', '')[:10]}] {h.text}" for h in hits]


def _result_record(result: TurnResult) -> dict[str, Any]:
    return {
        "customer_id": result.customer_id,
        "replies": [r.text for r in result.replies],
        "suppressed": result.suppressed,
        "turn_id": result.turn_id,
    }


def _replay(customer_id: str, record: Any) -> TurnResult:
    """A duplicate delivery: nothing is processed or sent again (the first delivery's reply stands)."""
    record = record or {}
    return TurnResult(
        customer_id=record.get("customer_id", customer_id),
        duplicate=True,
        replies=[Reply(text=t) for t in record.get("replies", [])],
        turn_id=record.get("turn_id", ""),
    )
