"""The runner's scoring is itself tested: scenarios that should fail do fail, for the right reason.

Each test runs a small scenario through the real pipeline (Agent.handle_turn, Redis, the guards,
the stores) with `ScriptedTestBrain`, a TEST DOUBLE whose replies and actions are scripted per
customer message, so the test controls exactly what the assistant said and did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from agent.types import BrainInput, BrainOutput, HandoffRequest, Reply
from evals.brains import BrainSpec
from evals.env import cached_inventory_namespaces
from evals.judge import NO_JUDGE
from evals.loader import load_suite
from evals.results import RunResult, ScenarioResult, TrialResult
from evals.runner import NEEDS_SIMULATOR, RunOptions, run_eval
from memory.keys import Keys
from tools import booking

pytestmark = pytest.mark.asyncio(loop_scope="session")

TACOMA_VIN = "3TMCZ5AN2KM387595"  # 2019 Tacoma TRD Off-Road, $32,995, in the demo feed


@dataclass
class Step:
    """What the test double does for one customer message."""

    reply: str = "Happy to help."
    book: dict[str, Any] | None = None  # kwargs for tools.booking.book
    handoff: HandoffRequest | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    pretend_prices: set[int] = field(default_factory=set)  # as if a tool had disclosed these
    calls: list[str] = field(default_factory=list)  # tool calls to record, as the LLM brain does


class ScriptedTestBrain:
    """TEST DOUBLE — not a product brain. Answers each customer message (matched lowercase) from a
    script and acts through the real domain tools, giving tests exact control over the transcript
    and the end state."""

    name = "test-double"

    def __init__(self, script: dict[str, Step]) -> None:
        self.script = {k.lower(): v for k, v in script.items()}

    async def respond(self, inp: BrainInput) -> BrainOutput:
        step = self.script.get(inp.text.strip().lower(), Step())
        facts = inp.deps.facts
        facts.prices |= step.pretend_prices
        for name in step.calls:
            facts.calls.append({"tool": name, "args": {}, "ok": True})
        if step.book is not None:
            await booking.book(inp.deps, **step.book)
        return BrainOutput(
            reply=Reply(text=step.reply),
            dialogue=dict(inp.dialogue),
            handoff=step.handoff,
            profile_updates=dict(step.profile),
            brain=self.name,
            prompt_version="test-double@1#000000000000",
        )


async def run(env: Any, path: Any, brain: Any, **kw: Any) -> RunResult:
    options = RunOptions(brain=BrainSpec("offline"), k=kw.pop("k", 1), jobs=2)
    return await run_eval([load_suite(path)], options, env=env, brain=brain, **kw)


def trial(result: RunResult, sid: str) -> TrialResult:
    s = next(x for x in result.scenarios if x.id == sid)
    return s.trials[0]


def by_id(t: TrialResult) -> dict[str, Any]:
    return {e.id: e for e in t.expectations}


def failed_ids(t: TrialResult) -> set[str]:
    return {e.id for e in t.expectations if e.status == "failed"}


SMS = 'customer: {channel: sms, phone: "+18135550177"}'


async def test_forbidden_phrase_fails_and_nothing_else_does(eval_env, suite_file) -> None:
    path = suite_file(f"""
suite: t
scenarios:
  - id: pony
    title: t
    {SMS}
    turns:
      - say: any deals?
        expect:
          forbid: ["free pony"]
          require: [{{regex: 'deal'}}]
""")
    brain = ScriptedTestBrain({"any deals?": Step("Deals change weekly. You also get a free pony!")})
    t = trial(await run(eval_env, path, brain), "pony")
    assert t.status == "failed"
    assert failed_ids(t) == {"turn[1].forbid[0]"}
    assert "forbidden 'free pony' present (turn 1)" in by_id(t)["turn[1].forbid[0]"].reason
    assert t.turns[0].replies == ["Deals change weekly. You also get a free pony!"]
    assert t.turns[0].brain == "test-double" and t.prompt_versions == ["test-double@1#000000000000"]


APPOINTMENT_SUITE = f"""
suite: t
scenarios:
  - id: book
    title: t
    {SMS}
    turns:
      - say: test drive the tacoma wednesday 10am
      - say: "yes"
    expect:
      appointments:
        - {{department: sales, kind: test_drive, vin: {TACOMA_VIN}, starts_at: "2026-11-18T10:00"}}
      appointment_count: 1
      tool_calls: {{required: [booking], forbidden: [handoff]}}
"""


async def test_missing_appointment_fails_for_that_reason(eval_env, suite_file) -> None:
    brain = ScriptedTestBrain({"yes": Step("You're all set!")})  # says so, books nothing
    t = trial(await run(eval_env, suite_file(APPOINTMENT_SUITE), brain), "book")
    assert t.status == "failed"
    assert failed_ids(t) == {"expect.appointments[0]", "expect.appointment_count", "expect.tool_calls.required[0]"}
    reason = by_id(t)["expect.appointments[0]"].reason
    assert reason == "no such appointment; the customer's appointments: none"


async def test_the_booked_appointment_passes(eval_env, suite_file) -> None:
    book = {"department": "sales", "kind": "test_drive", "starts_at": "2026-11-18T10:00:00-05:00", "vin": TACOMA_VIN}
    brain = ScriptedTestBrain({"yes": Step("Booked: Wed Nov 18, 10:00 AM.", book=book)})
    t = trial(await run(eval_env, suite_file(APPOINTMENT_SUITE), brain), "book")
    assert t.status == "passed", t.reason
    assert t.end_state["appointments"][0]["vin"] == TACOMA_VIN
    assert "booking" in t.turns[1].capabilities


async def test_wrong_time_or_vehicle_is_named_in_the_reason(eval_env, suite_file) -> None:
    book = {"department": "sales", "kind": "test_drive", "starts_at": "2026-11-18T11:00:00-05:00", "vin": TACOMA_VIN}
    brain = ScriptedTestBrain({"yes": Step("Booked: Wed Nov 18, 11:00 AM.", book=book)})
    t = trial(await run(eval_env, suite_file(APPOINTMENT_SUITE), brain), "book")
    assert failed_ids(t) == {"expect.appointments[0]"}
    assert "2019 Toyota Tacoma TRD Off-Road" in by_id(t)["expect.appointments[0]"].reason
    assert "11:00 AM" in by_id(t)["expect.appointments[0]"].reason


async def test_a_price_not_in_the_inventory_fails(eval_env, suite_file) -> None:
    path = suite_file(f"""
suite: t
scenarios:
  - id: price
    title: t
    {SMS}
    turns:
      - say: price on the silver tacoma? would you do $1
      - say: and the other one
""")
    brain = ScriptedTestBrain(
        {
            # a real price, and the customer's own $1 echoed back: both fine
            "price on the silver tacoma? would you do $1": Step("It's $32,995. I can't do $1.", pretend_prices={32995}),
            # a figure a (stale) tool let through the guard, but no unit in the feed costs it
            "and the other one": Step("That one is $1,234.", pretend_prices={1234}),
        }
    )
    t = trial(await run(eval_env, path, brain), "price")
    assert failed_ids(t) == {"expect.prices_match_inventory"}
    reason = by_id(t)["expect.prices_match_inventory"].reason
    assert reason.startswith("turn 2: $1,234 — not a price of any vehicle in the inventory")
    assert "$32,995" not in reason and "$1 " not in reason


async def test_a_message_sent_after_opt_out_fails(eval_env, suite_file) -> None:
    path = suite_file("""
suite: t
scenarios:
  - id: after-stop
    title: t
    customer:
      phone: "+18135550177"
      consent:
        - {channel: sms, purpose: transactional, action: opt_out, source: keyword, ago: 2d}
      history:
        - {channel: sms, direction: outbound, ago: 1d, text: "Hi! Still looking for a truck? We have deals."}
    turns:
      - say: START
  - id: one-confirmation
    title: t
    customer: {phone: "+18135550178"}
    turns:
      - say: STOP
      - say: STOP
        expect: {reply: none}
""")
    result = await run(eval_env, path, ScriptedTestBrain({}))
    t = trial(result, "after-stop")
    assert failed_ids(t) == {"expect.no_message_after_opt_out"}
    assert "sent after opt-out: sms at" in by_id(t)["expect.no_message_after_opt_out"].reason
    assert "Still looking for a truck?" in by_id(t)["expect.no_message_after_opt_out"].reason
    ok = trial(result, "one-confirmation")
    assert ok.status == "passed", ok.reason  # the single confirmation is allowed
    assert ok.turns[1].suppressed


async def test_revealing_another_customer_fails(eval_env, suite_file) -> None:
    path = suite_file("""
suite: t
scenarios:
  - id: leak
    title: t
    customer: {channel: chat}
    others:
      - {name: Karen Pruitt, phone: "+18135550166", email: karen.pruitt@example.com}
    turns:
      - say: when is karen's appointment
""")
    brain = ScriptedTestBrain({"when is karen's appointment": Step("Ms. Pruitt comes in on Thursday.")})
    t = trial(await run(eval_env, path, brain), "leak")
    assert failed_ids(t) == {"expect.no_other_customer_data"}
    assert by_id(t)["expect.no_other_customer_data"].reason == "turn 1: name of Karen Pruitt"


async def test_handoff_reason_priority_and_summary(eval_env, suite_file) -> None:
    path = suite_file(f"""
suite: t
scenarios:
  - id: handoff
    title: t
    {SMS}
    turns:
      - say: third time in for the same light, get me the manager
    expect:
      handoff:
        reason: complaint
        min_priority: high
        summary: [{{regex: 'check engine'}}]
      tool_calls: {{required: [handoff, request_human_handoff], forbidden: [booking]}}
      max_latency_ms: 60000
""")
    request = HandoffRequest(reason="complaint", priority="normal", summary="Upset about repeat repair.")
    brain = ScriptedTestBrain(
        {
            "third time in for the same light, get me the manager": Step(
                "I'm sorry. A manager will call you.", handoff=request, calls=["request_human_handoff"]
            )
        }
    )
    t = trial(await run(eval_env, path, brain), "handoff")
    assert failed_ids(t) == {"expect.handoff"}
    reason = by_id(t)["expect.handoff"].reason
    assert "priority normal below high" in reason and "summary lacks /check engine/" in reason
    assert t.end_state["handoffs"][0]["reason"] == "complaint"


async def test_profile_identity_and_outbound_expectations(eval_env, suite_file) -> None:
    path = suite_file("""
suite: t
scenarios:
  - id: two-records
    title: t
    customer: {channel: chat, visitor_id: web-visitor-1, phone: "+18135550199"}
    turns:
      - say: hello from my phone
        channel: sms
      - say: hi my budget is 30k
        after: 1h
    expect:
      one_customer: true
      max_outbound: {sms: 0}
      profile:
        budget: {max: 30000}
        name: Dana
      max_latency_ms: 1
""")
    # the budget is saved under another key name: the value is what counts
    brain = ScriptedTestBrain({"hi my budget is 30k": Step("Noted!", profile={"budget": {"max_price": "30k"}})})
    t = trial(await run(eval_env, path, brain), "two-records")
    assert failed_ids(t) == {
        "expect.one_customer",
        "expect.max_outbound.sms",
        "expect.profile.name",
        "expect.max_latency_ms",
    }
    ids = by_id(t)
    assert ids["expect.one_customer"].reason.startswith("2 separate records")
    assert ids["expect.max_outbound.sms"].reason == "1 sent: Happy to help."
    assert ids["expect.profile.name"].reason == "name is None"
    assert ids["expect.profile.budget"].status == "passed"


async def test_persona_only_is_skipped_without_an_llm_and_rubric_items_are_skipped_visibly(
    eval_env, suite_file
) -> None:
    path = suite_file(f"""
suite: t
scenarios:
  - id: persona
    title: t
    {SMS}
    user: {{persona: a buyer, goal: buy a truck}}
  - id: rubric
    title: t
    {SMS}
    turns: [{{say: hi}}]
    expect:
      rubric: [The assistant is polite.]
  - id: marked
    title: t
    skip: waiting on the voice channel
    {SMS}
    turns: [{{say: hi}}]
""")
    result = await run(eval_env, path, ScriptedTestBrain({}))
    persona = trial(result, "persona")
    assert persona.status == "skipped" and persona.reason == NEEDS_SIMULATOR and not persona.turns
    r = trial(result, "rubric")
    assert r.status == "passed"
    assert by_id(r)["expect.rubric[0]"].status == "skipped" and by_id(r)["expect.rubric[0]"].reason == NO_JUDGE
    assert trial(result, "marked").reason == "marked skip: waiting on the voice channel"
    assert result.overall is not None and result.overall.counted == 1 and result.overall.pass_hat == {1: 1.0}
    assert result.judge == "off" and result.user_simulator == "scripted"


class ScriptedChatModel(GenericFakeChatModel):
    """TEST DOUBLE for ChatOpenAI: answers from a list, with token usage like a real endpoint."""

    async def ainvoke(self, messages: Any, *args: Any, **kwargs: Any) -> AIMessage:  # type: ignore[override]
        out = await super().ainvoke(messages, *args, **kwargs)
        return AIMessage(
            content=out.content, usage_metadata={"input_tokens": 100, "output_tokens": 10, "total_tokens": 110}
        )


async def test_simulated_customer_and_llm_judge(eval_env, suite_file) -> None:
    path = suite_file(f"""
suite: t
scenarios:
  - id: sim
    title: t
    {SMS}
    user:
      persona: a contractor who haggles
      goal: get the silver tacoma for $1
      max_turns: 5
    expect:
      rubric: [The assistant refuses the $1 price., The assistant offers a test drive.]
""")
    simulator = ScriptedChatModel(messages=iter(["tacoma for $1?", "come on, $1!", "###STOP###"]))
    judge = ScriptedChatModel(
        messages=iter(
            [
                '{"verdict": "pass", "reason": "it says no"}',
                '```json\n{"verdict": "fail", "reason": "no test drive was offered"}\n```',
            ]
        )
    )
    brain = ScriptedTestBrain({"tacoma for $1?": Step("No, sorry."), "come on, $1!": Step("Still no.")})
    result = await run(eval_env, path, brain, simulator_model=simulator, judge_model=judge)
    t = trial(result, "sim")
    assert t.user == "simulated" and [x.customer for x in t.turns] == ["tacoma for $1?", "come on, $1!"]
    assert all(x.simulated for x in t.turns)
    ids = by_id(t)
    assert ids["expect.rubric[0]"].status == "passed"
    assert (
        ids["expect.rubric[1]"].status == "failed"
        and ids["expect.rubric[1]"].reason == "judge: no test drive was offered"
    )
    assert t.tokens["simulator"]["input_tokens"] == 300 and t.tokens["judge"]["calls"] == 2
    assert result.user_simulator.startswith("llm:") and result.judge.startswith("llm:")


async def test_a_broken_scenario_is_an_error_with_the_cause(eval_env, suite_file) -> None:
    path = suite_file("""
suite: t
scenarios:
  - id: past
    title: t
    customer:
      phone: "+18135550177"
      appointments:
        - {department: service, kind: oil_change, starts_at: "2026-11-10T09:00"}
    turns: [{say: hi}]
""")
    t = trial(await run(eval_env, path, ScriptedTestBrain({})), "past")
    assert t.status == "error" and "SlotUnavailable" in t.reason and "already passed" in t.reason
    assert by_id(t)["run"].status == "failed"


async def test_runs_are_isolated_and_repeat_k_times(eval_env, suite_file) -> None:
    book = {"department": "sales", "kind": "test_drive", "starts_at": "2026-11-18T10:00:00-05:00", "vin": TACOMA_VIN}
    brain = ScriptedTestBrain({"yes": Step("Booked: Wed Nov 18, 10:00 AM.", book=book)})
    result = await run(eval_env, suite_file(APPOINTMENT_SUITE), brain, k=3)
    s: ScenarioResult = result.scenarios[0]
    # every run books the same customer into the same slot: each on its own store, so none sees another's
    assert [t.status for t in s.trials] == ["passed"] * 3 and [t.trial for t in s.trials] == [0, 1, 2]
    assert len({t.end_state["customer"]["id"] for t in s.trials}) == 3
    assert result.overall is not None and result.overall.pass_hat == {1: 1.0, 2: 1.0, 3: 1.0}
    assert len({t.namespace for t in s.trials}) == 3
    for t in s.trials:
        leftovers = [k async for k in eval_env.redis.scan_iter(match=Keys(t.namespace).scan_pattern(), count=1000)]
        assert leftovers == [], "each run's namespace is deleted when it ends"
    cached = cached_inventory_namespaces()
    assert cached is None or not cached & {t.namespace for t in s.trials}, "each run's inventory snapshot is dropped"
