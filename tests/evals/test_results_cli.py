"""Results, the HTML report, `diff`, the baseline check and the CLI wiring (no models loaded: the
runs are built here or the runner is replaced)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from evals import cli as eval_cli_module
from evals.baseline import baseline_from, check_baseline
from evals.diff import diff_runs
from evals.report import render_report
from evals.results import ExpectationResult, RunResult, ScenarioResult, TrialResult, TurnRecord, load_run

runner = CliRunner()


def _exp(eid: str, ok: bool, reason: str = "") -> ExpectationResult:
    return ExpectationResult(
        id=eid, kind="x", description=f"check {eid}", status="passed" if ok else "failed", reason="" if ok else reason
    )


def _trial(i: int, *checks: tuple[str, bool]) -> TrialResult:
    exps = [_exp(eid, ok, f"{eid} went wrong <b>") for eid, ok in checks]
    turns = [
        TurnRecord(
            index=1,
            channel="sms",
            at="2026-11-17T18:30:00-05:00",
            customer="any tacomas <3?",
            replies=["Yes: the 2019 Tacoma is $32,995."],
            latency_ms=12.0,
            brain="offline",
            capabilities=["inventory"],
        )
    ]
    failed = [e for e in exps if e.status == "failed"]
    return TrialResult(
        trial=i,
        status="failed" if failed else "passed",
        expectations=exps,
        turns=turns,
        reason="; ".join(f"{e.id}: {e.reason}" for e in failed),
    )


def _run(spec: dict[str, list[list[tuple[str, bool]]]], **kw: Any) -> RunResult:
    scenarios = []
    for key, trials in spec.items():
        suite, sid = key.split("/")
        scenarios.append(
            ScenarioResult(
                key=key,
                suite=suite,
                id=sid,
                title=f"title of {sid}",
                file="evals/suites/x.yaml",
                line=3,
                trials=[_trial(i, *checks) for i, checks in enumerate(trials)],
            )
        )
    run = RunResult(
        run_id=kw.pop("run_id", "r1"),
        started_at="2026-11-17T00:00:00+00:00",
        brain="offline",
        k=max(len(t) for t in spec.values()),
        scenarios=scenarios,
        **kw,
    )
    run.summarize()
    return run


A = _run(
    {
        "inventory/a": [[("expect.x", True), ("turn[1].forbid[0]", True)]],
        "inventory/b": [[("expect.x", False)]],
        "consent/c": [[("expect.y", True)]],
        "consent/gone": [[("expect.y", True)]],
    },
    run_id="A",
)
B = _run(
    {
        "inventory/a": [[("expect.x", True), ("turn[1].forbid[0]", False)]],  # regressed
        "inventory/b": [[("expect.x", True)]],  # fixed
        "consent/c": [[("expect.y", True)]],
        "consent/new": [[("expect.y", True)]],
    },
    run_id="B",
)


def test_report_is_self_contained_with_chart_failures_and_transcripts() -> None:
    html = render_report(B)
    assert html.startswith("<!doctype html>")
    assert "<svg" in html and ">inventory</text>" in html and ">consent</text>" in html
    # the failing expectation beside its transcript, escaped
    assert "turn[1].forbid[0] went wrong &lt;b&gt;" in html and "any tacomas &lt;3?" in html
    assert "Yes: the 2019 Tacoma is $32,995." in html
    # no external assets of any kind
    assert not re.search(r"<(script|link|img)\b|\bsrc=|@import|url\(", html)


def test_diff_finds_regressions_and_fixes() -> None:
    d = diff_runs(A, B)
    assert [c.key for c in d.regressions] == ["inventory/a"] and d.regressions[0].before == 1.0
    assert [c.key for c in d.fixes] == ["inventory/b"]
    assert [c.key for c in d.expectation_regressions] == ["inventory/a turn[1].forbid[0]"]
    assert "went wrong" in d.expectation_regressions[0].detail
    assert [c.key for c in d.expectation_fixes] == ["inventory/b expect.x"]
    assert d.added == ["consent/new"] and d.removed == ["consent/gone"] and d.regressed
    assert not diff_runs(A, A).regressed


def test_diff_flags_scenarios_whose_definition_changed() -> None:
    a, b = A.model_copy(deep=True), B.model_copy(deep=True)
    a.scenarios[2].definition, b.scenarios[2].definition = "aaa", "bbb"
    assert diff_runs(a, b).redefined == ["consent/c"]


def test_pass_rates_with_k_runs_show_flakiness_in_the_diff() -> None:
    steady = _run({"s/a": [[("e", True)]] * 4}, run_id="steady")
    flaky = _run({"s/a": [[("e", True)], [("e", False)], [("e", True)], [("e", True)]]}, run_id="flaky")
    assert flaky.overall is not None and flaky.overall.pass_hat == {1: 0.75, 2: 0.5, 3: 0.25, 4: 0.0}
    d = diff_runs(steady, flaky)
    assert d.regressions[0].before == 1.0 and d.regressions[0].after == 0.75


def test_baseline_check() -> None:
    baseline = baseline_from(A)
    assert baseline["suites"]["inventory"] == {
        "pass_rate": 0.5,
        "scenarios": 2,
        "passing": ["inventory/a"],
        "failing": ["inventory/b"],
    }
    same_rate = check_baseline(B, baseline)  # one fix and one regression: still 50% -> ok
    assert same_rate.ok
    assert next(s for s in same_rate.suites if s.suite == "inventory").newly_failing == ["inventory/a"]
    worse = _run({"inventory/a": [[("x", False)]], "inventory/b": [[("x", False)]]})
    verdict = check_baseline(worse, baseline)
    assert not verdict.ok and [s.suite for s in verdict.suites if not s.ok] == ["inventory"]
    assert check_baseline(worse, baseline, tolerance=0.5).ok
    other_brain = _run({"inventory/a": [[("x", True)]]})
    other_brain.brain = "llm"
    assert check_baseline(other_brain, baseline).problems


def test_shipped_baseline_matches_the_shipped_suites() -> None:
    from evals.baseline import load_baseline
    from evals.loader import load_suites

    baseline = load_baseline()
    assert baseline["brain"] == "offline"
    shipped = {s.suite: {x.key for x in s.scenarios} for s in load_suites()}
    assert set(baseline["suites"]) == set(shipped)
    for name, rec in baseline["suites"].items():
        assert 0.0 <= rec["pass_rate"] <= 1.0
        assert set(rec["passing"]) | set(rec["failing"]) <= shipped[name]


def _save(tmp_path: Path, run: RunResult) -> Path:
    return run.save(tmp_path / run.run_id / "results.json").parent


def test_cli_diff_exit_codes(tmp_path: Path) -> None:
    a, b = _save(tmp_path, A), _save(tmp_path, B)
    res = runner.invoke(eval_cli_module.app, ["diff", str(a), str(b)])
    assert res.exit_code == 1, res.output
    assert "Regressions (1)" in res.output and "inventory/a" in res.output and "Fixes (1)" in res.output
    res = runner.invoke(eval_cli_module.app, ["diff", str(a), str(a / "results.json")])
    assert res.exit_code == 0 and "no regressions" in res.output
    res = runner.invoke(eval_cli_module.app, ["diff", str(a), str(tmp_path / "nope")])
    assert res.exit_code == 2


def test_cli_run_writes_results_and_checks_the_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    async def fake_run_eval(suites: list[Any], options: Any, **kw: Any) -> RunResult:
        seen.update(suites=[s.suite for s in suites], options=options, **kw)
        return B

    import evals.runner

    monkeypatch.setattr(evals.runner, "run_eval", fake_run_eval)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(baseline_from(_run({"inventory/a": [[("x", True)]]}))))
    out = tmp_path / "out"
    # "eval inventory ..." is "eval run inventory ..."
    res = runner.invoke(
        eval_cli_module.app,
        [
            "inventory",
            "-k",
            "2",
            "--jobs",
            "3",
            "--out",
            str(out),
            "--no-progress",
            "--no-cache",
            "--check-baseline",
            "--baseline",
            str(baseline),
            "--prompt-version",
            "v2-short",
        ],
    )
    assert res.exit_code == 1, res.output  # inventory dropped from 100% to 50%
    assert "BELOW BASELINE" in res.output and "was passing, now failing: inventory/a" in res.output
    assert seen["suites"] == ["inventory"] and seen["cache_dir"] is None
    opts = seen["options"]
    assert (opts.k, opts.jobs, opts.prompt_label, opts.simulator, opts.judge) == (2, 3, "v2-short", None, None)
    assert load_run(out).run_id == "B" and (out / "report.html").exists()

    res = runner.invoke(
        eval_cli_module.app,
        ["run", "inventory", "--out", str(out), "--no-progress", "--update-baseline", "--baseline", str(baseline)],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(baseline.read_text())["suites"]["inventory"]["pass_rate"] == 0.5


def test_cli_reports_invalid_suites_with_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("suite: bad\nscenarios:\n  - id: a\n    title: t\n    turns: [{say: hi}]\n    expect: {nope: 1}\n")
    res = runner.invoke(eval_cli_module.app, [str(bad), "--no-progress"])
    assert res.exit_code == 2 and f"{bad}:6:" in res.output and "expect.nope" in res.output


def test_cli_llm_brain_needs_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    res = runner.invoke(eval_cli_module.app, ["consent", "--brain", "llm", "--no-progress"])
    assert res.exit_code == 2 and "OPENAI_API_KEY" in res.output


def test_the_app_mounts_as_a_subcommand() -> None:
    """How server.py mounts it: `dealeros eval …` and `dealeros eval diff …` both route."""
    root = typer.Typer()

    @root.command()
    def serve() -> None:  # a sibling command, as in server.py
        pass

    root.add_typer(eval_cli_module.app, name="eval")
    res = runner.invoke(root, ["eval", "--help"])
    assert res.exit_code == 0 and "diff" in res.output and "run" in res.output
    res = runner.invoke(root, ["eval", "diff", "--help"])
    assert res.exit_code == 0 and "RUN_A" in res.output
    res = runner.invoke(root, ["eval", "--brain", "llm", "--help"])
    assert res.exit_code == 0 and "--check-baseline" in res.output
