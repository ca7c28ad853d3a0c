"""Compare two runs: what got better, what got worse — per scenario and per expectation.

A scenario *regressed* when its pass rate (passed runs / scored runs) went down, and was *fixed*
when it went up. Inside scenarios present in both runs, an expectation regressed when the share of
runs in which it held went down (so a scenario that was already failing can still regress on a new
expectation). Scenarios only in one run are listed as added/removed, never as regressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evals.results import RunResult, ScenarioResult


@dataclass
class Change:
    key: str  # scenario key, or scenario key + " " + expectation id
    before: float | None
    after: float | None
    detail: str = ""


@dataclass
class RunDiff:
    a: RunResult
    b: RunResult
    regressions: list[Change] = field(default_factory=list)
    fixes: list[Change] = field(default_factory=list)
    expectation_regressions: list[Change] = field(default_factory=list)
    expectation_fixes: list[Change] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    redefined: list[str] = field(default_factory=list)  # the scenario itself changed between the runs
    suites: list[tuple[str, float | None, float | None]] = field(default_factory=list)  # pass^1 before/after

    @property
    def regressed(self) -> bool:
        return bool(self.regressions or self.expectation_regressions)


def _rate(s: ScenarioResult) -> float | None:
    return None if s.status == "skipped" else s.c / s.n


def _expectation_rates(s: ScenarioResult) -> dict[str, tuple[float, str, str]]:
    """id -> (share of scored runs in which it passed, description, a failure reason)."""
    seen: dict[str, list[bool]] = {}
    info: dict[str, tuple[str, str]] = {}
    for t in s.counted:
        for e in t.expectations:
            if e.status == "skipped":
                continue
            seen.setdefault(e.id, []).append(e.status == "passed")
            desc, reason = info.get(e.id, (e.description, ""))
            info[e.id] = (desc, reason or (e.reason if e.status == "failed" else ""))
    return {k: (sum(v) / len(v), *info[k]) for k, v in seen.items()}


def diff_runs(a: RunResult, b: RunResult) -> RunDiff:
    d = RunDiff(a, b)
    a_map = {s.key: s for s in a.scenarios}
    b_map = {s.key: s for s in b.scenarios}
    d.added = sorted(set(b_map) - set(a_map))
    d.removed = sorted(set(a_map) - set(b_map))
    for key in sorted(set(a_map) & set(b_map)):
        sa, sb = a_map[key], b_map[key]
        if sa.definition and sb.definition and sa.definition != sb.definition:
            d.redefined.append(key)
        ra, rb = _rate(sa), _rate(sb)
        if ra is not None and rb is not None and rb != ra:
            failing = next((t for t in sb.counted if t.status != "passed"), None)
            detail = failing.reason if failing is not None and rb < ra else ""
            (d.regressions if rb < ra else d.fixes).append(Change(key, ra, rb, detail))
        ea, eb = _expectation_rates(sa), _expectation_rates(sb)
        for eid in sorted(set(ea) & set(eb)):
            (pa, desc, _), (pb, _, reason) = ea[eid], eb[eid]
            if pb < pa:
                d.expectation_regressions.append(Change(f"{key} {eid}", pa, pb, f"{desc} — {reason}"))
            elif pb > pa:
                d.expectation_fixes.append(Change(f"{key} {eid}", pa, pb, desc))
    a_suites = {s.suite: s.pass_rate for s in a.suites}
    b_suites = {s.suite: s.pass_rate for s in b.suites}
    for name in sorted(set(a_suites) | set(b_suites)):
        d.suites.append((name, a_suites.get(name), b_suites.get(name)))
    return d
