"""The HTML report of a run: one self-contained file (inline CSS and SVG, no external assets).

Summary with a bar chart of pass^1 per suite, then every failing scenario with its failing
expectations (and why) beside the transcript, then skipped and passing scenarios.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from jinja2 import DictLoader, Environment, select_autoescape

from evals.results import RunResult, ScenarioResult, SuiteSummary, TrialResult

HERE = Path(__file__).resolve().parent


def _color(rate: float) -> str:
    return "#1a7f37" if rate >= 0.9 else "#bf8700" if rate >= 0.6 else "#cf222e"


def bar_chart(suites: list[SuiteSummary], *, width: int = 640) -> str:
    """Inline SVG: one horizontal bar per suite, its pass^1 as a percentage."""
    rows = [s for s in suites if s.pass_rate is not None]
    if not rows:
        return "<p class='meta'>No scored scenarios.</p>"
    label_w, bar_w, row_h = 150, width - 150 - 60, 24
    height = row_h * len(rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="pass rate per suite" font-family="sans-serif" font-size="12">'
    ]
    for i, s in enumerate(rows):
        rate = s.pass_rate or 0.0
        y = 5 + i * row_h
        w = max(1.0, bar_w * rate)
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{escape(s.suite)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 8}" fill="#eaeef2"/>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{_color(rate)}">'
            f"<title>{escape(s.suite)}: {rate:.1%} ({s.counted} scored)</title></rect>"
        )
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 15}">{100 * rate:.0f}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def _shown_trial(s: ScenarioResult) -> TrialResult:
    """The run to show for a failing scenario: its first failing (or crashed) run."""
    return next((t for t in s.trials if t.status in {"failed", "error"}), s.trials[0])


def render_report(run: RunResult) -> str:
    env = Environment(
        loader=DictLoader(
            {
                "report": (HERE / "report.html.j2").read_text(encoding="utf-8"),
                "transcript": (HERE / "transcript.html.j2").read_text(encoding="utf-8"),
            }
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    failing = [(s, _shown_trial(s)) for s in run.scenarios if s.status == "failed"]
    ks = sorted({k for s in run.suites for k in s.pass_hat})
    return env.get_template("report").render(
        run=run,
        suites=run.suites,
        ks=ks,
        chart=bar_chart(run.suites),
        failing=failing,
        skipped=[s for s in run.scenarios if s.status == "skipped"],
        passing=[s for s in run.scenarios if s.status == "passed"],
    )


def write_report(run: RunResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(run), encoding="utf-8")
    return path
