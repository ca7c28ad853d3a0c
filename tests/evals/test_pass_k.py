"""pass^k arithmetic (tau-bench): C(c, k) / C(n, k) per scenario, averaged over scenarios."""

from __future__ import annotations

import math

import pytest

from evals.results import ScenarioResult, TrialResult, mean_pass_hat, pass_hat_k, summarize


def test_pass_hat_k_single_scenario() -> None:
    # 3 of 4 runs passed: pass^1 = 3/4, pass^2 = C(3,2)/C(4,2) = 3/6, pass^3 = 1/4, pass^4 = 0
    assert [pass_hat_k(4, 3, k) for k in (1, 2, 3, 4)] == [0.75, 0.5, 0.25, 0.0]
    assert pass_hat_k(4, 4, 4) == 1.0
    assert pass_hat_k(5, 0, 1) == 0.0
    assert pass_hat_k(10, 7, 3) == pytest.approx(math.comb(7, 3) / math.comb(10, 3))


def test_pass_hat_k_rejects_impossible_counts() -> None:
    for n, c, k in ((3, 1, 4), (3, 4, 1), (3, 1, 0)):
        with pytest.raises(ValueError):
            pass_hat_k(n, c, k)


def test_mean_over_scenarios() -> None:
    # a reliable scenario (4/4) and a coin flip (2/4): pass^1 = (1 + .5)/2, pass^2 = (1 + 1/6)/2
    assert mean_pass_hat([(4, 4), (4, 2)], 1) == 0.75
    assert mean_pass_hat([(4, 4), (4, 2)], 2) == pytest.approx((1 + 1 / 6) / 2)
    assert mean_pass_hat([], 1) is None


def _scenario(key: str, statuses: list[str]) -> ScenarioResult:
    suite, sid = key.split("/")
    return ScenarioResult(
        key=key,
        suite=suite,
        id=sid,
        title=sid,
        trials=[TrialResult(trial=i, status=s) for i, s in enumerate(statuses)],  # type: ignore[arg-type]
    )


def test_summary_counts_errors_as_failures_and_leaves_skips_out() -> None:
    scenarios = [
        _scenario("s/a", ["passed", "passed", "passed"]),
        _scenario("s/b", ["passed", "error", "failed"]),
        _scenario("s/c", ["skipped", "skipped", "skipped"]),
    ]
    s = summarize("s", scenarios)
    assert (s.scenarios, s.counted, s.skipped, s.all_passed) == (3, 2, 1, 1)
    assert s.pass_hat[1] == pytest.approx((1 + 1 / 3) / 2)
    assert s.pass_hat[2] == pytest.approx((1 + 0) / 2)
    assert s.pass_hat[3] == pytest.approx(0.5)
    assert scenarios[1].status == "failed" and scenarios[2].status == "skipped"


def test_summary_of_only_skipped_scenarios_has_no_rate() -> None:
    s = summarize("s", [_scenario("s/c", ["skipped"])])
    assert s.pass_hat == {} and s.pass_rate is None
