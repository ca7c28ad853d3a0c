"""The turn entry point and graph mechanics, with a recording test-double brain.

RecordingBrain is a test double: it answers with a fixed text and records what it was given, so
these tests see exactly what the graph hands a brain and when it doesn't call one at all.
"""

import asyncio
import datetime as dt

import pytest
from langgraph.graph import END, START, StateGraph
from prometheus_client import REGISTRY

from agent.graph import TurnRunner, brain, inbound_guard, load_context, outbound_guard, persist
from agent.state import SUMMARY_MAX_CHARS, WINDOW_TURNS, AgentState, TurnContext
from agent.turn import Agent, RecallOdds, Services
from agent.types import RECALL_PREPARED, BrainInput, BrainOutput, HandoffRequest, InboundMessage, Reply
from memory.checkpoint import AsyncRedisCheckpointSaver
from memory.consent import ConsentLedger
from tools.dealer import load_dealer_config
from tools.handoff import HandoffStore

T0 = dt.datetime(2026, 11, 17, 23, 0, tzinfo=dt.UTC)  # 18:00 in Tampa, a Tuesday


class RecordingBrain:
    """Test double: replies "ok <n>" and records each BrainInput."""

    name = "recording"

    def __init__(self, fail_on: str | None = None, handoff_on: str | None = None):
        self.inputs: list[BrainInput] = []
        self.fail_on = fail_on
        self.handoff_on = handoff_on

    async def respond(self, inp: BrainInput) -> BrainOutput:
        self.inputs.append(inp)
        if self.fail_on and self.fail_on in inp.text:
            raise RuntimeError("brain exploded")
        turns = inp.dialogue.get("turns", 0) + 1
        handoff = (
            HandoffRequest(reason="customer_request", summary="asked for a person")
            if (self.handoff_on and self.handoff_on in inp.text)
            else None
        )
        return BrainOutput(
            reply=Reply(text=f"ok {turns}"),
            dialogue={"turns": turns},
            handoff=handoff,
            brain=self.name,
            prompt_version="test@1",
        )


class Clock:
    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def dealer(demo_config_path, dealer_id):
    return load_dealer_config(demo_config_path).model_copy(update={"id": dealer_id})


@pytest.fixture
def make_agent(redis_handle, redis, keys, dealer):
    clients = []

    def make(brain, clock=None):
        services = Services(dealer=dealer, redis=redis, keys=keys, clock=clock or Clock(T0))
        raw = redis_handle.client(decode_responses=False)
        clients.append(raw)
        return Agent(services, brain, checkpointer=AsyncRedisCheckpointSaver(raw, prefix=keys.checkpoint_prefix()))

    yield make
    for c in clients:
        asyncio.get_event_loop().run_until_complete(c.aclose()) if False else None


def sms(text, sid=None, phone="+18135550160"):
    return InboundMessage(dealer="x", channel="sms", text=text, phone=phone, delivery_id=sid)


async def test_a_delivery_seen_twice_is_one_turn(make_agent):
    brain = RecordingBrain()
    agent = make_agent(brain)
    first = await agent.handle_turn(sms("hi", sid="SM1"))
    again = await agent.handle_turn(sms("hi", sid="SM1"))
    assert [r.text for r in first.replies] == ["ok 1"]
    assert again.duplicate and len(brain.inputs) == 1
    events = await agent.services.timeline.read([first.customer_id])
    assert [e.direction for e in events] == ["inbound", "outbound"]


async def test_stop_is_recorded_first_confirmed_once_then_silence_until_start(make_agent, redis, keys):
    brain = RecordingBrain()
    agent = make_agent(brain)
    r1 = await agent.handle_turn(sms("STOP", sid="SM10"))
    assert "unsubscribed" in r1.replies[0].text.lower() and not brain.inputs
    state = await ConsentLedger(redis, keys).state([r1.customer_id])
    assert state.status("sms", "transactional") == "opted_out"
    r2 = await agent.handle_turn(sms("stop texting me", sid="SM11"))  # a second revocation: no 2nd confirmation
    r3 = await agent.handle_turn(sms("do you have any tacomas", sid="SM12"))
    assert r2.replies == [] and r3.replies == [] and r3.suppressed == "opted_out" and not brain.inputs
    r4 = await agent.handle_turn(sms("START", sid="SM13"))
    assert "subscribed" in r4.replies[0].text.lower()
    r5 = await agent.handle_turn(sms("do you have any tacomas", sid="SM14"))
    assert [r.text for r in r5.replies] == ["ok 1"]
    outbound = [e for e in await agent.services.timeline.read([r1.customer_id]) if e.direction == "outbound"]
    # nothing went out between the first confirmation and START
    texts = [e.text for e in outbound]
    assert len(texts) == 3 and texts[-1] == "ok 1"


async def test_plain_language_revocation_on_sms(make_agent, redis, keys):
    agent = make_agent(RecordingBrain())
    r = await agent.handle_turn(sms("please stop texting me, I bought elsewhere"))
    state = await ConsentLedger(redis, keys).state([r.customer_id])
    assert state.status("sms", "marketing") == "opted_out"
    entry = state.item("sms", "marketing")
    assert entry.source == "natural_language" and "bought elsewhere" in entry.evidence["text"]


async def test_human_owned_conversation_gets_no_ai_reply_and_hand_back_carries_context(make_agent, redis, keys):
    brain = RecordingBrain(handoff_on="person")
    agent = make_agent(brain)
    r = await agent.handle_turn(sms("can I talk to a person"))
    assert r.handoff_id
    store = HandoffStore(redis, keys)
    await store.transition(r.handoff_id, "claimed", at=T0, actor="staff:ana")
    quiet = await agent.handle_turn(sms("hello? anyone?"))
    assert quiet.replies == [] and quiet.suppressed.startswith("human_owns") and len(brain.inputs) == 1
    from memory.timeline import TimelineEvent

    await agent.services.timeline.append(
        r.customer_id,
        TimelineEvent(
            at=T0 + dt.timedelta(minutes=10),
            channel="sms",
            direction="outbound",
            text="Hi, Ana here - the RAV4 is yours to drive Sat",
            actor="staff:ana",
        ),
    )
    await store.transition(r.handoff_id, "closed", at=T0, actor="staff:ana")
    back = await agent.handle_turn(sms("thanks! what time saturday?"))
    assert back.replies and len(brain.inputs) == 2
    roles = [(t["role"], t["text"]) for t in brain.inputs[-1].history]
    assert ("staff", "Hi, Ana here - the RAV4 is yours to drive Sat") in roles
    assert ("customer", "hello? anyone?") in roles


async def test_long_threads_keep_a_window_a_summary_and_small_checkpoints(make_agent, redis_handle, keys):
    brain = RecordingBrain()
    agent = make_agent(brain)
    n = WINDOW_TURNS * 3
    for i in range(n):
        await agent.handle_turn(sms(f"message number {i}"))
    last = brain.inputs[-1]
    assert len(last.history) == WINDOW_TURNS
    assert last.history[-1] == {"role": "assistant", "text": f"ok {n - 1}", "channel": "sms"}
    in_window = {t["text"] for t in last.history}
    assert f"message number {n - 2}" in in_window and f"message number {n - 2}" not in last.summary
    dropped = f"message number {n - 1 - WINDOW_TURNS // 2 - 1}"  # the newest turn that left the window
    assert dropped not in in_window and dropped in last.summary
    assert len(last.summary) <= SUMMARY_MAX_CHARS
    assert last.dialogue == {"turns": n - 1}
    raw = redis_handle.client(decode_responses=False)
    mine = [k async for k in raw.scan_iter(match=keys.scan_pattern().encode(), count=1000)]
    ckpt_keys = [k for k in mine if b":ckpt" in k]
    assert ckpt_keys
    total = 0
    for k in ckpt_keys:
        total += await raw.memory_usage(k) or 0
    await raw.aclose()
    assert total < 64_000, f"checkpoints take {total} bytes after {n} turns"


async def test_concurrent_turns_for_one_customer_are_serialised(make_agent):
    brain = RecordingBrain()
    agent = make_agent(brain)
    await asyncio.gather(*(agent.handle_turn(sms(f"m{i}", sid=f"SMc{i}")) for i in range(6)))
    assert sorted(inp.dialogue.get("turns", 0) for inp in brain.inputs) == list(range(6))


async def test_a_failing_brain_still_answers_and_hands_off(make_agent, redis, keys):
    agent = make_agent(RecordingBrain(fail_on="boom"))
    r = await agent.handle_turn(sms("boom"))
    assert r.replies and "snag" in r.replies[0].text and r.handoff_id
    h = await HandoffStore(redis, keys).get(r.handoff_id)
    assert h.reason == "cannot_help" and "boom" in h.summary


async def test_empty_input_gets_a_safe_reply_and_is_stored(make_agent):
    brain = RecordingBrain()
    agent = make_agent(brain)
    r = await agent.handle_turn(
        InboundMessage(dealer="x", channel="chat", text="   \x00 ", visitor_id="visitor-123456")
    )
    assert r.replies and not brain.inputs
    events = await agent.services.timeline.read([r.customer_id])
    assert events[0].direction == "inbound"


async def test_a_burst_answered_once_keeps_each_text_on_the_timeline(make_agent):
    brain = RecordingBrain()
    agent = make_agent(brain)
    at = T0.isoformat()
    parts = [
        {"delivery_id": f"SMb{i}", "text": t, "at": at, "media": []} for i, t in enumerate(["hey", "any", "trucks?"])
    ]
    parts[2]["media"] = ["https://api.twilio.com/media/ME1"]
    msg = sms("hey\nany\ntrucks?", sid="SMb0")
    msg.meta = {"parts": parts}
    r = await agent.handle_turn(msg)
    events = await agent.services.timeline.read([r.customer_id])
    inbound = [e for e in events if e.direction == "inbound"]
    assert [e.text for e in inbound] == ["hey", "any", "trucks?"]
    assert [e.meta["delivery_id"] for e in inbound] == ["SMb0", "SMb1", "SMb2"]
    assert inbound[2].meta["media"] == ["https://api.twilio.com/media/ME1"] and "parts" not in inbound[0].meta
    assert len(brain.inputs) == 1 and brain.inputs[0].history == []  # this turn's texts aren't "history"


class GatedMemory:
    """Test double for CustomerMemory: recall answers only when the test opens the gate, so a
    turn's recall budget can be exercised without timing luck."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    async def recall(self, customer_id, query, k=4, prepared=False):
        self.tasks.append(asyncio.current_task())
        await self.gate.wait()
        return [_Hit(f"said before: {query}")]

    async def remember(self, *args, **kwargs):
        return None


class _Hit:
    def __init__(self, text):
        self.text = text
        self.metadata = {"channel": "voice", "at": "2026-11-17T23:00:00+00:00"}


async def test_voice_does_not_wait_for_slow_recall_and_reuses_the_last_one(make_agent):
    brain = RecordingBrain()
    agent = make_agent(brain)
    memory = GatedMemory()
    agent.services.memory = memory
    agent.services.recall_budget = {"voice": 0.01, "*": 5.0}

    def call(text):
        return InboundMessage(dealer="x", channel="voice", text=text, phone="+18135550190")

    # The gate is shut: the caller is answered without memories instead of waiting for them.
    r1 = await agent.handle_turn(call("is the tacoma still there"))
    assert r1.replies and brain.inputs[-1].memories == []
    # The recall finishes after the turn; the next utterance gets it while its own is still running.
    memory.gate.set()
    await asyncio.wait_for(memory.tasks[-1], 5)  # its completion callback runs before this returns
    memory.gate = asyncio.Event()
    agent.services.recall_odds = RecallOdds()  # no record yet: the turn waits its budget out (the timeout path)
    counted = REGISTRY.get_sample_value("dealeros_memory_recall_total", {"channel": "voice", "outcome": "previous"})
    await agent.handle_turn(call("what color is it"))
    assert brain.inputs[-1].memories == ["[voice 2026-11-17] said before: is the tacoma still there"]
    after = REGISTRY.get_sample_value("dealeros_memory_recall_total", {"channel": "voice", "outcome": "previous"})
    assert after == (counted or 0) + 1  # counted on /metrics
    # Text channels wait (within their own budget) for this turn's own recall.
    memory.gate.set()
    await agent.handle_turn(sms("and the price?", phone="+18135550190"))
    assert brain.inputs[-1].memories == ["[voice 2026-11-17] said before: and the price?"]


def test_recall_odds_are_a_moving_average_per_channel_that_recovers():
    odds = RecallOdds()
    assert odds.odds("voice") is None and not odds.futile("voice")  # nothing scored yet: wait
    odds.add("voice", False)
    assert odds.odds("voice") == 0.0 and odds.futile("voice")
    assert odds.odds("sms") is None and not odds.futile("sms")  # channels apart
    odds.add("voice", True)
    assert odds.futile("voice")  # one recall back in time is not enough ...
    odds.add("voice", True)
    assert not odds.futile("voice")  # ... two are (0.36 of the recent ones)
    for _ in range(10):
        odds.add("voice", False)
    assert odds.futile("voice")


async def test_voice_skips_the_wait_while_recalls_miss_the_budget_and_waits_again_once_they_make_it(make_agent):
    brain = RecordingBrain()
    agent = make_agent(brain)
    memory = GatedMemory()
    memory.gate.set()
    agent.services.memory = memory
    agent.services.recall_budget = {"voice": 30.0, "*": 30.0}  # a turn that waited would hang the test
    odds = agent.services.recall_odds

    def call(text):
        return InboundMessage(dealer="x", channel="voice", text=text, phone="+18135550191")

    def said(text):
        return [f"[voice 2026-11-17] said before: {text}"]

    def lately_too_slow():
        for _ in range(12):
            odds.add("voice", False)

    await agent.handle_turn(call("is the tacoma still there"))  # fresh: the caller's first recall
    assert brain.inputs[-1].memories == said("is the tacoma still there")
    lately_too_slow()
    memory.gate = asyncio.Event()  # this utterance's recall won't finish during the turn
    r = await asyncio.wait_for(agent.handle_turn(call("what color is it")), 5)
    assert r.replies and brain.inputs[-1].memories == said("is the tacoma still there")
    # The recall the turn did not wait for still runs to the end, is scored (it was back before the
    # turn's 30 s would have run out) and serves the next prompt.
    before = odds.odds("voice")
    memory.gate.set()
    await asyncio.wait_for(memory.tasks[-1], 5)
    assert odds.odds("voice") > before
    lately_too_slow()
    memory.gate = asyncio.Event()
    await asyncio.wait_for(agent.handle_turn(call("hello?")), 5)
    assert brain.inputs[-1].memories == said("what color is it")

    async def waits_for_its_own_recall(message, *, voice_futile):
        memory.gate.set()  # earlier recalls end (and are scored) first
        await asyncio.gather(*(t for t in memory.tasks if not t.done()))
        if voice_futile:
            lately_too_slow()
        assert odds.futile("voice") == voice_futile
        memory.gate = asyncio.Event()
        tasks_before = len(memory.tasks)
        turn = asyncio.create_task(agent.handle_turn(message))
        # until this turn's recall is under way and held at the gate
        await _yield_until(lambda: len(memory.tasks) > tasks_before and not memory.tasks[-1].done())
        for _ in range(20):
            await asyncio.sleep(0)
        assert len(memory.tasks) > tasks_before and not turn.done()
        memory.gate.set()
        await asyncio.wait_for(turn, 5)
        assert brain.inputs[-1].memories == said(message.text)  # its own, not the previous one

    # Another channel keeps its own record: a text from the same customer waits for its own recall.
    await asyncio.wait_for(waits_for_its_own_recall(sms("and the price?", phone="+18135550191"), voice_futile=True), 10)
    # A caller with no previous recall waits too (there is nothing else to give them).
    new_caller = InboundMessage(dealer="x", channel="voice", text="hi, is anyone there", phone="+18135550192")
    await asyncio.wait_for(waits_for_its_own_recall(new_caller, voice_futile=True), 10)
    # Voice recalls are back in time again: the turn waits for its own (within the budget).
    for _ in range(12):
        odds.add("voice", True)
    await asyncio.wait_for(waits_for_its_own_recall(call("can I test drive it"), voice_futile=False), 10)


async def _yield_until(condition, rounds=10_000):
    """Let the event loop run until `condition()` holds (bounded: the caller asserts what it needs)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)


class FailingMemory(GatedMemory):
    async def recall(self, customer_id, query, k=4, prepared=False):
        self.tasks.append(asyncio.current_task())
        await self.gate.wait()
        raise RuntimeError("vector store down")


async def test_recall_odds_score_recalls_done_before_the_turn_looks_and_failed_ones(make_agent):
    svc = make_agent(RecordingBrain()).services
    svc.memory = memory = GatedMemory()
    memory.gate.set()
    svc.recall_budget = {"voice": 30.0, "*": 30.0}
    msg = InboundMessage(dealer="x", channel="voice", text="hi", phone="+18135550193")
    task = svc.start_recall("cust-1", msg)
    await task  # done before the turn looks at it: scored when it does
    assert svc.recall_odds.odds("voice") is None
    assert await svc.recall_within(task, "cust-1", "voice") == (["[voice 2026-11-17] said before: hi"], "fresh")
    assert svc.recall_odds.odds("voice") == 1.0
    svc.memory = failing = FailingMemory()  # a recall that fails is scored "no"
    task = svc.start_recall("cust-1", msg)
    collected = asyncio.create_task(svc.recall_within(task, "cust-1", "voice"))
    await _yield_until(lambda: bool(failing.tasks))
    failing.gate.set()
    assert await asyncio.wait_for(collected, 5) == ([], "none")
    assert svc.recall_odds.odds("voice") == pytest.approx(1.0 - RecallOdds.WEIGHT)


async def test_a_cancelled_recall_leaves_the_turn_with_the_previous_memories_and_a_cancelled_turn_cancelled(
    make_agent,
):
    svc = make_agent(RecordingBrain()).services
    svc.memory = memory = GatedMemory()
    svc.recall_budget = {"voice": 30.0, "*": 30.0}
    msg = InboundMessage(dealer="x", channel="sms", text="and the price?", phone="+18135550194")
    svc._last_recall["cust-2"] = ["[sms 2026-11-17] said before: is the tacoma still there"]
    # cancelled while the turn waits for it
    task = svc.start_recall("cust-2", msg)
    collected = asyncio.create_task(svc.recall_within(task, "cust-2", "sms"))
    await _yield_until(lambda: bool(memory.tasks))
    task.cancel()
    assert await asyncio.wait_for(collected, 5) == (
        ["[sms 2026-11-17] said before: is the tacoma still there"],
        "previous",
    )
    # cancelled before the turn looks at it; a customer with no previous recall gets none
    task = svc.start_recall("cust-3", msg)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert await svc.recall_within(task, "cust-3", "sms") == ([], "none")
    # the turn itself cancelled while it waits: that cancellation is not swallowed
    task = svc.start_recall("cust-2", msg)
    collected = asyncio.create_task(svc.recall_within(task, "cust-2", "sms"))
    await _yield_until(lambda: len(memory.tasks) == 2)
    collected.cancel()
    with pytest.raises(asyncio.CancelledError):
        await collected
    assert not task.done()  # the recall itself goes on (shielded), for the customer's next turn
    memory.gate.set()
    assert await asyncio.wait_for(task, 5) == ["[voice 2026-11-17] said before: and the price?"]
    # both cancelled at once (a shutdown cancels every task): the turn's cancellation wins
    memory.gate = asyncio.Event()
    task = svc.start_recall("cust-2", msg)
    collected = asyncio.create_task(svc.recall_within(task, "cust-2", "sms"))
    await _yield_until(lambda: len(memory.tasks) == 3)
    task.cancel()
    collected.cancel()
    with pytest.raises(asyncio.CancelledError):
        await collected


class PreparingMemory(GatedMemory):
    """Also prepares texts ahead (like CustomerMemory.prepare), finishing only when `prepared` is set;
    `order` records what happened when."""

    def __init__(self) -> None:
        super().__init__()
        self.prepared = asyncio.Event()
        self.started = asyncio.Event()
        self.order: list[str] = []
        self.gate.set()

    async def prepare(self, text):
        self.order.append(f"prepare {text}")
        self.started.set()
        await self.prepared.wait()
        self.order.append(f"prepared {text}")
        return True

    async def recall(self, customer_id, query, k=4, prepared=False):
        self.order.append(f"recall {query} prepared={prepared}")
        return await super().recall(customer_id, query, k, prepared)


async def test_a_turn_waits_for_its_text_being_prepared_in_this_process(make_agent):
    """An SMS turn whose text this process is still embedding (its burst's webhook started it) waits
    for that instead of embedding the text a second time; a failed preparation is no error."""
    brain = RecordingBrain()
    agent = make_agent(brain)
    memory = agent.services.memory = PreparingMemory()
    preparing = asyncio.create_task(agent.services.prepare_recall("is the tacoma still there"))
    again = asyncio.create_task(agent.services.prepare_recall("is the tacoma still there"))  # one at a time
    await asyncio.wait_for(memory.started.wait(), 5)
    msg = sms("is the tacoma still there", phone="+18135550191")
    msg.meta[RECALL_PREPARED] = True
    turn = asyncio.create_task(agent.handle_turn(msg))
    # Given time, the turn still does not recall: it waits for the preparation (a turn that did not
    # would be answered well within this; one on a slow machine would only make this check weaker).
    done, _ = await asyncio.wait({turn}, timeout=0.3)
    assert not done and memory.order == ["prepare is the tacoma still there"]
    memory.prepared.set()
    result = await asyncio.wait_for(turn, 5)
    assert await preparing is True and await again is True
    assert memory.order == ["prepare is the tacoma still there", "prepared is the tacoma still there",
                            "recall is the tacoma still there prepared=True"]  # fmt: skip
    assert result.replies and brain.inputs[-1].memories == ["[voice 2026-11-17] said before: is the tacoma still there"]

    async def broken(text):
        raise RuntimeError("redis is down")

    memory.prepare = broken
    assert await agent.services.prepare_recall("and the price?") is False
    assert agent.services._preparing == {}


async def test_stopping_promotions_keeps_service_texts_and_says_so(make_agent, redis, keys):
    brain = RecordingBrain()
    agent = make_agent(brain)
    r = await agent.handle_turn(sms("can you stop sending me the promo texts? still text me about my appointments"))
    state = await ConsentLedger(redis, keys).state([r.customer_id])
    assert state.status("sms", "marketing") == "opted_out" and state.status("sms", "transactional") != "opted_out"
    text = r.replies[0].text
    assert "promotional" in text and "appointments" in text and "No more messages" not in text
    assert not brain.inputs  # a consent request is answered by the guard, not the brain


async def test_chat_revocation_with_a_question_confirms_then_answers_the_question(make_agent, redis, keys):
    brain = RecordingBrain()
    agent = make_agent(brain)
    msg = InboundMessage(
        dealer="x", channel="chat", visitor_id="v-consent-9", phone="+18135550170",
        text="dont text me anymore please, email is fine. also do u have any 4runners",
    )  # fmt: skip
    r = await agent.handle_turn(msg)
    state = await ConsentLedger(redis, keys).state([r.customer_id])
    assert state.status("sms", "transactional") == "opted_out"
    assert [i.text for i in brain.inputs] == ["email is fine. also do u have any 4runners"]  # the rest only
    first, rest = r.replies[0].text.split("\n", 1)
    assert "won't send you any more text messages" in first and rest == "ok 1"
    # On SMS the one confirmation is all that may be sent, whatever else the text asked.
    r2 = await agent.handle_turn(sms("stop texting me. also do u have any tacomas", phone="+18135550171"))
    assert len(brain.inputs) == 1 and "unsubscribed" in r2.replies[0].text.lower()


async def test_ssn_and_card_numbers_never_reach_the_timeline_or_the_brain(make_agent):
    brain = RecordingBrain()
    agent = make_agent(brain)
    r = await agent.handle_turn(sms("my ssn is 123-45-6789 and card 4111 1111 1111 1111, run my credit", sid="SM77"))
    assert brain.inputs[-1].text == "my ssn is [SSN removed] and card [card number removed], run my credit"
    assert brain.inputs[-1].meta["redacted"] == ["card", "ssn"]
    events = await agent.services.timeline.read([r.customer_id])
    stored = " ".join(e.model_dump_json() for e in events)
    assert "6789" not in stored and "1111 1111" not in stored and "[SSN removed]" in stored


# --- TurnRunner: the graph's nodes without Pregel; its checkpoints must stay LangGraph's own -----------
# A thread may be driven by the runner and by `graph.ainvoke` in any order (an operator replaying a thread
# in LangGraph tooling, say), and `graph.aget_state` must read what the runner wrote.


class PregelRunner:
    """The same turn through LangGraph's own executor."""

    def __init__(self, graph):
        self.graph = graph

    async def run(self, ctx, thread_id):
        return await self.graph.ainvoke(
            {"text": ctx.message.text}, {"configurable": {"thread_id": thread_id}}, context=ctx, durability="exit"
        )


def runner_sms(dealer_id, text, n):
    return InboundMessage(
        dealer=dealer_id, channel="sms", text=text, phone="+18135550199", delivery_id=f"SMrun{n}",
        at=T0 + dt.timedelta(minutes=n),
    )  # fmt: skip


def config(agent, customer_id):
    return {"configurable": {"thread_id": agent.thread_id(customer_id)}}


async def test_runner_checkpoints_are_read_by_the_graph(make_agent, dealer_id):
    agent = make_agent(RecordingBrain())
    results = [await agent.handle_turn(runner_sms(dealer_id, f"question {n}", n)) for n in range(3)]
    assert [r.replies[0].text for r in results] == ["ok 1", "ok 2", "ok 3"]
    state = await agent.graph.aget_state(config(agent, results[0].customer_id))
    assert state.values["turns"] == 3
    assert state.values["dialogue"] == {"turns": 3}
    assert state.values["text"] == ""
    assert state.next == ()  # nothing left pending for Pregel
    assert state.metadata["step"] == 2
    history = [s async for s in agent.graph.aget_state_history(config(agent, results[0].customer_id))]
    assert [h.values["turns"] for h in history][:2] == [3, 2]  # each turn is a checkpoint with a parent


async def test_a_thread_can_alternate_between_the_runner_and_pregel(make_agent, dealer_id):
    agent = make_agent(RecordingBrain())
    runner = agent.runner
    pregel = PregelRunner(agent.graph)
    replies = []
    for n, executor in enumerate([runner, pregel, pregel, runner, pregel, runner]):
        agent.runner = executor
        result = await agent.handle_turn(runner_sms(dealer_id, f"question {n}", n))
        replies.append(result.replies[0].text)
    assert replies == [f"ok {n}" for n in range(1, 7)]  # the slots carried across both executors
    state = await agent.graph.aget_state(config(agent, result.customer_id))
    assert state.values["turns"] == 6
    assert state.next == ()


async def test_a_failing_turn_checkpoints_nothing(make_agent, dealer_id):
    agent = make_agent(RecordingBrain())
    first = await agent.handle_turn(runner_sms(dealer_id, "hello", 0))
    before = await agent.graph.aget_state(config(agent, first.customer_id))

    async def broken(state, runtime):
        raise RuntimeError("persist exploded")

    agent.runner._nodes["persist"] = broken  # the last node: everything else of the turn has run
    with pytest.raises(RuntimeError, match="persist exploded"):
        await agent.handle_turn(runner_sms(dealer_id, "again", 1))
    after = await agent.graph.aget_state(config(agent, first.customer_id))
    assert after.config["configurable"]["checkpoint_id"] == before.config["configurable"]["checkpoint_id"]
    assert after.values == before.values


async def test_a_turn_failing_after_its_reply_was_queued_stores_none_of_it_and_frees_the_customer(
    make_agent, dealer_id
):
    agent = make_agent(RecordingBrain())
    first = await agent.handle_turn(runner_sms(dealer_id, "hello", 0))
    cid = first.customer_id
    before = await agent.graph.aget_state(config(agent, cid))
    persist_node = agent.runner._nodes["persist"]

    async def persist_then_fail(state, runtime):
        await persist_node(state, runtime)  # the reply event and the checkpoint are queued ...
        raise RuntimeError("lost the connection")  # ... and the turn dies before they are sent

    agent.runner._nodes["persist"] = persist_then_fail
    with pytest.raises(RuntimeError, match="lost the connection"):
        await agent.handle_turn(runner_sms(dealer_id, "again", 1))
    events = await agent.services.timeline.read([cid])
    assert [e.text for e in events if e.direction == "outbound"] == ["ok 1"]  # no reply without its turn
    after = await agent.graph.aget_state(config(agent, cid))
    assert after.config["configurable"]["checkpoint_id"] == before.config["configurable"]["checkpoint_id"]
    # The lock is free and the delivery unclaimed: Twilio's retry of the same message is a full turn.
    agent.runner._nodes["persist"] = persist_node
    await agent.services.locks.release(cid, await agent.services.locks.acquire(cid, wait=0))
    retried = await agent.handle_turn(runner_sms(dealer_id, "again", 1))
    assert not retried.duplicate and [r.text for r in retried.replies] == ["ok 2"]


async def test_turns_of_one_customer_alternating_between_two_processes_see_each_others_state(make_agent, dealer_id):
    # Each Agent keeps the checkpoint it wrote last; the other's newer one must win.
    a, b = make_agent(RecordingBrain()), make_agent(RecordingBrain())
    replies = [(await agent.handle_turn(runner_sms(dealer_id, f"q{n}", n))).replies[0].text
               for n, agent in enumerate([a, b, a, a, b, a])]  # fmt: skip
    assert replies == [f"ok {n}" for n in range(1, 7)]


async def test_a_merge_while_the_turn_waited_for_the_lock_is_followed(make_agent, dealer_id):
    agent = make_agent(RecordingBrain())
    svc = agent.services
    texter = (await agent.handle_turn(runner_sms(dealer_id, "hi from my phone", 0))).customer_id
    other = (await svc.customers.resolve(email="pat@example.com")).customer.id
    token = await svc.locks.acquire(texter)  # another turn of the texter's is running ...
    waiting, acquire = asyncio.Event(), svc.locks.acquire

    async def acquire_noted(customer_id, **kw):
        waiting.set()
        return await acquire(customer_id, **kw)

    svc.locks.acquire = acquire_noted
    turn = asyncio.create_task(agent.handle_turn(runner_sms(dealer_id, "still there?", 1)))
    await waiting.wait()  # ... this one has resolved the texter and waits for the lock ...
    await svc.customers.merge(other, texter, reason="same person")  # ... when staff merge the records
    await svc.locks.release(texter, token)
    result = await turn
    assert result.customer_id == other  # the turn ran for the merged record
    events = await svc.timeline.read(await svc.customers.sources(other))
    assert [e.text for e in events if e.direction == "inbound"] == ["hi from my phone", "still there?"]
    assert [e.text for e in events if e.direction == "outbound"][-1] == result.replies[0].text


def _graph(*, fan_out=False, sync_node=False):
    g = StateGraph(AgentState, context_schema=TurnContext)
    for node in (load_context, inbound_guard, brain, outbound_guard, persist):
        g.add_node(node.__name__, node)
    if sync_node:
        g.add_node("log", lambda state: None)
    g.add_edge(START, "load_context")
    g.add_edge("load_context", "inbound_guard")
    g.add_edge("inbound_guard", "brain")
    g.add_edge("brain", "outbound_guard")
    g.add_edge("outbound_guard", "persist")
    if fan_out:
        g.add_edge("brain", "persist")  # two nodes in one step: not a straight line
    g.add_edge("persist", "log" if sync_node else END)
    if sync_node:
        g.add_edge("log", END)
    return g.compile()


def test_the_runner_refuses_graphs_it_cannot_run_as_pregel_would():
    TurnRunner(_graph())  # a straight line of async nodes is fine
    with pytest.raises(RuntimeError, match="fans out"):
        TurnRunner(_graph(fan_out=True))
    with pytest.raises(RuntimeError, match="cannot run node 'log'"):
        TurnRunner(_graph(sync_node=True))


class EmbeddingAheadMemory(GatedMemory):
    """Also embeds a turn's text ahead (like CustomerMemory.warm_query), finishing only when
    `embedded` is set; `order` records what happened when."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = asyncio.Event()
        self.order: list[str] = []
        self.gate.set()

    async def warm_query(self, text):
        self.order.append(f"embed {text}")
        await self.embedded.wait()
        self.order.append(f"embedded {text}")

    async def recall(self, customer_id, query, k=4, prepared=False):
        self.order.append(f"recall {query} prepared={prepared}")
        return await super().recall(customer_id, query, k, prepared)


async def test_a_turn_embeds_its_text_as_it_begins_and_its_recall_waits_for_that(make_agent):
    """The embedding starts before identity, the delivery claim and the lock; the recall, started
    after them, waits for it instead of embedding the text again. Not for a text prepared elsewhere;
    a failed embedding is no error (the recall embeds)."""
    brain = RecordingBrain()
    agent = make_agent(brain)
    memory = agent.services.memory = EmbeddingAheadMemory()
    msg = InboundMessage(dealer="x", channel="chat", text="is the tacoma still there", visitor_id="visitor-ahead1")
    turn = asyncio.create_task(agent.handle_turn(msg))
    await _yield_until(lambda: bool(memory.order))
    assert memory.order == ["embed is the tacoma still there"]  # before the customer is even known
    done, _ = await asyncio.wait({turn}, timeout=0.3)  # given time, the turn still does not recall
    assert not done and memory.order == ["embed is the tacoma still there"]
    memory.embedded.set()
    result = await asyncio.wait_for(turn, 5)
    assert memory.order == ["embed is the tacoma still there", "embedded is the tacoma still there",
                            "recall is the tacoma still there prepared=False"]  # fmt: skip
    assert result.replies and brain.inputs[-1].memories == ["[voice 2026-11-17] said before: is the tacoma still there"]
    # a text prepared elsewhere (an SMS burst's webhook process) is not embedded again here
    memory.order.clear()
    prepared = sms("and the price?", phone="+18135550195")
    prepared.meta[RECALL_PREPARED] = True
    await asyncio.wait_for(agent.handle_turn(prepared), 5)
    assert memory.order == ["recall and the price? prepared=True"]

    async def broken(text):
        raise RuntimeError("the model could not be loaded")

    memory.order.clear()
    memory.warm_query = broken
    result = await asyncio.wait_for(agent.handle_turn(sms("what color is it", phone="+18135550195")), 5)
    assert result.replies and memory.order == ["recall what color is it prepared=False"]
    assert agent.services._preparing == {}


async def test_a_web_chat_turn_recalls_with_the_vector_embedded_as_it_began(
    make_agent, redis_handle, keys, tmp_path, counting_encoder
):
    """With the real vector memory: the model runs once for the text, and the recall finds the
    vector in this process's cache (`/metrics` says so) instead of embedding it in the recall."""
    from prometheus_client import REGISTRY

    from memory.embeddings import Embedder
    from memory.vectors import CustomerMemory, RecallIndex, open_vector_store

    def vectors(source):
        return REGISTRY.get_sample_value("dealeros_memory_query_vectors_total", {"source": source}) or 0

    raw = redis_handle.client(decode_responses=False)
    try:
        brain = RecordingBrain()
        agent = make_agent(brain)
        encoder = counting_encoder()
        store = open_vector_store(None, tmp_path, Embedder(encoder))
        memory = CustomerMemory(store, agent.services.dealer.id, recall_index=RecallIndex(raw, keys))
        await memory.backfill_recall_index()
        agent.services.memory = memory
        text = "do you still have the blue rav4 hybrid from the ad"
        before = {source: vectors(source) for source in ("cache", "embedded", "prepared")}
        result = await agent.handle_turn(
            InboundMessage(dealer="x", channel="chat", text=text, visitor_id="visitor-ahead2")
        )
        await agent.services.drain()  # its memory is written (from the cache too)
        assert result.replies and encoder.texts == [text]
        after = {source: vectors(source) for source in before}
        assert {source: after[source] - before[source] for source in before} == {
            "cache": 1,
            "embedded": 0,
            "prepared": 0,
        }
        # a long text (the cache keeps none) is not embedded ahead: the recall embeds it, once
        long_text = "I need a third row for the kids and the dog, and room for the stroller too. " * 4
        result = await agent.handle_turn(
            InboundMessage(dealer="x", channel="chat", text=long_text.strip(), visitor_id="visitor-ahead2")
        )
        await agent.services.drain()
        # once for the recall and once for the memory write (the cache keeps no long text), not ahead too
        assert result.replies and encoder.texts[1:] == [long_text.strip()] * 2
        again = {source: vectors(source) for source in before}
        assert again["embedded"] - after["embedded"] == 1 and again["cache"] == after["cache"]
    finally:
        await raw.aclose()


async def test_turns_of_the_same_text_at_once_share_one_embedding(make_agent):
    """Two customers say the same thing in the same moment: one embedding, both recalls wait for it,
    nothing is left registered."""
    brain = RecordingBrain()
    agent = make_agent(brain)
    memory = agent.services.memory = EmbeddingAheadMemory()
    turns = [
        asyncio.create_task(agent.handle_turn(sms("yes", phone=f"+1813555019{n}", sid=f"SMsame{n}"))) for n in (6, 7)
    ]
    await _yield_until(lambda: bool(memory.order))
    for _ in range(20):
        await asyncio.sleep(0)
    assert memory.order == ["embed yes"]  # one embedding, and no recall before it is done
    memory.embedded.set()
    results = await asyncio.wait_for(asyncio.gather(*turns), 5)
    assert all(r.replies for r in results)
    assert memory.order == ["embed yes", "embedded yes", "recall yes prepared=False", "recall yes prepared=False"]
    assert agent.services._preparing == {}


async def test_an_embedding_ahead_cancelled_before_it_ran_lets_its_recall_go(make_agent):
    svc = make_agent(RecordingBrain()).services
    svc.memory = EmbeddingAheadMemory()
    msg = InboundMessage(dealer="x", channel="chat", text="hello there", visitor_id="visitor-ahead3")
    svc.embed_ahead(msg)
    [task] = svc._background
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert svc._preparing == {} and svc.memory.order == []
    recall = svc.start_recall("cust-4", msg)
    assert await asyncio.wait_for(recall, 5) == ["[voice 2026-11-17] said before: hello there"]
