"""Run suites: every scenario k times, each run on a fresh namespace, in parallel, with progress.

`run_eval` is the programmatic entry (the CLI and the tests use it). Runs are asyncio tasks bounded
by `jobs`; each builds its own `Services`/`Agent` over the shared stores (its own dealer namespace,
clock and checkpointer), so runs never share state. One brain instance serves every run: brains
keep no per-conversation state of their own (the dialogue lives in the checkpoint).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import subprocess
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.turn import Agent, Services
from evals.brains import BrainSpec, LLMConfig, RecordingBrain, warm_up
from evals.conversation import Conversation
from evals.env import DEFAULT_LOCAL_NOW, EvalEnvironment
from evals.judge import Judge, skipped_rubric
from evals.results import ExpectationResult, RunResult, ScenarioResult, TrialResult
from evals.scenario import Scenario, Suite, resolve_path
from evals.scoring import ScoringInput, score
from evals.seed import localize, seed_customer
from evals.simulator import SimulatedCustomer
from evals.state import snapshot
from memory.checkpoint import AsyncRedisCheckpointSaver
from memory.vectors import CustomerMemory, RecallIndex

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
NEEDS_SIMULATOR = (
    "persona-only scenario: a simulated customer needs an LLM (set OPENAI_API_KEY/OPENAI_BASE_URL); "
    "add scripted `turns` to run it offline"
)


@dataclass
class RunOptions:
    brain: BrainSpec
    k: int = 1
    jobs: int = 4
    simulator: LLMConfig | None = None  # None: scripted turns only
    judge: LLMConfig | None = None  # None: rubric items are skipped
    prefer_simulated: bool = False  # use the persona even when scripted turns exist
    prompt_label: str | None = None
    price_in_per_mtok: float | None = None  # USD per million input tokens (cost in the results)
    price_out_per_mtok: float | None = None


def git_commit(root: Path = ROOT) -> tuple[str, bool]:
    """(HEAD commit or "unknown", whether the work tree has uncommitted changes)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout.strip()
        )
        return head or "unknown", dirty
    except (OSError, subprocess.SubprocessError):
        return "unknown", False


def default_visitor(scenario: Scenario) -> str:
    """The web-chat visitor id of a scenario's customer when the scenario names none."""
    return ("web-visitor-" + scenario.id.replace(".", "-"))[:64]


def scenario_start(scenario: Scenario, tz: Any) -> dt.datetime:
    return localize(scenario.now or DEFAULT_LOCAL_NOW, tz)


class Runner:
    """One eval run: holds the brain, the optional simulator/judge models and the environment."""

    def __init__(
        self,
        env: EvalEnvironment,
        options: RunOptions,
        brain: Any = None,
        *,
        simulator_model: Any = None,
        judge_model: Any = None,
    ) -> None:
        """`brain`, `simulator_model` and `judge_model` override what `options` would build (tests
        pass scripted chat models and test-double brains here)."""
        self.env = env
        self.options = options
        self.brain = brain if brain is not None else options.brain.build()
        self.sim_model = simulator_model or (
            options.simulator.chat_model(temperature=1.0) if options.simulator else None
        )
        self.judge_model = judge_model or (options.judge.chat_model(temperature=0.0) if options.judge else None)

    # --- one run of one scenario -------------------------------------------------------------------
    async def trial(self, scenario: Scenario, trial: int) -> TrialResult:
        if scenario.skip:
            return TrialResult(trial=trial, status="skipped", reason=f"marked skip: {scenario.skip}", user="none")
        simulate = (
            scenario.user is not None
            and self.sim_model is not None
            and (not scenario.turns or self.options.prefer_simulated)
        )
        if not scenario.turns and not simulate:
            return TrialResult(trial=trial, status="skipped", reason=NEEDS_SIMULATOR, user="none")
        started = time.perf_counter()
        config = resolve_path(scenario.file, scenario.dealer.config)
        inventory = resolve_path(scenario.file, scenario.dealer.inventory)
        template = await self.env.template(config, inventory)
        run = await self.env.new_run(template, scenario_start(scenario, template.config.tz))
        # As `dealeros serve` recalls: through the Redis recall index (a fresh run's index is
        # complete from the start: every memory of the run is written through this object).
        memory = CustomerMemory(run.vectors, run.id, recall_index=RecallIndex(self.env.raw, run.keys))  # type: ignore[arg-type]
        await memory.recall_index.mark_ready()  # type: ignore[union-attr]
        services = Services(
            dealer=run.dealer,
            redis=self.env.redis,
            keys=run.keys,
            clock=run.clock,
            memory=memory,
            vectors=run.vectors,
            # Scores must not depend on how busy the machine is: every turn waits for its recall.
            recall_budget={"*": 30.0},
        )
        recorder = RecordingBrain(self.brain)
        agent = Agent(
            services,
            recorder,
            checkpointer=AsyncRedisCheckpointSaver(self.env.raw, prefix=run.keys.checkpoint_prefix()),
        )
        visitor = scenario.customer.visitor_id or default_visitor(scenario)
        convo = Conversation(scenario, run, agent, recorder, visitor_id=visitor)
        result = TrialResult(
            trial=trial, status="error", user="simulated" if simulate else "scripted", namespace=run.id
        )
        sim: SimulatedCustomer | None = None
        try:
            other_ids = []
            for other in scenario.others:
                other_ids.append((await seed_customer(run, self.env.redis, other, memory=memory)).customer_id)
            seeded_handoffs: set[str] = set()
            customer_texts = [h.text for h in scenario.customer.history if h.direction == "inbound"]
            customer_texts += [
                str(v) for d in (scenario.customer.budget, scenario.customer.trade_in) if d for v in d.values()
            ]
            if scenario.customer.seeded:
                seed = scenario.customer
                if not (seed.phone or seed.email or seed.visitor_id):
                    seed = seed.model_copy(update={"visitor_id": visitor})
                seeded = await seed_customer(run, self.env.redis, seed, memory=memory)
                convo.customer_id = seeded.customer_id
                seeded_handoffs = set(seeded.handoff_ids)
            if simulate:
                assert scenario.user is not None and self.sim_model is not None
                channel = scenario.user.channel or scenario.customer.channel
                sim = SimulatedCustomer(self.sim_model, scenario.user, channel, run.dealer.name)
                await convo.simulated(sim, channel)
            else:
                await convo.scripted()
            for t in convo.turns:  # merges may have happened since: name each turn's record as it is now
                if t.customer_id:
                    t.customer_id = (await services.customers.primary_of(t.customer_id)).id
            state = await snapshot(
                self.env.redis,
                run.keys,
                run.dealer,
                convo.customer_id,
                other_ids,
                lambda: run.clock.now,
                involved=[t.customer_id for t in convo.turns if t.customer_id],
            )
            _attach_guard_notes(convo.turns, state.timeline)
            scoring = ScoringInput(
                scenario=scenario if not simulate else scenario.model_copy(update={"turns": []}),
                turns=convo.turns,
                state=state,
                template=template,
                sms_max_chars=run.dealer.messaging.sms_max_chars or 320,
                seeded_handoffs=seeded_handoffs,
                customer_texts=customer_texts,
            )
            expectations = score(scoring)
            expectations += await self._rubric(scenario, convo, state.summary(), run.dealer.name, result)
            result.expectations = expectations
            result.end_state = state.summary()
            failed = [e for e in expectations if e.status == "failed"]
            result.status = "failed" if failed else "passed"
            result.reason = "; ".join(f"{e.id}: {e.reason}" for e in failed[:3])
        except Exception as exc:
            log.warning("scenario %s run %d crashed", scenario.key, trial, exc_info=True)
            tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
            result.status = "error"
            result.reason = f"{type(exc).__name__}: {exc}"[:500]
            result.expectations.append(
                ExpectationResult(
                    id="run",
                    kind="error",
                    description="the scenario runs to the end",
                    status="failed",
                    reason="".join(tb[-3:])[-1500:],
                )
            )
        finally:
            try:
                await services.drain()
                await self.env.end_run(run)
            except Exception:
                log.warning("cleanup of run %s failed", run.id, exc_info=True)
        result.turns = convo.turns
        result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        result.prompt_versions = sorted({t.prompt_version for t in convo.turns if t.prompt_version})
        if convo.brain_usage:
            result.tokens["brain"] = dict(convo.brain_usage)
        if sim is not None and sim.usage:
            result.tokens["simulator"] = dict(sim.usage)
        result.cost_usd = self._cost(result.tokens)
        return result

    async def _rubric(
        self, scenario: Scenario, convo: Conversation, facts: dict[str, Any], dealer_name: str, result: TrialResult
    ) -> list[ExpectationResult]:
        items = scenario.expect.rubric
        if not items:
            return []
        if self.judge_model is None:
            return [skipped_rubric(i, item) for i, item in enumerate(items)]
        judge = Judge(self.judge_model)
        graded = await judge.grade(items, convo.turns, facts, dealer_name)
        if judge.usage:
            result.tokens["judge"] = dict(judge.usage)
        return graded

    def _cost(self, tokens: dict[str, dict[str, int]]) -> float | None:
        p_in, p_out = self.options.price_in_per_mtok, self.options.price_out_per_mtok
        if p_in is None and p_out is None:
            return None
        total = 0.0
        for usage in tokens.values():
            total += usage.get("input_tokens", 0) * (p_in or 0) / 1e6
            total += usage.get("output_tokens", 0) * (p_out or 0) / 1e6
        return round(total, 6)

    # --- everything --------------------------------------------------------------------------------
    async def run(
        self, suites: Sequence[Suite], *, on_done: Callable[[Scenario, TrialResult], None] | None = None
    ) -> RunResult:
        opts = self.options
        started_at = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        commit, dirty = git_commit()
        scenarios = [s for suite in suites for s in suite.scenarios]
        results = {
            s.key: ScenarioResult(
                key=s.key,
                suite=s.suite,
                id=s.id,
                title=s.title,
                file=_display_path(s.file),
                line=s.line,
                tags=s.tags,
                definition=s.definition_hash(),
            )
            for s in scenarios
        }
        for s in scenarios:  # fixtures are prepared up front, so no run's timing includes embedding them
            if not s.skip:
                await self.env.template(resolve_path(s.file, s.dealer.config), resolve_path(s.file, s.dealer.inventory))
        gate = asyncio.Semaphore(max(1, opts.jobs))

        async def one(s: Scenario, trial: int) -> tuple[str, TrialResult]:
            async with gate:
                r = await self.trial(s, trial)
            if on_done is not None:
                on_done(s, r)
            return s.key, r

        done = await asyncio.gather(*(one(s, i) for i in range(opts.k) for s in scenarios))
        for key, r in done:
            results[key].trials.append(r)
        for r in results.values():
            r.trials.sort(key=lambda t: t.trial)
        run = RunResult(
            run_id=f"{started_at:%Y%m%dT%H%M%SZ}-{opts.brain.kind}-{secrets.token_hex(3)}",
            started_at=started_at.isoformat(),
            finished_at=dt.datetime.now(dt.UTC).isoformat(),
            duration_s=round(time.perf_counter() - t0, 2),
            git_commit=commit,
            git_dirty=dirty,
            brain=str(getattr(self.brain, "name", "") or opts.brain.kind),
            model=opts.brain.model,
            prompt_label=opts.prompt_label,
            user_simulator=_model_label(self.sim_model, opts.simulator) or "scripted",
            judge=_model_label(self.judge_model, opts.judge) or "off",
            k=opts.k,
            jobs=opts.jobs,
            scenarios=list(results.values()),
        )
        run.summarize()
        return run


def _display_path(file: str) -> str:
    """Suite files inside the project are shown relative to it (results travel between machines)."""
    try:
        return Path(file).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return file


def _model_label(model: Any, config: LLMConfig | None) -> str | None:
    if model is None:
        return None
    name = config.model if config else getattr(model, "model_name", None) or type(model).__name__
    return f"llm:{name}"


def _attach_guard_notes(turns: list[Any], timeline: list[Any]) -> None:
    """What the outbound guard removed from each reply (from the reply's timeline event)."""
    by_text: dict[str, list[str]] = {}
    for e in timeline:
        violations = (e.meta or {}).get("guard_violations")
        if e.direction == "outbound" and violations:
            by_text[e.text] = [str(v) for v in violations]
    for t in turns:
        for reply in t.replies:
            if reply in by_text:
                t.guard_violations = by_text[reply]


async def run_eval(
    suites: Sequence[Suite],
    options: RunOptions,
    *,
    env: EvalEnvironment | None = None,
    redis_url: str | None = None,
    cache_dir: Path | None = None,
    brain: Any = None,
    simulator_model: Any = None,
    judge_model: Any = None,
    on_done: Callable[[Scenario, TrialResult], None] | None = None,
) -> RunResult:
    """Run `suites` with `options`. Opens (and closes) an environment unless one is given."""
    own = env is None
    if env is None:
        env = await EvalEnvironment.open(redis_url=redis_url, cache_dir=cache_dir)
    try:
        runner = Runner(env, options, brain=brain, simulator_model=simulator_model, judge_model=judge_model)
        await asyncio.to_thread(warm_up, runner.brain)
        return await runner.run(suites, on_done=on_done)
    finally:
        if own:
            await env.close()
