"""The recorded pass rate per suite (evals/baseline.json) and the CI check against it.

The baseline is pass^1 per suite for one brain (the offline brain in CI), with the scenarios that
passed then, so a drop can be explained scenario by scenario. A suite fails the check when its
pass^1 is below the recorded rate minus the tolerance. Scenarios the brain fails today are part of
the recorded rate, not deleted: fixing them raises the bar (`--update-baseline`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.results import RunResult

BASELINE_PATH = Path(__file__).resolve().parent / "baseline.json"


@dataclass
class SuiteCheck:
    suite: str
    baseline: float
    current: float | None
    ok: bool
    newly_failing: list[str] = field(default_factory=list)


@dataclass
class BaselineCheck:
    brain: str
    suites: list[SuiteCheck]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(s.ok for s in self.suites)


def load_baseline(path: Path = BASELINE_PATH) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"no baseline at {path}; record one with --update-baseline") from None


def check_baseline(run: RunResult, baseline: dict[str, Any], *, tolerance: float = 0.0) -> BaselineCheck:
    problems = []
    if baseline.get("brain") != run.brain:
        problems.append(f"the baseline was recorded for the {baseline.get('brain')} brain, this run used {run.brain}")
    current = {s.suite: s for s in run.suites}
    by_scenario = {s.key: s for s in run.scenarios}
    checks = []
    for name, rec in sorted((baseline.get("suites") or {}).items()):
        if name not in current:
            continue  # not run this time (a subset was selected)
        rate = current[name].pass_rate
        floor = float(rec["pass_rate"]) - tolerance
        ok = rate is not None and rate + 1e-9 >= floor
        newly = [key for key in rec.get("passing", []) if key in by_scenario and by_scenario[key].status == "failed"]
        checks.append(SuiteCheck(name, float(rec["pass_rate"]), rate, ok, newly))
    return BaselineCheck(brain=run.brain, suites=checks, problems=problems)


def baseline_from(run: RunResult) -> dict[str, Any]:
    suites: dict[str, Any] = {}
    for s in run.suites:
        if s.pass_rate is None:
            continue
        members = [x for x in run.scenarios if x.suite == s.suite]
        suites[s.suite] = {
            "pass_rate": math.floor(s.pass_rate * 10_000) / 10_000,  # rounded down: the run itself passes
            "scenarios": s.counted,
            "passing": sorted(x.key for x in members if x.status == "passed"),
            "failing": sorted(x.key for x in members if x.status == "failed"),
        }
    return {
        "brain": run.brain,
        "model": run.model,
        "recorded_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "git_commit": run.git_commit,
        "runs_per_scenario": run.k,
        "note": "pass^1 per suite; `dealeros eval --check-baseline` fails when a suite drops below it.",
        "suites": suites,
    }


def write_baseline(run: RunResult, path: Path = BASELINE_PATH) -> Path:
    path.write_text(json.dumps(baseline_from(run), indent=2) + "\n", encoding="utf-8")
    return path
