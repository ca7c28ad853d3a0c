"""Load suite files: YAML -> validated `Suite`s, with every problem reported as `file:line: what`.

PyYAML's composed node tree keeps each value's position, so a pydantic error location such as
`scenarios.3.expect.appointments.0.vin` is walked back to the line a person has to fix.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from evals.scenario import Scenario, Suite

SUITES_DIR = Path(__file__).resolve().parent / "suites"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class SuiteError(ValueError):
    """One or more suite files are invalid; `problems` says where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# --- node positions -------------------------------------------------------------------------------


def _child(node: yaml.Node | None, part: str | int) -> tuple[yaml.Node | None, int | None]:
    """The child of `node` at `part`, and the line of its key (mappings) when there is one."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                return value, key.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item, item.start_mark.line + 1
    return None, None


def line_of(node: yaml.Node, loc: Iterable[str | int]) -> int:
    """The line of the deepest node `loc` reaches (pydantic's union/validator markers are skipped)."""
    line = node.start_mark.line + 1
    current: yaml.Node | None = node
    for part in loc:
        child, key_line = _child(current, part)
        if child is None:
            continue  # e.g. "str", "Regex", "function-after[...]" in a union's location
        current = child
        line = key_line or child.start_mark.line + 1
    return line


def _where(loc: Iterable[str | int]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or p[:1].isupper() or p in {"str"}))]
    return ".".join(parts)


def _problems(file: str, node: yaml.Node, exc: ValidationError, prefix: str = "") -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        loc = err.get("loc", ())
        where = _where(loc)
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        label = f"{prefix}{where}: " if where else prefix
        out.append(Problem(file, line_of(node, loc), f"{label}{msg}"))
    return out


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` wins; nested mappings merge; lists and scalars are replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --- loading --------------------------------------------------------------------------------------


def load_suite(path: Path | str) -> Suite:
    """One suite file. Raises SuiteError listing every problem found in it."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError([Problem(file, 0, f"cannot read: {exc}")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise SuiteError([Problem(file, line, f"not valid YAML: {exc.problem or exc}")]) from None
    if node is None or not isinstance(data, dict):
        raise SuiteError([Problem(file, 1, "a suite file is a mapping with `suite:` and `scenarios:`")])

    problems: list[Problem] = []
    unknown = set(data) - {"suite", "description", "defaults", "scenarios"}
    for key in sorted(unknown):
        problems.append(
            Problem(file, line_of(node, [key]), f"unknown key {key!r} (suite, description, defaults, scenarios)")
        )
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(Problem(file, line_of(node, ["defaults"]), "defaults: must be a mapping"))
        defaults = {}
    raw_scenarios = data.get("scenarios")
    if not isinstance(raw_scenarios, list) or not raw_scenarios:
        problems.append(Problem(file, line_of(node, ["scenarios"]), "scenarios: a non-empty list is required"))
        raise SuiteError(problems)
    suite_name = data.get("suite") or path.stem

    scenarios: list[Scenario] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_scenarios):
        s_node, _ = _child(node, "scenarios")
        item_node, line = _child(s_node, i)
        assert item_node is not None and line is not None
        if not isinstance(raw, dict):
            problems.append(Problem(file, line, f"scenarios.{i}: each scenario is a mapping"))
            continue
        sid = raw.get("id", f"#{i}")
        merged = deep_merge(defaults, raw)
        try:
            scenario = Scenario.model_validate(merged)
        except ValidationError as exc:
            problems += _problems(file, item_node, exc, prefix=f"scenario {sid!r}: ")
            continue
        if scenario.id in seen:
            problems.append(Problem(file, line, f"scenario {sid!r}: duplicate id (first on line {seen[scenario.id]})"))
            continue
        seen[scenario.id] = line
        scenario.suite, scenario.file, scenario.line = str(suite_name), file, line
        scenarios.append(scenario)
    try:
        suite = Suite.model_validate(
            {
                "suite": suite_name,
                "description": data.get("description") or "",
                "defaults": defaults,
                "scenarios": [],
                "file": file,
            }
        )
    except ValidationError as exc:
        problems += _problems(file, node, exc)
        raise SuiteError(problems) from None
    if problems:
        raise SuiteError(problems)
    suite.scenarios = scenarios
    return suite


def suite_files(selectors: Sequence[str] = (), suites_dir: Path = SUITES_DIR) -> list[Path]:
    """Files for `selectors`: suite names (`inventory`), YAML files or directories; none = every
    shipped suite."""
    if not selectors:
        return sorted(suites_dir.glob("*.yaml"))
    out: list[Path] = []
    for sel in selectors:
        p = Path(sel)
        if p.is_dir():
            out += sorted(p.glob("*.yaml"))
        elif p.suffix in {".yaml", ".yml"}:
            if not p.exists():
                raise SuiteError([Problem(sel, 0, "no such suite file")])
            out.append(p)
        else:
            named = suites_dir / f"{sel}.yaml"
            if not named.exists():
                known = ", ".join(f.stem for f in sorted(suites_dir.glob("*.yaml")))
                raise SuiteError([Problem(str(named), 0, f"no suite named {sel!r}; shipped suites: {known}")])
            out.append(named)
    return list(dict.fromkeys(out))


def load_suites(selectors: Sequence[str] = (), suites_dir: Path = SUITES_DIR) -> list[Suite]:
    """Every selected suite; problems from all files are reported together."""
    suites: list[Suite] = []
    problems: list[Problem] = []
    for path in suite_files(selectors, suites_dir):
        try:
            suites.append(load_suite(path))
        except SuiteError as exc:
            problems += exc.problems
    names: dict[str, str] = {}
    for s in suites:
        if s.suite in names:
            problems.append(Problem(s.file, 1, f"suite name {s.suite!r} is also used by {names[s.suite]}"))
        names[s.suite] = s.file
    if problems:
        raise SuiteError(problems)
    return suites
