"""What every benchmark shares: latency statistics, result rows, the summary table, the JSON file.

A benchmark returns a `BenchResult`: summary `Row`s (figure, value, target, baseline, ratio, met?)
for the one table `python -m bench` prints, plus `details` (every raw figure) for the JSON file.
Latencies are kept in seconds and shown in milliseconds.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
NOISE_NOTE = (
    "Shared 2-core machine with other work running: figures are percentiles over many iterations, "
    "and each ratio compares with a baseline measured in the same run."
)


# --- statistics ---------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); `q` in 0..100."""
    if not values:
        return math.nan
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


@dataclass
class Stats:
    """Latency summary in milliseconds."""

    n: int
    p50: float
    p95: float
    p99: float
    mean: float
    min: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Stats:
        ms = [s * 1000 for s in seconds]
        if not ms:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
        return cls(
            n=len(ms),
            p50=percentile(ms, 50),
            p95=percentile(ms, 95),
            p99=percentile(ms, 99),
            mean=sum(ms) / len(ms),
            min=min(ms),
            max=max(ms),
        )

    def brief(self, *which: str) -> str:
        which = which or ("p50", "p99")
        return " / ".join(f"{fmt_ms(getattr(self, w))}" for w in which) + f" ({'/'.join(which)}, n={self.n})"


def fmt_ms(ms: float) -> str:
    if math.isnan(ms):
        return "-"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def fmt_bytes(n: float) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def ratio(baseline: float, value: float) -> float:
    """How many times `value` is better (smaller) than `baseline`."""
    if not value or math.isnan(value) or math.isnan(baseline):
        return math.nan
    return baseline / value


def fmt_ratio(r: float, *, kind: str = "faster") -> str:
    if math.isnan(r):
        return "-"
    return f"{r:.1f}× {kind}" if r >= 1 else f"{1 / r:.1f}× {'slower' if kind == 'faster' else 'more'}"


# --- results ------------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of the summary table."""

    figure: str
    value: str
    target: str = ""
    baseline: str = ""
    ratio: str = ""
    met: bool | None = None  # None: informational, no target


@dataclass
class BenchResult:
    number: int
    name: str
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0

    def add(self, *args: Any, **kwargs: Any) -> Row:
        row = Row(*args, **kwargs)
        self.rows.append(row)
        return row

    @property
    def all_met(self) -> bool | None:
        verdicts = [r.met for r in self.rows if r.met is not None]
        return None if not verdicts else all(verdicts)


def environment() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except Exception:
        commit = ""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python_speed_ms": python_speed_ms(),
        "commit": commit,
    }


@functools.cache  # measured once per run (the JSON and the printed summary show the same figure)
def python_speed_ms() -> float:
    """A fixed pure-Python workload (a 10^6-step loop), best of 5, in ms: how fast this machine runs
    the interpreter, to relate absolute figures from different machines (lower is faster)."""
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return round(best * 1000, 1)


def print_summary(results: list[BenchResult], *, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title="DealerOS benchmarks", show_lines=False)
    for col in ("#", "figure", "DealerOS", "target", "baseline", "ratio", "met?"):
        table.add_column(col, overflow="fold")
    for res in results:
        if res.skipped:
            table.add_row(str(res.number), res.name, f"skipped: {res.skipped}", "", "", "", "")
            continue
        for i, row in enumerate(res.rows):
            met = {True: "[green]yes[/]", False: "[red]NO[/]", None: ""}[row.met]
            table.add_row(str(res.number) if i == 0 else "", row.figure, row.value, row.target, row.baseline,
                          row.ratio, met)  # fmt: skip
        table.add_section()
    console.print(table)
    console.print(NOISE_NOTE, style="dim")
    console.print(f"Python speed reference: a 10^6-step loop takes {python_speed_ms()} ms here (lower is faster).",
                  style="dim")  # fmt: skip
    for res in results:
        for note in res.notes:
            console.print(f"[bold]{res.number}.[/] {note}")


def write_json(results: list[BenchResult], *, args: dict[str, Any], path: Path | None = None) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = path or RESULTS_DIR / f"{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "at": dt.datetime.now(dt.UTC).isoformat(),
        "args": args,
        "environment": environment(),
        "note": NOISE_NOTE,
        "benchmarks": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(_finite(doc), indent=2, default=_json_default) + "\n")
    return path


def _finite(value: Any) -> Any:
    """NaN (an empty sample) becomes null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, Path):
        return str(value)
    return str(value)
