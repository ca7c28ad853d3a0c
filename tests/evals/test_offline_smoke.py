"""Smoke run: shipped scenarios with the real offline brain, through the whole runner."""

from __future__ import annotations

import pytest

from evals.brains import BrainSpec
from evals.loader import load_suites
from evals.report import render_report
from evals.runner import RunOptions, run_eval

pytestmark = pytest.mark.asyncio(loop_scope="session")

SHIPPED = ["test_drives/used-tacoma-wed-10am", "consent/stop-keyword", "inventory/stock-number-details"]


async def test_shipped_scenarios_pass_with_the_offline_brain(eval_env) -> None:
    suites = load_suites(["test_drives", "consent", "inventory"])
    for s in suites:
        s.scenarios = [x for x in s.scenarios if x.key in SHIPPED]
    result = await run_eval(suites, RunOptions(brain=BrainSpec("offline"), k=1, jobs=3), env=eval_env)
    assert result.brain == "offline" and result.git_commit
    by_key = {s.key: s for s in result.scenarios}
    for key in SHIPPED:
        t = by_key[key].trials[0]
        assert t.status == "passed", f"{key}: {t.reason}"
    tacoma = by_key["test_drives/used-tacoma-wed-10am"].trials[0]
    assert tacoma.prompt_versions and tacoma.prompt_versions[0].startswith("offline/templates.yaml@")
    assert tacoma.end_state["appointments"][0]["vin"] == "3TMCZ5AN2KM387595"
    assert {"inventory", "booking"} <= {c for turn in tacoma.turns for c in turn.capabilities}
    assert all(turn.latency_ms > 0 for turn in tacoma.turns)
    assert result.overall is not None and result.overall.pass_hat == {1: 1.0}
    assert "used-tacoma-wed-10am" in render_report(result)
