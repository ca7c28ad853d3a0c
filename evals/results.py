"""What an eval run produces (one `results.json` per run), and the pass^k arithmetic.

pass^k (tau-bench): the chance that *all* k independent runs of a scenario pass. With n runs of
which c passed, C(c, k) / C(n, k) is its unbiased estimate; a suite's pass^k is the mean over its
scenarios. pass^1 is the plain pass rate; a brain that passes 3 of 4 runs everywhere has pass^1
0.75 but pass^4 0 — it is not reliable yet.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

SCHEMA_VERSION = 1
Status = Literal["passed", "failed", "skipped"]
TrialStatus = Literal["passed", "failed", "skipped", "error"]


def pass_hat_k(n: int, c: int, k: int) -> float:
    """C(c, k) / C(n, k): the estimated probability that k sampled runs of n (c passing) all pass."""
    if not 0 < k <= n or not 0 <= c <= n:
        raise ValueError(f"pass^k needs 0 < k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    return math.comb(c, k) / math.comb(n, k)


def mean_pass_hat(counts: list[tuple[int, int]], k: int) -> float | None:
    """Mean pass^k over scenarios given as (n, c); None when there are none."""
    if not counts:
        return None
    return sum(pass_hat_k(n, c, k) for n, c in counts) / len(counts)


class ExpectationResult(BaseModel):
    id: str  # stable across runs: "expect.appointments[0]", "turn[2].forbid[1]", ...
    kind: str
    description: str
    status: Status
    reason: str = ""
    turn: int | None = None


class TurnRecord(BaseModel):
    index: int
    kind: Literal["message", "lead"] = "message"
    channel: str
    at: str
    customer: str
    customer_id: str | None = None  # the record this message landed on (primary at the end of the run)
    replies: list[str] = Field(default_factory=list)
    suppressed: str | None = None
    latency_ms: float = 0.0
    intent: str | None = None
    brain: str | None = None
    prompt_version: str | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    capabilities: list[str] = Field(default_factory=list)
    disclosed: dict[str, Any] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)
    handoff_id: str | None = None
    guard_violations: list[str] = Field(default_factory=list)
    simulated: bool = False

    @property
    def reply_text(self) -> str:
        return "\n".join(self.replies)


class TrialResult(BaseModel):
    trial: int
    status: TrialStatus
    reason: str = ""
    user: Literal["scripted", "simulated", "none"] = "scripted"
    namespace: str = ""  # the run's dealer namespace (deleted when the run ends)
    expectations: list[ExpectationResult] = Field(default_factory=list)
    turns: list[TurnRecord] = Field(default_factory=list)
    end_state: dict[str, Any] = Field(default_factory=dict)
    duration_ms: float = 0.0
    tokens: dict[str, dict[str, int]] = Field(default_factory=dict)  # brain / simulator / judge
    cost_usd: float | None = None
    prompt_versions: list[str] = Field(default_factory=list)

    @property
    def failed_expectations(self) -> list[ExpectationResult]:
        return [e for e in self.expectations if e.status == "failed"]


class ScenarioResult(BaseModel):
    key: str
    suite: str
    id: str
    title: str
    file: str = ""
    line: int = 0
    tags: list[str] = Field(default_factory=list)
    definition: str = ""  # hash of the scenario as loaded: tells a diff when the scenario itself changed
    trials: list[TrialResult] = Field(default_factory=list)

    @property
    def skipped(self) -> bool:
        return bool(self.trials) and all(t.status == "skipped" for t in self.trials)

    @property
    def counted(self) -> list[TrialResult]:
        return [t for t in self.trials if t.status != "skipped"]

    @property
    def n(self) -> int:
        return len(self.counted)

    @property
    def c(self) -> int:
        return sum(1 for t in self.counted if t.status == "passed")

    @property
    def status(self) -> Status:
        if self.skipped or not self.counted:
            return "skipped"
        return "passed" if self.c == self.n else "failed"

    @property
    def skip_reason(self) -> str:
        return next((t.reason for t in self.trials if t.status == "skipped"), "")


class SuiteSummary(BaseModel):
    suite: str
    scenarios: int
    counted: int
    skipped: int
    all_passed: int  # scenarios whose every run passed
    pass_hat: dict[int, float] = Field(default_factory=dict)

    @property
    def pass_rate(self) -> float | None:
        return self.pass_hat.get(1)


class RunResult(BaseModel):
    schema_version: int = SCHEMA_VERSION
    run_id: str
    started_at: str
    finished_at: str = ""
    duration_s: float = 0.0
    git_commit: str = "unknown"
    git_dirty: bool = False  # uncommitted changes (e.g. a prompt being edited) were in the tree
    brain: str
    model: str | None = None
    prompt_label: str | None = None  # --prompt-version
    prompt_versions: list[str] = Field(default_factory=list)  # what the turns actually ran (name@version#hash)
    user_simulator: str = "scripted"  # scripted | llm:<model>
    judge: str = "off"  # off | llm:<model>
    k: int = 1
    jobs: int = 1
    selectors: list[str] = Field(default_factory=list)
    suites: list[SuiteSummary] = Field(default_factory=list)
    overall: SuiteSummary | None = None
    tokens: dict[str, dict[str, int]] = Field(default_factory=dict)
    cost_usd: float | None = None
    scenarios: list[ScenarioResult] = Field(default_factory=list)

    def scenario(self, key: str) -> ScenarioResult | None:
        return next((s for s in self.scenarios if s.key == key), None)

    def summarize(self) -> None:
        """(Re)compute the per-suite and overall pass^k from the scenario results."""
        by_suite: dict[str, list[ScenarioResult]] = {}
        for s in self.scenarios:
            by_suite.setdefault(s.suite, []).append(s)
        self.suites = [summarize(name, items) for name, items in by_suite.items()]
        self.overall = summarize("all", self.scenarios)
        tokens: dict[str, dict[str, int]] = {}
        cost = 0.0
        priced = False
        for s in self.scenarios:
            for t in s.trials:
                for who, usage in t.tokens.items():
                    acc = tokens.setdefault(who, {})
                    for key, value in usage.items():
                        acc[key] = acc.get(key, 0) + int(value)
                if t.cost_usd is not None:
                    cost += t.cost_usd
                    priced = True
                for v in t.prompt_versions:
                    if v not in self.prompt_versions:
                        self.prompt_versions.append(v)
        self.tokens = tokens
        self.cost_usd = round(cost, 6) if priced else None

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path


def summarize(name: str, scenarios: list[ScenarioResult]) -> SuiteSummary:
    counted = [s for s in scenarios if s.status != "skipped"]
    pass_hat: dict[int, float] = {}
    if counted:
        n_min = min(s.n for s in counted)
        for k in range(1, n_min + 1):
            value = mean_pass_hat([(s.n, s.c) for s in counted], k)
            if value is not None:
                pass_hat[k] = round(value, 6)
    return SuiteSummary(
        suite=name,
        scenarios=len(scenarios),
        counted=len(counted),
        skipped=len(scenarios) - len(counted),
        all_passed=sum(1 for s in counted if s.status == "passed"),
        pass_hat=pass_hat,
    )


def load_run(path: Path | str) -> RunResult:
    """A run's results from its directory or its results.json."""
    p = Path(path)
    if p.is_dir():
        p = p / "results.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no eval results at {p}") from None
    return RunResult.model_validate(data)
